"""Batching for every stage. Paired records carry two node sets: graph nodes (heavy atoms,
`x`/`edge_index`) and conformer atoms (`z`/`pos`, hydrogens included). PyG's `follow_batch`
gives the atoms their own batch vector `z_batch`, so the teacher and student see one batch."""

from __future__ import annotations

from typing import Sequence

import torch
from torch.utils.data import Sampler
from torch_geometric.data import Data
from torch_geometric.loader import DataLoader


class EpochShuffle(Sampler[int]):
    """A permutation that depends only on (seed, epoch), like DistributedSampler's.

    A generator seeded once and advanced by each epoch would give a resumed run epoch 0's order
    again (its state is not in the checkpoint); Lightning calls `set_epoch` before every epoch,
    so a run resumed at epoch k sees exactly the order an uninterrupted run sees. Without
    `set_epoch` calls (a plain loop) each pass moves on to the next epoch's order."""

    def __init__(self, n: int, seed: int = 0):
        self.n, self.seed, self.epoch = n, seed, 0
        self.current_epoch, self.start = 0, 0   # of the iteration in progress
        self._resume: tuple[int, int] | None = None

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def resume_at(self, epoch: int, start: int) -> None:
        """The next iteration, if it is epoch `epoch`, begins at position `start` of its order."""
        self._resume = (epoch, start)

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        self.current_epoch = epoch = self.epoch
        self.epoch += 1
        self.start = self._resume[1] if self._resume and self._resume[0] == epoch else 0
        self._resume = None
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        return iter(torch.randperm(self.n, generator=g)[self.start:].tolist())


class ResumableLoader(DataLoader):
    """A shuffled loader whose position inside the epoch is saved in Lightning checkpoints
    (`state_dict`/`load_state_dict`, which Lightning calls for the training loader), so a run
    resumed from a mid-epoch checkpoint continues with the batches the interrupted run had not
    yet seen, in the same order, instead of starting the epoch's order over."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._yielded = 0

    def __iter__(self):
        self._yielded = 0
        for batch in super().__iter__():
            self._yielded += 1
            yield batch

    def state_dict(self) -> dict:
        return {"epoch": self.sampler.current_epoch,
                "batches": self.sampler.start // self.batch_size + self._yielded}

    def load_state_dict(self, state: dict) -> None:
        self.sampler.resume_at(int(state["epoch"]), int(state["batches"]) * self.batch_size)


def make_loader(records: Sequence[Data], batch_size: int, shuffle: bool = False, seed: int = 0,
                num_workers: int = 0, drop_last: bool = False) -> DataLoader:
    sampler = EpochShuffle(len(records), seed) if shuffle else None
    follow = ["z"] if len(records) and "z" in records[0] else None
    # Its own generator: otherwise every `iter(loader)` draws a worker base seed from the global
    # RNG, at points that differ between a resumed run and an uninterrupted one.
    cls = ResumableLoader if shuffle else DataLoader
    return cls(records, batch_size=batch_size, sampler=sampler, generator=torch.Generator().manual_seed(seed),
                      num_workers=num_workers, drop_last=drop_last, follow_batch=follow,
                      persistent_workers=num_workers > 0)
