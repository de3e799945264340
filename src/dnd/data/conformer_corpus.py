"""Large SMILES corpora to 3D paired records, in resumable chunks and cluster shards.

The drug-like pretraining corpus (MOSES, 1.58M ZINC molecules) needs RDKit conformers for every
molecule: about 30 molecules/s per core, so days of one core for all of it. The work is therefore
cut into fixed chunks of consecutive input rows (`chunk_size`); chunk k belongs to shard
`k mod N`, so a job array of N tasks (`--shard I/N`) covers the corpus without coordination, and
each finished chunk is written atomically to `OUT/chunks/chunk-KKKKK.pt` with its bad-record
report. A killed build loses at most the chunks in flight; re-running skips every chunk already
on disk (checked against the build's fingerprint, so a changed option never mixes corpora).
`merge` concatenates the chunks, in input order, into one records file that `dnd denoise`,
`distill` and `infomax` read with `--source records --path FILE`.

`fetch_moses` takes MOSES's training SMILES out of the `molsets` wheel on PyPI without
installing it (molsets pins very old dependencies): pip downloads the wheel only, and the CSV
inside is checked against the checksum recorded here.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

import torch
from torch_geometric.data import Data

from dnd.data import cache
from dnd.data.builder import build_records
from dnd.data.paired import make_data
from dnd.data.report import DataFileError, Report
from dnd.data.sources import check_file, conformers, csv_rows
from dnd.errors import UsageError

log = logging.getLogger(__name__)

MOSES_WHEEL = "molsets==0.3.1"
MOSES_MEMBER = "moses/dataset/data/train.csv.gz"
# sha256 of train.csv.gz inside molsets-0.3.1-py3-none-any.whl (1,584,663 SMILES, column SMILES)
MOSES_SHA256 = "786f0313aa6b9ba5514df685f885742a70ea8d86f1a4fa48115f7f80a634265c"
MOSES_ROWS = 1_584_663
CHUNK_FORMAT = "conformer-chunk-1"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch_moses(dest: str | os.PathLike, wheel: str | os.PathLike | None = None,
                expected_sha256: str = MOSES_SHA256) -> Path:
    """Write MOSES's `train.csv.gz` to `dest` (a file path) and return it.

    wheel: a downloaded molsets wheel; when None, `pip download --no-deps` fetches it from the
    package index into a temporary folder. The CSV's sha256 must equal `expected_sha256`.
    """
    dest = Path(dest)
    if dest.is_file() and _sha256(dest.read_bytes()) == expected_sha256:
        return dest
    with tempfile.TemporaryDirectory() as tmp:
        if wheel is None:
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
                   "--dest", tmp, MOSES_WHEEL]
            done = subprocess.run(cmd, capture_output=True, text=True)
            wheels = sorted(Path(tmp).glob("molsets-*.whl"))
            if done.returncode or not wheels:
                raise DataFileError(f"could not download {MOSES_WHEEL} with pip "
                                    f"({done.stderr.strip().splitlines()[-1:] or 'no wheel'}); "
                                    "download the wheel elsewhere and pass --wheel FILE")
            wheel = wheels[0]
        wheel = Path(wheel)
        try:
            with zipfile.ZipFile(wheel) as zf:
                data = zf.read(MOSES_MEMBER)
        except FileNotFoundError:
            raise DataFileError(f"{wheel}: file not found") from None
        except (zipfile.BadZipFile, KeyError) as e:
            raise DataFileError(f"{wheel}: not a molsets wheel holding {MOSES_MEMBER} ({e})") from None
    digest = _sha256(data)
    if digest != expected_sha256:
        raise DataFileError(f"{wheel}: {MOSES_MEMBER} has sha256 {digest}, expected "
                            f"{expected_sha256} (a different molsets release?)")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, dest)
    return dest


@dataclass
class BuildConfig:
    """What defines a built corpus; all of it goes into the chunks' fingerprint."""

    smiles_file: str
    smiles_column: str = "SMILES"
    limit: int | None = None          # the first `limit` rows of the file
    chunk_size: int = 2000
    num_conformers: int = 1
    seed: int = 0
    largest_fragment: bool = True

    def __post_init__(self) -> None:
        for name in ("chunk_size", "num_conformers", "limit"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise UsageError(f"--{name.replace('_', '-')} must be at least 1, got {value}")

    def fingerprint(self) -> str:
        key = {k: v for k, v in asdict(self).items() if k != "smiles_file"}
        return cache.source_key([Path(self.smiles_file)], {"kind": CHUNK_FORMAT, **key})

    def options(self) -> conformers.Options:
        return conformers.Options(num_conformers=self.num_conformers, seed=self.seed,
                                  smiles_column=self.smiles_column,
                                  largest_fragment=self.largest_fragment)


def parse_shard(text: str) -> tuple[int, int]:
    """'I/N' -> (I, N) with 0 <= I < N; ValueError with the expected form otherwise."""
    try:
        i, n = (int(p) for p in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard {text!r}: expected I/N, e.g. 0/1 or 3/16") from None
    if not 0 <= i < n:
        raise ValueError(f"--shard {text!r}: need 0 <= I < N")
    return i, n


def _items(cfg: BuildConfig) -> Iterator[tuple[str, tuple]]:
    stem = Path(cfg.smiles_file).name.split(".")[0]
    for i, row in csv_rows(Path(cfg.smiles_file), [cfg.smiles_column], cfg.limit):
        yield f"row {i} (line {i + 2})", (f"{stem}:{i}", row[cfg.smiles_column].strip())


def _chunked(cfg: BuildConfig) -> Iterator[tuple[int, list]]:
    chunk: list = []
    k = 0
    for item in _items(cfg):
        chunk.append(item)
        if len(chunk) == cfg.chunk_size:
            yield k, chunk
            k, chunk = k + 1, []
    if chunk:
        yield k, chunk


def chunk_path(out_dir: Path, k: int) -> Path:
    return Path(out_dir) / "chunks" / f"chunk-{k:05d}.pt"


def _load_chunk(path: Path, fingerprint: str) -> dict | None:
    blob = cache.load_blob(path, CHUNK_FORMAT)
    return blob if blob is not None and blob.get("fingerprint") == fingerprint else None


def build_shard(cfg: BuildConfig, out_dir: str | os.PathLike, shard: tuple[int, int] = (0, 1),
                workers: int | None = None) -> dict:
    """Build this shard's missing chunks; returns counts and the measured speed.

    Writes OUT/build.json (the config) once; a different config in an existing OUT is an error,
    so two builds never share a folder."""
    check_file(Path(cfg.smiles_file))
    out = Path(out_dir)
    fp = cfg.fingerprint()
    out.mkdir(parents=True, exist_ok=True)
    meta = out / "build.json"
    record = {"config": asdict(cfg), "fingerprint": fp}
    if meta.is_file():
        old = json.loads(meta.read_text())
        if old.get("fingerprint") != fp:
            raise DataFileError(f"{meta}: this folder holds a corpus built with other options "
                                f"({old.get('config')}); use another --out")
    else:
        meta.write_text(json.dumps(record, indent=2))
    workers = workers or os.cpu_count() or 1
    options = cfg.options()
    totals = {"chunks_built": 0, "chunks_skipped": 0, "ok": 0, "bad": 0, "seconds": 0.0}
    index, n_shards = shard
    n_chunks = 0
    for k, items in _chunked(cfg):
        n_chunks = k + 1
        if k % n_shards != index:
            continue
        path = chunk_path(out, k)
        if _load_chunk(path, fp) is not None:
            totals["chunks_skipped"] += 1
            continue
        report = Report()
        start = time.perf_counter()
        records = build_records("smiles", options, Path(cfg.smiles_file), items, workers, report)
        seconds = time.perf_counter() - start
        cache.atomic_save({"format": CHUNK_FORMAT, "fingerprint": fp, "chunk": k,
                           "rows": [items[0][0], items[-1][0]], "seconds": seconds,
                           "workers": workers, "data": cache.collate(records),
                           "report": report.to_dict()}, path)
        totals["chunks_built"] += 1
        totals["ok"] += report.n_ok
        totals["bad"] += report.n_bad
        totals["seconds"] += seconds
        log.info("chunk %d: %d molecules, %d failed, %.1f molecules/s with %d workers",
                 k, report.n_ok, report.n_bad, len(items) / seconds, workers)
    meta.write_text(json.dumps(record | {"n_chunks": n_chunks}, indent=2))  # what merge expects
    return totals


def merge(out_dir: str | os.PathLike, dest: str | os.PathLike | None = None,
          first: int | None = None) -> Path:
    """Concatenate every chunk of a finished build, in input order, into one records file
    (default OUT/records.pt); DataFileError naming the missing chunks when the build is partial.
    `first`: merge only chunks 0..first-1 (to start pretraining while the build goes on)."""
    out = Path(out_dir)
    meta = out / "build.json"
    if not meta.is_file():
        raise DataFileError(f"{meta}: not found; {out} is not a corpus build folder")
    info = json.loads(meta.read_text())
    fp = info["fingerprint"]
    paths = sorted((out / "chunks").glob("chunk-*.pt"))
    if first is not None:
        paths = [p for p in paths if int(p.stem.split("-")[1]) < first]
    blobs = [_load_chunk(p, fp) for p in paths]
    stale = [p.name for p, b in zip(paths, blobs) if b is None]
    if stale:
        raise DataFileError(f"{out}: unreadable or foreign chunks {stale[:5]}; delete them and rebuild")
    ks = [b["chunk"] for b in blobs]
    expected = first if first is not None else info.get("n_chunks", max(ks, default=-1) + 1)
    missing = sorted(set(range(expected)) - set(ks))
    if missing or not ks:
        raise DataFileError(f"{out}: chunks {missing[:10] or '(all)'} are not built yet; run the "
                            "remaining shards first")
    report = Report()
    for b in blobs:
        report.extend(Report.from_dict(b["report"]))
    merged = concat_collated([b["data"] for b in blobs])
    dest = Path(dest) if dest is not None else out / "records.pt"
    cache.save(dest, merged, report)
    return dest


def concat_collated(parts: list[dict]) -> dict:
    """One collated dict from several (same fields), records in the given order."""
    first = parts[0]
    out: dict = {}
    for key, value in first.items():
        if value is None:
            out[key] = None
        elif isinstance(value, list):
            out[key] = [v for p in parts for v in p[key]]
        else:
            dim = 1 if key == "edge_index" else 0
            out[key] = torch.cat([p[key] for p in parts], dim=dim)
    return out


def load_records_file(path: str | os.PathLike) -> list[Data]:
    """The paired records of a merged corpus file (see `merge`)."""
    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"{path}: file not found")
    try:  # read directly: a user's file that fails is an error, not a cache to rebuild
        blob = torch.load(path, weights_only=True)
    except Exception:  # noqa: BLE001 - torch raises several types for foreign files
        blob = None
    if not isinstance(blob, dict) or blob.get("format") != cache.CACHE_FORMAT:
        raise DataFileError(f"{path}: not a records file written by `dnd data conformers --merge` "
                            "(or written by an older dnd); rebuild it")
    return cache.uncollate(blob["data"], make_data)


def speed_summary(out_dir: str | os.PathLike) -> dict:
    """Molecules/s per worker and failure rate over the chunks on disk (for the docs)."""
    blobs = [torch.load(p, weights_only=True) for p in sorted((Path(out_dir) / "chunks").glob("chunk-*.pt"))]
    ok = sum(Report.from_dict(b["report"]).n_ok for b in blobs)
    bad = sum(Report.from_dict(b["report"]).n_bad for b in blobs)
    worker_seconds = sum(b["seconds"] * b["workers"] for b in blobs)
    return {"chunks": len(blobs), "molecules": ok, "failed": bad,
            "failure_rate": bad / max(ok + bad, 1),
            "molecules_per_s_per_core": (ok + bad) / worker_seconds if worker_seconds else None}
