"""Teacher features of a corpus, computed once, in resumable chunks, content-addressed.

A teacher is frozen, so its features for a molecule never change: distillation reads them from
disk instead of running the 3D model (or an xTB calculation, ~7 molecules/s per core) every
epoch. The work is cut into fixed chunks of consecutive corpus records (`chunk_size`); chunk k
belongs to shard `k mod N`, so a job array of N tasks (`dnd teacher-features --shard I/N`) covers
a corpus without coordination, like the conformer build. Each finished chunk is written
atomically, so a killed run loses only the chunk in flight and a re-run skips finished ones.

Chunks are addressed by content (the teacher's fingerprint and that of the chunk's own records),
not by corpus: every corpus holding the same chunk-aligned run of records shares them, so the
first 12,000 molecules of a 100k pass (`--limit 12000`, 24 chunks of 500) cost nothing again,
and a prefix of a pass still running can be distilled already. Layout under the cache root:

    chunks/<kind>-<hash>.pt     the outputs of one chunk of records (`chunk_address`)
    <kind>-<hash>/              one per teacher and corpus (`feature_folder`)
      <variant>-<dtype>/        the assembled features distillation reads, written once every
                                chunk is there; variant "teacher" or "control-seedS" (xTB's
                                permutation control shares the teacher's chunks)
        node.npy    [graph nodes of the corpus, atom_dim]  rows of the atoms that are graph nodes
        pooled.npy  [molecules, atom_dim]  mean over ALL conformer atoms (the paper's GRAPH target)
        mol.npy     [molecules, mol_dim]   molecule-level targets (xTB), width 0 otherwise
        offsets.npy [molecules + 1]        node rows of molecule i: offsets[i]:offsets[i+1]
        ok.npy      [molecules] bool       False: the teacher could not treat the molecule
        meta.json   fingerprints, names of the features, and the error of every failed molecule

Plain `.npy` files open as read-only memory maps, so a corpus larger than RAM costs page cache
only. Folders are published by rename, so a crash never leaves a half-written one that looks valid.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from dnd.data.cache import _pid_alive, atomic_save
from dnd.errors import UsageError
from dnd.teachers.base import CACHE_DTYPES, FeatureTeacher, TeacherOutput

CACHE_VERSION = 2
DEFAULT_CHUNK = 500
_FILES = ("node.npy", "pooled.npy", "mol.npy", "offsets.npy", "ok.npy")


class CacheError(RuntimeError):
    """A feature cache is missing, incomplete, or does not belong to this teacher and corpus."""


def corpus_fingerprint(records: Sequence) -> str:
    """sha256 over what a teacher reads (z, pos, formal charges) and what the layout depends on
    (atom_is_node), record by record in order."""
    h = hashlib.sha256()
    for r in records:
        for t in (r.z, r.atom_is_node, r.pos, r.x[:, 3]):
            h.update(t.detach().cpu().contiguous().numpy().tobytes())
        h.update(b"|")
    return h.hexdigest()


def feature_folder(root: str | Path, teacher: FeatureTeacher, records: Sequence) -> Path:
    key = hashlib.sha256(f"{CACHE_VERSION}|{teacher.fingerprint()}|{corpus_fingerprint(records)}".encode())
    return Path(root) / f"{teacher.kind}-{key.hexdigest()[:20]}"


def chunk_address(teacher: FeatureTeacher, part: Sequence, folder: Path) -> tuple[str, Path]:
    """The fingerprint of `teacher` on the records `part` (stored in the chunk and checked on
    reading) and the file it lives in: beside the corpus folders, shared by all of them."""
    fingerprint = f"{teacher.fingerprint()}|{corpus_fingerprint(part)}"
    name = f"{teacher.kind}-{hashlib.sha256(fingerprint.encode()).hexdigest()[:32]}.pt"
    return fingerprint, folder.parent / "chunks" / name


def _load_chunk(path: Path, fingerprint: str) -> dict | None:
    if not path.is_file():
        return None
    try:
        chunk = torch.load(path, weights_only=True)
    except Exception:  # a damaged chunk is recomputed, never read
        return None
    return chunk if chunk.get("fingerprint") == fingerprint else None


def _pack(outputs: list[TeacherOutput], records: Sequence, teacher: FeatureTeacher, fingerprint: str) -> dict:
    n_atoms = [int(r.z.numel()) for r in records]
    atom = np.zeros((sum(n_atoms), teacher.atom_dim), dtype=np.float32)
    mol = np.zeros((len(records), teacher.mol_dim), dtype=np.float32)
    offsets = np.concatenate([[0], np.cumsum(n_atoms)]).astype(np.int64)
    errors = []
    for i, out in enumerate(outputs):
        errors.append(out.error or "")
        if out.error:
            continue
        if out.atom.shape != (n_atoms[i], teacher.atom_dim):
            raise RuntimeError(f"{teacher.kind} teacher returned {out.atom.shape} atom features for a "
                               f"molecule of {n_atoms[i]} atoms")
        atom[offsets[i]:offsets[i + 1]] = out.atom
        if teacher.mol_dim:
            mol[i] = out.mol
    return {"fingerprint": fingerprint, "atom": torch.from_numpy(atom), "offsets": torch.from_numpy(offsets),
            "mol": torch.from_numpy(mol), "errors": errors}


def build_chunks(teacher: FeatureTeacher, records: Sequence, folder: Path, shard: tuple[int, int] = (0, 1),
                 chunk_size: int = DEFAULT_CHUNK, log: Callable[[str], None] = print) -> int:
    """Computes the chunks of `shard` that are not on disk yet; returns how many it computed."""
    i, n = shard
    ks = [k for k in range(0, -(-len(records) // chunk_size)) if k % n == i]
    todo = []
    for k in ks:
        part = records[k * chunk_size:(k + 1) * chunk_size]
        fp, path = chunk_address(teacher, part, folder)
        if _load_chunk(path, fp) is None:
            todo.append((k, part, fp, path))
    if len(todo) < len(ks):
        log(f"teacher features: {len(ks) - len(todo)} of {len(ks)} chunks of shard {i}/{n} already done")
    t0, done = time.perf_counter(), 0
    for step, (k, part, fp, path) in enumerate(todo, 1):
        atomic_save(_pack(teacher.compute(part), part, teacher, fp), path)
        done += len(part)
        log(f"teacher features: chunk {k} ({step}/{len(todo)}), {done / (time.perf_counter() - t0):.1f} molecules/s")
    return len(todo)


def _permute_within(values: np.ndarray, groups: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Rows of `values` shuffled among the rows of the same group (element)."""
    out = values.copy()
    for g in np.unique(groups):
        rows = np.flatnonzero(groups == g)
        out[rows] = values[rng.permutation(rows)]
    return out


