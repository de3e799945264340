"""Batching for every stage. Paired records carry two node sets: graph nodes (heavy atoms,
`x`/`edge_index`) and conformer atoms (`z`/`pos`, hydrogens included). PyG's `follow_batch`
gives the atoms their own batch vector `z_batch`, so the teacher and student see one batch."""

from __future__ import annotations

from typing import Sequence

import torch
from torch_geometric.data import Data
from torch_geometric.loader import DataLoader


def make_loader(records: Sequence[Data], batch_size: int, shuffle: bool = False, seed: int = 0,
                num_workers: int = 0, drop_last: bool = False) -> DataLoader:
    generator = torch.Generator().manual_seed(seed) if shuffle else None
    follow = ["z"] if len(records) and "z" in records[0] else None
    return DataLoader(records, batch_size=batch_size, shuffle=shuffle, generator=generator,
                      num_workers=num_workers, drop_last=drop_last, follow_batch=follow,
                      persistent_workers=num_workers > 0)
