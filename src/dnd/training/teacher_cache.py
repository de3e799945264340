"""Teacher feature cache: run the frozen teacher once over a corpus, then distill from disk.

The teacher is frozen during distillation, so its outputs for a molecule never change; computing
them every epoch wastes most of a distillation step on the 3D model. The cache stores, per
molecule, exactly what the objectives read (`dnd.objectives.distill.TeacherTargets`):

    node.npy     [total graph nodes, d]  teacher features of the atoms that are graph nodes,
                                         molecule after molecule (rows offsets[i]:offsets[i+1])
    pooled.npy   [n molecules, d]        teacher features averaged over all conformer atoms
    offsets.npy  [n molecules + 1]       int64 row offsets into node.npy
    meta.json                            format version, dtype, width, and fingerprints of the
                                         teacher weights and of the corpus (z, pos, atom_is_node)

Plain `.npy` files open as read-only memory maps, so a corpus larger than RAM costs only page
cache. The directory is written under a temporary name and renamed into place, so a crash never
leaves a half-written cache that looks valid.

A cache folder given by the user (`--feature-cache`) may be shared by concurrent runs, so it is
content-addressed and write-once: each (teacher, corpus, dtype) gets its own subfolder named by
their fingerprints, and a finished subfolder is never replaced. Two runs on different corpora
therefore never read each other's features, and two on the same corpus at worst both compute
it, the first to finish publishing and the other discarding its identical copy.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset
from torch_geometric.data import Data

from dnd.errors import UsageError
from dnd.data.loader import make_loader
from dnd.models.teacher import Teacher
from dnd.objectives.distill import TeacherTargets, teacher_targets
from dnd.teachers.cache import read_meta
from dnd.training.config import CACHE_DTYPES

CACHE_VERSION = 1
_FILES = ("node.npy", "pooled.npy", "offsets.npy")


class CacheError(RuntimeError):
    """A teacher cache is missing, incomplete, or does not belong to this teacher and corpus."""


def teacher_fingerprint(teacher: Teacher) -> str:
    """sha256 of the teacher's config and weights: equal fingerprints give equal features."""
    h = hashlib.sha256(json.dumps(teacher.config.to_dict(), sort_keys=True).encode())
    for name, tensor in sorted(teacher.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def corpus_fingerprint(records: Sequence[Data]) -> str:
    """sha256 over what the teacher reads (z, pos) and what the cache layout depends on
    (atom_is_node), molecule by molecule in order."""
    h = hashlib.sha256()
    for r in records:
        for t in (r.z, r.atom_is_node, r.pos):
            h.update(t.detach().cpu().contiguous().numpy().tobytes())
        h.update(b"|")
    return h.hexdigest()


def _node_offsets(records: Sequence[Data]) -> np.ndarray:
    counts = np.fromiter((int(r.num_nodes) for r in records), dtype=np.int64, count=len(records))
    return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


@torch.no_grad()
def write_teacher_cache(teacher: Teacher, records: Sequence[Data], out_dir: str | Path,
                        batch_size: int = 128, dtype: str = "float32",
                        device: str | torch.device = "cpu", log=print) -> Path:
    """Runs `teacher` (frozen) over `records` and writes the cache directory atomically."""
    if dtype not in CACHE_DTYPES:
        raise UsageError(f"cache dtype {dtype!r}: choose from {', '.join(CACHE_DTYPES)}")
    if not records:
        raise UsageError("cannot build a teacher cache for an empty corpus")
    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    teacher = teacher.freeze().to(device)
    d = teacher.hidden_dim
    offsets = _node_offsets(records)
    node = np.lib.format.open_memmap(tmp / "node.npy", mode="w+", dtype=dtype, shape=(int(offsets[-1]), d))
    pooled = np.lib.format.open_memmap(tmp / "pooled.npy", mode="w+", dtype=dtype, shape=(len(records), d))
    start, t0 = 0, time.perf_counter()
    loader = make_loader(records, batch_size)
    report_every = max(1, len(loader) // 10)
    for step, batch in enumerate(loader, 1):
        batch = batch.to(device)
        targets = teacher_targets(teacher.encode(batch), batch)
        stop = start + batch.num_graphs
        node[offsets[start]:offsets[stop]] = targets.node.cpu().numpy().astype(dtype)
        pooled[start:stop] = targets.pooled_all.cpu().numpy().astype(dtype)
        start = stop
        if step % report_every == 0 and step < len(loader):
            log(f"teacher cache: {stop}/{len(records)} molecules, {stop / (time.perf_counter() - t0):.1f}/s")
    node.flush()
    pooled.flush()
    del node, pooled
    np.save(tmp / "offsets.npy", offsets)
    meta = {"version": CACHE_VERSION, "dtype": dtype, "dim": d, "num_molecules": len(records),
            "num_nodes": int(offsets[-1]), "teacher": teacher_fingerprint(teacher),
            "corpus": corpus_fingerprint(records), "teacher_config": teacher.config.to_dict(),
            "seconds": round(time.perf_counter() - t0, 2)}
    (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
    try:
        os.rename(tmp, out)  # fails when a concurrent writer published this folder first
    except OSError:
        if not (out / "meta.json").is_file():
            raise
        shutil.rmtree(tmp, ignore_errors=True)
        log(f"teacher cache: {out} was written by another run meanwhile; using that one")
        return out
    log(f"teacher cache: {len(records)} molecules, {int(offsets[-1])} node rows x {d} ({dtype}) "
        f"written to {out} in {meta['seconds']} s")
    return out


class TeacherFeatureCache:
    """Read-only, memory-mapped view of a cache directory."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.meta = read_meta(self.path, CACHE_VERSION, _FILES, CacheError)
        self.offsets = np.load(self.path / "offsets.npy")
        self.dim = int(self.meta["dim"])
        self._node = self._pooled = None  # opened lazily, so the object pickles into workers

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getstate__(self):
        return {**self.__dict__, "_node": None, "_pooled": None}

    def _open(self) -> None:
        if self._node is None:
            self._node = np.load(self.path / "node.npy", mmap_mode="r")
            self._pooled = np.load(self.path / "pooled.npy", mmap_mode="r")

    def node(self, i: int) -> torch.Tensor:
        """[n_nodes of molecule i, d] float32 (a copy: the map itself is read-only)."""
        self._open()
        return torch.from_numpy(np.array(self._node[self.offsets[i]:self.offsets[i + 1]], dtype=np.float32))

    def pooled(self, i: int) -> torch.Tensor:
        """[1, d] float32."""
        self._open()
        return torch.from_numpy(np.array(self._pooled[i:i + 1], dtype=np.float32))

    def matches(self, teacher_fp: str, records: Sequence[Data]) -> bool:
        return (self.meta.get("teacher") == teacher_fp and len(self) == len(records)
                and self.meta.get("corpus") == corpus_fingerprint(records))


def cache_key(teacher_fp: str, corpus_fp: str, dtype: str) -> str:
    """Name of the write-once subfolder holding the features of this teacher, corpus and dtype."""
    return hashlib.sha256(f"{CACHE_VERSION}|{teacher_fp}|{corpus_fp}|{dtype}".encode()).hexdigest()[:24]


def ensure_teacher_cache(teacher: Teacher, records: Sequence[Data], cache_dir: str | Path,
                         dtype: str = "float32", batch_size: int = 128,
                         device: str | torch.device = "cpu", log=print) -> TeacherFeatureCache:
    """The cache for this teacher and corpus in `cache_dir/<key>` (see the module docstring):
    reused when present and complete, else built there."""
    teacher_fp, corpus_fp = teacher_fingerprint(teacher), corpus_fingerprint(records)
    folder = Path(cache_dir) / cache_key(teacher_fp, corpus_fp, dtype)
    published = folder.is_dir()  # folders appear complete (atomic rename) or not at all
    try:
        cache = TeacherFeatureCache(folder)
        if (cache.meta.get("teacher"), cache.meta.get("corpus"), cache.meta.get("dtype")) == (teacher_fp, corpus_fp, dtype):
            log(f"teacher cache: reusing {folder}")
            return cache
        raise CacheError(f"{folder}: fingerprints do not match its name")
    except CacheError as err:
        if published:  # damaged by hand or by an older dnd: not something a live run reads
            log(f"teacher cache: {err}; rebuilding")
            shutil.rmtree(folder, ignore_errors=True)
    remove_orphan_builds(folder)
    log(f"teacher cache: building {folder}")
    write_teacher_cache(teacher, records, folder, batch_size=batch_size, dtype=dtype, device=device, log=log)
    return TeacherFeatureCache(folder)


def remove_orphan_builds(folder: Path) -> None:
    """Temporary build folders of `folder` left by killed runs on this host (never a live one's)."""
    from dnd.data.cache import _pid_alive

    for tmp in folder.parent.glob(f".{folder.name}.tmp-*"):
        pid = tmp.name.rsplit("-", 1)[1]
        if pid.isdigit() and not _pid_alive(int(pid)):
            shutil.rmtree(tmp, ignore_errors=True)


class CachedTeacherDataset(Dataset):
    """Records (a subset by `indices`) with their cached teacher features attached as
    `teacher_node` [n_nodes, d] and `teacher_pool` [1, d]; PyG batching stacks both row-wise, so a
    batch carries exactly the `TeacherTargets` a live teacher would produce for it."""

    def __init__(self, records: Sequence[Data], cache: TeacherFeatureCache, indices: Sequence[int] | None = None):
        if len(cache) != len(records):
            raise CacheError(f"{cache.path}: cache holds {len(cache)} molecules, corpus has {len(records)}")
        self.records, self.cache = records, cache
        self.indices = list(range(len(records))) if indices is None else list(indices)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, k: int) -> Data:
        i = self.indices[k]
        data = copy.copy(self.records[i])  # shallow: the shared record is never modified
        data.teacher_node = self.cache.node(i)
        data.teacher_pool = self.cache.pooled(i)
        return data


def cached_targets(batch) -> TeacherTargets | None:
    """The batch's cached teacher targets, or None for a batch without cached features."""
    if "teacher_node" not in batch:
        return None
    return TeacherTargets(node=batch.teacher_node, pooled_all=batch.teacher_pool,
                          mol=batch.teacher_mol if "teacher_mol" in batch else None)
