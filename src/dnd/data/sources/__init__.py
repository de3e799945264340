"""Readers for the 3D sources of paired records.

Each module exposes the same three names, which `dnd.data.corpus.load_paired` drives:
- `Options`: a dataclass of source-specific options (part of the cache key), a `PairedOptions`;
- `read_items(path, limit, options)`: yields `(label, payload)` per input record, cheaply and
  in file order; `label` ("row 17", "record 198 (line 3021)") is what bad-record reports show;
- `build(payload, label, options) -> list[PairedArrays]`: the expensive per-record work, run in
  worker processes; raises `RecordError` with the reason for a record it cannot use.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import lzma
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

from dnd.data.config import check_hydrogens
from dnd.data.report import DataFileError, RecordError


@dataclass
class PairedOptions:
    """What every source's `Options` has: which hydrogens the conformer keeps, one of
    `dnd.data.config.HYDROGENS` ("none": heavy atoms only; "dft": the source's; "rdkit": the
    source's plus RDKit-placed ones where a heavy-atom SDF has none)."""

    hydrogens: str = "dft"

    def __post_init__(self) -> None:
        check_hydrogens(self.hydrogens)

_MAGIC = ((b"\x1f\x8b", gzip.open), (b"\xfd7zXZ\x00", lzma.open), (b"BZh", bz2.open))


def open_text(path: Path) -> io.TextIOBase:
    """Open a text file for reading, decompressing gzip/xz/bz2 transparently (by magic bytes)."""
    with open(path, "rb") as f:
        head = f.read(6)
    for magic, opener in _MAGIC:
        if head.startswith(magic):
            return opener(path, "rt", encoding="utf-8", newline="")
    return open(path, "r", encoding="utf-8", newline="")


def csv_rows(path: Path, required: Sequence[str], limit: int | None) -> Iterator[tuple[int, dict]]:
    """(0-based data row, row dict) for a headed CSV; DataFileError when a column is missing."""
    csv.field_size_limit(1 << 24)
    with open_text(path) as f:
        reader = csv.DictReader(f)
        header = reader.fieldnames or []
        missing = [c for c in required if c not in header]
        if missing:
            raise DataFileError(f"{path}: missing column(s) {missing}; found {header}")
        for i, row in enumerate(reader):
            if limit is not None and i >= limit:
                return
            yield i, row


def finite_float(text: str, column: str) -> float:
    """float(text); RecordError naming the column when it is not a finite number."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise RecordError(f"{column}: {text!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise RecordError(f"{column}: value {text!r} is not finite")
    return value


def source_files(path: Path, module) -> list[Path]:
    """The files of a source path: `path` itself, or, for a folder and a source that reads shards
    (its module's `SHARD_SUFFIXES`), the folder's files with those endings sorted by name, read
    one after the other as one corpus. DataFileError when a folder holds none."""
    if not path.is_dir():
        check_file(path)
        return [path]
    suffixes = getattr(module, "SHARD_SUFFIXES", ())
    if not suffixes:
        raise DataFileError(f"{path}: a folder; this source reads one file (a folder of shards is read for sdf)")
    files = sorted(f for f in path.iterdir() if f.is_file() and f.name.endswith(suffixes) and not f.name.startswith("."))
    if not files:
        raise DataFileError(f"{path}: no {' or '.join(suffixes)} files in this folder")
    for f in files:
        check_file(f)
    return files


def check_file(path: Path) -> None:
    """DataFileError unless `path` is an existing, non-empty file."""
    if not path.exists():
        raise DataFileError(f"{path}: file not found")
    if not path.is_file():
        raise DataFileError(f"{path}: not a file")
    if path.stat().st_size == 0:
        raise DataFileError(f"{path}: file is empty")