def assemble(teacher: FeatureTeacher, records: Sequence, folder: Path, chunk_size: int = DEFAULT_CHUNK,
             dtype: str = "float32", log: Callable[[str], None] = print) -> Path:
    """Writes `<variant>-<dtype>/` from the finished chunks (see the module docstring)."""
    if dtype not in CACHE_DTYPES:
        raise UsageError(f"cache dtype {dtype!r}: choose from {', '.join(CACHE_DTYPES)}")
    control = teacher.spec.control and teacher.permutes_targets
    out = folder / (f"control-seed{teacher.spec.seed}-{dtype}" if control else f"teacher-{dtype}")
    chunks = []
    for k in range(-(-len(records) // chunk_size)):
        part = records[k * chunk_size:(k + 1) * chunk_size]
        fp, path = chunk_address(teacher, part, folder)
        chunk = _load_chunk(path, fp)
        if chunk is None:
            raise CacheError(f"{path}: chunk {k} of {folder.name} missing; run "
                             "`dnd teacher-features` for every shard first (or without --shard)")
        chunks.append(chunk)
    atom = torch.cat([c["atom"] for c in chunks]).numpy()
    mol = torch.cat([c["mol"] for c in chunks]).numpy()
    errors = [e for c in chunks for e in c["errors"]]
    ok = np.array([not e for e in errors], dtype=bool)
    z = torch.cat([r.z for r in records]).numpy()
    is_node = torch.cat([r.atom_is_node for r in records]).numpy()
    mol_of_atom = np.repeat(np.arange(len(records)), [int(r.z.numel()) for r in records])
    if control:
        # failed molecules hold zeros: only features of treated molecules are shuffled among them
        rng = np.random.default_rng(teacher.spec.seed)
        good_atoms = ok[mol_of_atom]
        atom[good_atoms] = _permute_within(atom[good_atoms], z[good_atoms], rng)
        mol[ok] = mol[ok][rng.permutation(int(ok.sum()))]
    pooled = np.zeros((len(records), teacher.atom_dim), dtype=np.float64)
    np.add.at(pooled, mol_of_atom, atom)
    pooled /= np.maximum(np.bincount(mol_of_atom, minlength=len(records)), 1)[:, None]
    node = atom[is_node]
    offsets = np.concatenate([[0], np.cumsum([int(r.num_nodes) for r in records])]).astype(np.int64)
    remove_orphan_builds(out)
    tmp = folder / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name, arr in (("node", node.astype(dtype)), ("pooled", pooled.astype(dtype)), ("mol", mol.astype(dtype)),
                      ("offsets", offsets), ("ok", ok)):
        np.save(tmp / f"{name}.npy", arr)
    failed = {int(i): errors[i] for i in np.flatnonzero(~ok)}
    meta = {"version": CACHE_VERSION, "dtype": dtype, "dim": teacher.atom_dim, "mol_dim": teacher.mol_dim,
            "num_molecules": len(records), "num_nodes": int(offsets[-1]), "teacher": teacher.fingerprint(),
            "identity": teacher.identity(), "control": bool(teacher.spec.control), "seed": teacher.spec.seed,
            "corpus": corpus_fingerprint(records), "atom_names": list(teacher.atom_names),
            "mol_names": list(teacher.mol_names), "default_norm": teacher.default_norm,
            "num_failed": len(failed), "failed": failed}
    (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
    try:
        os.rename(tmp, out)
    except OSError:  # published by a concurrent run meanwhile: theirs is identical
        if not (out / "meta.json").is_file():
            raise
        shutil.rmtree(tmp, ignore_errors=True)
    log(f"teacher features: {len(records)} molecules ({len(failed)} the teacher could not treat), "
        f"{int(offsets[-1])} node rows x {teacher.atom_dim} -> {out}")
    return out


def remove_orphan_builds(folder: Path) -> None:
    """Temporary build folders of `folder` left by killed runs on this host (never a live one's)."""
    for tmp in folder.parent.glob(f".{folder.name}.tmp-*"):
        pid = tmp.name.rsplit("-", 1)[1]
        if pid.isdigit() and not _pid_alive(int(pid)):
            shutil.rmtree(tmp, ignore_errors=True)


def read_meta(path: Path, version: int, files: Sequence[str], error: type[Exception]) -> dict:
    """meta.json of a published cache folder, checked: present, readable, of `version`, with all
    `files` beside it; `error` (the caller's cache error type) names what is wrong otherwise."""
    meta_file = path / "meta.json"
    if not meta_file.is_file():
        raise error(f"{path}: no teacher features here (meta.json missing)")
    try:
        meta = json.loads(meta_file.read_text())
    except json.JSONDecodeError as err:
        raise error(f"{meta_file}: unreadable cache metadata ({err})") from err
    if meta.get("version") != version:
        raise error(f"{path}: cache format version {meta.get('version')}, this dnd reads {version}")
    missing = [f for f in files if not (path / f).is_file()]
    if missing:
        raise error(f"{path}: incomplete teacher cache, missing {', '.join(missing)}")
    return meta


class FeatureCache:
    """Read-only, memory-mapped view of an assembled feature folder."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.meta = read_meta(self.path, CACHE_VERSION, _FILES, CacheError)
        self.offsets = np.load(self.path / "offsets.npy")
        self.ok = np.load(self.path / "ok.npy")
        self.dim, self.mol_dim = int(self.meta["dim"]), int(self.meta["mol_dim"])
        self._arrays: dict[str, np.ndarray] | None = None  # opened lazily: the object pickles into workers

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getstate__(self):
        return {**self.__dict__, "_arrays": None}

    def array(self, name: str) -> np.ndarray:
        if self._arrays is None:
            self._arrays = {n: np.load(self.path / f"{n}.npy", mmap_mode="r") for n in ("node", "pooled", "mol")}
        return self._arrays[name]

    def node(self, i: int) -> torch.Tensor:
        """[n_nodes of molecule i, dim] float32 (a copy: the map itself is read-only)."""
        return torch.from_numpy(np.array(self.array("node")[self.offsets[i]:self.offsets[i + 1]], dtype=np.float32))

    def pooled(self, i: int) -> torch.Tensor:
        return torch.from_numpy(np.array(self.array("pooled")[i:i + 1], dtype=np.float32))

    def mol(self, i: int) -> torch.Tensor:
        return torch.from_numpy(np.array(self.array("mol")[i:i + 1], dtype=np.float32))


def ensure_features(teacher: FeatureTeacher, records: Sequence, root: str | Path, dtype: str = "float32",
                    chunk_size: int = DEFAULT_CHUNK, log: Callable[[str], None] = print) -> FeatureCache:
    """The assembled features of `teacher` on `records` under `root`: reused when there, else the
    missing chunks are computed (all shards) and assembled."""
    folder = feature_folder(root, teacher, records)
    control = teacher.spec.control and teacher.permutes_targets
    final = folder / (f"control-seed{teacher.spec.seed}-{dtype}" if control else f"teacher-{dtype}")
    try:
        cache = FeatureCache(final)
        if cache.meta.get("teacher") == teacher.fingerprint() and cache.meta.get("corpus") == corpus_fingerprint(records):
            log(f"teacher features: reusing {final}")
            return cache
        raise CacheError(f"{final}: fingerprints do not match its name")
    except CacheError as err:
        if final.is_dir():
            log(f"teacher features: {err}; rebuilding")
            shutil.rmtree(final, ignore_errors=True)
    build_chunks(teacher, records, folder, (0, 1), chunk_size, log)
    return FeatureCache(assemble(teacher, records, folder, chunk_size, dtype, log))


class TargetNorm:
    """The scaling of teacher targets fitted on the training molecules (see
    `dnd.objectives.config.TARGET_NORMS`): per-atom rows centred per element ("element") or by
    column ("standard") and divided by the column std of what remains; pooled rows and molecule
    targets z-scored by column; "none" leaves all three raw. Columns without spread keep scale 1."""

    def __init__(self, mode: str, cache: FeatureCache, records: Sequence, indices: Sequence[int]):
        self.mode = mode
        d = cache.dim
        self.node_mean = np.zeros((1, d))
        self.node_std = np.ones(d)
        self.element_row = np.zeros(128, dtype=np.int64)  # atomic number -> row of node_mean
        self.pool_mean, self.pool_std = np.zeros(d), np.ones(d)
        self.mol_mean, self.mol_std = np.zeros(cache.mol_dim), np.ones(cache.mol_dim)
        if mode == "none":
            return
        idx = np.asarray(indices)
        rows = np.concatenate([np.arange(cache.offsets[i], cache.offsets[i + 1]) for i in idx])
        node = np.asarray(cache.array("node")[rows], dtype=np.float64)
        z = torch.cat([records[i].z[records[i].atom_is_node] for i in idx]).numpy()
        if mode == "element":
            elements = np.unique(z)
            self.element_row[elements] = np.arange(1, len(elements) + 1)  # row 0: elements unseen in training
            self.node_mean = np.stack([node.mean(0)] + [node[z == e].mean(0) for e in elements])
            centred = node - self.node_mean[self.element_row[z]]
        else:
            self.node_mean = node.mean(0, keepdims=True)
            centred = node - self.node_mean
        self.node_std = _scale(centred.std(0))
        # what the element alone leaves unexplained, per column, before scaling (for reports)
        self.residual_var = centred.var(0)
        self.raw_var = node.var(0)
        pooled = np.asarray(cache.array("pooled")[idx], dtype=np.float64)
        self.pool_mean, self.pool_std = pooled.mean(0), _scale(pooled.std(0))
        if cache.mol_dim:
            mol = np.asarray(cache.array("mol")[idx], dtype=np.float64)
            self.mol_mean, self.mol_std = mol.mean(0), _scale(mol.std(0))

    def node(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        if self.mode == "none":
            return x
        rows = self.element_row[z.numpy()] if self.mode == "element" else np.zeros(len(z), dtype=np.int64)
        return (x - torch.from_numpy(self.node_mean[rows]).float()) / torch.from_numpy(self.node_std).float()

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "none":
            return x
        return (x - torch.from_numpy(self.pool_mean).float()) / torch.from_numpy(self.pool_std).float()

    def mol(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "none":
            return x
        return (x - torch.from_numpy(self.mol_mean).float()) / torch.from_numpy(self.mol_std).float()

    def summary(self) -> dict:
        out = {"mode": self.mode}
        if self.mode != "none":
            out["element_explained_fraction"] = float(1 - self.residual_var.sum() / max(self.raw_var.sum(), 1e-12))
        return out


def _scale(std: np.ndarray) -> np.ndarray:
    return np.where(std > 1e-8, std, 1.0)
