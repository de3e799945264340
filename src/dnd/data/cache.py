"""On-disk cache of processed paired datasets.

Processing all of QM9 (bond perception + template matching for 130k molecules) takes minutes;
loading it must take seconds. A processed set is therefore stored once as a handful of big
concatenated tensors plus per-record counts (the InMemoryDataset idea), written atomically
(temp file + rename, so a killed run never leaves a half file that later looks valid) and loaded
with `weights_only=True`. The file name is a hash of the source files' bytes, the featurizer
version, the RDKit/OGB versions (their perception can change features) and every option, so a
changed source or option re-processes and an unchanged one is reused.

Generic helpers (`source_key`, `atomic_save`) are usable by other loaders too.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import tempfile
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import ogb
import rdkit
import torch

from dnd.data.featurize import featurizer_key
from dnd.data.report import Report

log = logging.getLogger(__name__)

CACHE_FORMAT = "paired-collated-2"


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def source_key(paths: Sequence[Path], options: dict) -> str:
    """Hex key over source file contents, featurizer/library versions and options."""
    h = hashlib.sha256()
    for p in paths:
        h.update(file_digest(Path(p)).encode())
    h.update(json.dumps({"format": CACHE_FORMAT, "featurizer": featurizer_key(),
                         "rdkit": rdkit.__version__, "ogb": ogb.__version__,
                         "options": options}, sort_keys=True, default=str).encode())
    return h.hexdigest()[:32]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_orphan_temps(path: Path) -> None:
    """Delete temp files of `path` left by killed writers: named <name>.<host>.<pid>.*.tmp, they
    are removed only when written on this host by a process that no longer exists (a concurrent
    writer's file is never touched)."""
    host = socket.gethostname()
    for tmp in path.parent.glob(f"{path.name}.{host}.*.tmp"):
        pid = tmp.name[len(f"{path.name}.{host}."):].split(".", 1)[0]
        if pid.isdigit() and not _pid_alive(int(pid)):
            tmp.unlink(missing_ok=True)


def atomic_save(obj, path: Path) -> None:
    """torch.save to a temp file in the same folder, then rename over `path` (also removes the
    temp files of earlier writers of `path` that were killed midway)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_orphan_temps(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f"{path.name}.{socket.gethostname()}.{os.getpid()}.",
                               suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def cache_path(cache_dir, paths: Sequence[Path], options: dict) -> Path:
    stem = Path(paths[0]).name.split(".")[0]
    key = source_key(paths, options)
    return Path(cache_dir) / f"{options.get('source', 'data')}-{stem}-{key}.pt"


# ----------------------------------------------------------------------------- collated form
#
# One graph format for every cache (paired corpora, conformer chunks, merged records files and
# built tasks): the 2D graph of each record concatenated into a few tensors plus per-record
# counts, OGB feature indices as uint8 and node indices as int32 (8x/2x smaller than int64; a
# value that does not fit keeps int64), chemprop's features compact (`compact_chemprop`). Reading
# widens them back to the contract's dtypes, so caches written with int64 still load.

def _narrow(t: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    if t.numel() and (t.min() < 0 or t.max() > torch.iinfo(dtype).max):
        return t
    return t.to(dtype)


def collate_graphs(records: Sequence) -> dict:
    """The 2D graphs of `records` (PairedArrays or Data: x, edge_index, edge_attr, cp_x,
    cp_edge_attr) in the collated form, with counts n_nodes and n_edges."""
    def cat(key: str, dim: int, empty: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
        parts = [torch.as_tensor(getattr(r, key)) for r in records]
        return torch.cat(parts, dim) if parts else torch.zeros(empty, dtype=dtype)
    return {"x": _narrow(cat("x", 0, (0, 9), torch.long), torch.uint8),
            "edge_index": _narrow(cat("edge_index", 1, (2, 0), torch.long), torch.int32),
            "edge_attr": _narrow(cat("edge_attr", 0, (0, 3), torch.long), torch.uint8),
            **compact_chemprop(cat("cp_x", 0, (0, 72), torch.float32),
                               cat("cp_edge_attr", 0, (0, 14), torch.float32)),
            "n_nodes": torch.tensor([len(r.x) for r in records], dtype=torch.long),
            "n_edges": torch.tensor([r.edge_index.shape[1] for r in records], dtype=torch.long)}


def uncollate_graphs(c: dict) -> list[dict]:
    """Per record: the fields `collate_graphs` stored, widened to the contract's dtypes (views
    into the big tensors), plus num_nodes."""
    nodes, edges = torch.as_tensor(c["n_nodes"]).tolist(), torch.as_tensor(c["n_edges"]).tolist()
    cp_x, cp_edge_attr = chemprop_float(c)
    parts = zip(c["x"].long().split(nodes), c["edge_index"].long().split(edges, dim=1),
                c["edge_attr"].long().split(edges), cp_x.split(nodes), cp_edge_attr.split(edges), nodes)
    return [dict(x=x, edge_index=ei, edge_attr=ea, cp_x=cx, cp_edge_attr=cea, num_nodes=n)
            for x, ei, ea, cx, cea, n in parts]


def collate(records: Sequence) -> dict:
    """PairedArrays list -> the collated graphs plus the conformers, strings and labels."""
    def cat(field, empty_shape, dtype):
        parts = [getattr(r, field) for r in records]
        return torch.from_numpy(np.concatenate(parts) if parts else np.zeros(empty_shape, dtype=dtype))
    out = {
        **collate_graphs(records),
        "z": cat("z", (0,), np.int64),
        "pos": cat("pos", (0, 3), np.float32),
        "atom_is_node": cat("atom_is_node", (0,), bool),
        "n_atoms": torch.tensor([len(r.z) for r in records], dtype=torch.long),
        "smiles": [r.smiles for r in records],
        "mol_id": [r.mol_id for r in records],
        "y": None,
    }
    if records and records[0].y is not None:
        out["y"] = torch.from_numpy(np.stack([r.y for r in records]))
    return out


def compact_chemprop(cp_x: torch.Tensor, cp_edge_attr: torch.Tensor) -> dict:
    """chemprop's features are 0/1 except the atom mass (x 0.01, the last atom column), yet as
    float32 they were two thirds of a drug-like cache: stored as uint8 plus the mass column,
    a cache is half the size. Checked, not assumed: a featurizer with other values stays float."""
    bits, bonds = cp_x[:, :-1].to(torch.uint8), cp_edge_attr.to(torch.uint8)
    if not (torch.equal(bits.float(), cp_x[:, :-1]) and torch.equal(bonds.float(), cp_edge_attr)):
        return {"cp_x": cp_x, "cp_edge_attr": cp_edge_attr}
    return {"cp_x": bits, "cp_mass": cp_x[:, -1].clone(), "cp_edge_attr": bonds}


def chemprop_float(c: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """Float32 chemprop features of a collated dict, compact or as written before 2026-11-28
    (float32; task caches had uint8 bonds), so no cache, e.g. conformer chunks that took hours to
    build, has to be rebuilt."""
    if "cp_mass" not in c:
        return c["cp_x"].float(), c["cp_edge_attr"].float()
    return torch.cat([c["cp_x"].float(), c["cp_mass"][:, None]], 1), c["cp_edge_attr"].float()


def uncollate(c: dict, make: Callable) -> list:
    """Collated dict -> list of records built by `make(**fields)` (views into the big tensors)."""
    atoms = c["n_atoms"].tolist()
    zs, ps, ms = c["z"].split(atoms), c["pos"].split(atoms), c["atom_is_node"].split(atoms)
    ys = c["y"].split(1) if c["y"] is not None else None
    out = []
    for i, graph in enumerate(uncollate_graphs(c)):
        fields = dict(graph, z=zs[i], pos=ps[i], atom_is_node=ms[i], smiles=c["smiles"][i], mol_id=c["mol_id"][i])
        if ys is not None:
            fields["y"] = ys[i]
        out.append(make(**fields))
    return out


def save(path: Path, collated: dict, report: Report) -> None:
    """Write a processed set to `path` (from `cache_path`) atomically."""
    atomic_save({"format": CACHE_FORMAT, "data": collated, "report": report.to_dict()}, path)


def load_blob(path: Path, fmt: str) -> dict | None:
    """The dict saved at `path` if it exists, reads with weights_only and has format `fmt`;
    else None, so the caller rebuilds (an unreadable cache is never fatal)."""
    if not path.is_file():
        return None
    try:
        blob = torch.load(path, weights_only=True)
    except Exception as e:  # noqa: BLE001 - truncated or foreign files are rebuilt
        log.warning("ignoring unreadable cache file %s (%s); re-processing", path, e)
        return None
    return blob if isinstance(blob, dict) and blob.get("format") == fmt else None


def load(path: Path) -> tuple[dict, Report] | None:
    """(collated, report) if `path` holds a valid cache file, else None."""
    blob = load_blob(path, CACHE_FORMAT)
    return None if blob is None else (blob["data"], Report.from_dict(blob["report"]))
