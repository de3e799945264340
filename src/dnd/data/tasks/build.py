"""The steps every task loader shares: read a CSV table with clear file-level errors, turn
(SMILES, labels) rows into downstream records while reporting bad rows, split, and fit the
train-only standardisation.

Label policy (one place, so every task behaves the same):
- an infinite label anywhere in a row: the row is reported and skipped (it is corrupt data);
- NaN labels mean "missing" and stay NaN in `y` for multi-target tasks (OGB's convention);
- a row with no finite label at all carries no information: reported and skipped. For
  single-target tasks (all regression sets here) that is every NaN row.
"""

from __future__ import annotations

import csv
import gzip
import lzma
import os
import zlib
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import torch
from rdkit import rdBase
from torch_geometric.data import Data

from dnd.errors import UsageError
from dnd.data.featurize import FeaturizationError, smiles_to_graph
from dnd.data.report import DataFileError, Report
from dnd.data.tasks.base import TaskData, TaskSpec, fit_standardization
from dnd.data.tasks.random_split import random_split
from dnd.data.tasks.scaffold import scaffold_split

DATA_ENV = "DND_DATA"


def data_root(root: str | os.PathLike | None) -> Path | None:
    """`root` if given, else $DND_DATA, else None (callers then fall back to embedded data)."""
    if root is not None:
        return Path(root)
    env = os.environ.get(DATA_ENV)
    return Path(env) if env else None


def find_file(root: Path | None, subdir: str, names: Sequence[str]) -> Path | None:
    """First existing `root/name` or `root/subdir/name` (so `root` may be the folder holding the
    files or a data tree with the usual subfolders, like shared/data)."""
    if root is None:
        return None
    for base in (root, root / subdir):
        for name in names:
            if (base / name).is_file():
                return base / name
    return None


def row_label(i: int) -> str:
    """How a CSV data row is named in reports: 0-based data row and the file's 1-based line."""
    return f"row {i} (line {i + 2})"


def _open_text(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rt")
    if path.suffix == ".xz":
        return lzma.open(path, "rt")
    return open(path, "rt")


def read_table(path: str | os.PathLike, columns: Sequence[str], **read_csv_kwargs) -> pd.DataFrame:
    """Read a CSV (optionally .gz/.xz) and check it has `columns` and at least one data row.

    Every failure is a `DataFileError` naming the file (and the column): a missing file, an empty
    or corrupt file, a header without rows, a missing column.
    """
    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"{path}: file not found")
    try:
        with _open_text(path) as fh:
            df = pd.read_csv(fh, **read_csv_kwargs)
    except pd.errors.EmptyDataError:
        raise DataFileError(f"{path}: file is empty (no header, no rows)") from None
    except (OSError, EOFError, UnicodeDecodeError, lzma.LZMAError, zlib.error, pd.errors.ParserError) as e:
        raise DataFileError(f"{path}: cannot be read as CSV: {e}") from None
    check_unique_header(path)
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataFileError(f"{path}: no column {missing[0]!r} (columns are: "
                            f"{', '.join(map(str, df.columns))})")
    if len(df) == 0:
        raise DataFileError(f"{path}: file has a header but no data rows")
    return df


def read_header(path: Path) -> list[str]:
    """The column names of a CSV (.gz/.xz) as written, duplicates kept."""
    try:
        with _open_text(path) as fh:
            return next(csv.reader(fh), [])
    except (OSError, EOFError, UnicodeDecodeError, lzma.LZMAError, zlib.error) as e:
        raise DataFileError(f"{path}: cannot be read as CSV: {e}") from None


def check_unique_header(path: Path) -> None:
    """DataFileError for a header naming a column twice: pandas would rename the second copy
    ('y' -> 'y.1') and both would silently become separate targets."""
    header = read_header(path)
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise DataFileError(f"{path}: the header names column {name!r} twice; "
                                "rename or drop one copy")
        seen.add(name)


def label_problem(y: np.ndarray, target_names: Sequence[str]) -> str | None:
    """Why a label row cannot be used (see the module docstring), or None."""
    inf = np.isinf(y)
    if inf.any():
        return f"infinite label in column {target_names[int(np.flatnonzero(inf)[0])]!r}"
    if not np.isfinite(y).any():
        cols = (f"column {target_names[0]!r}" if len(target_names) == 1
                else f"all {len(target_names)} columns")
        return f"no finite label (NaN, empty or non-numeric in {cols})"
    return None


def labels_array(df: pd.DataFrame, columns: Sequence[str], file: Path) -> np.ndarray:
    """[n, T] float64 labels; a non-numeric cell becomes NaN (then reported by `label_problem`)."""
    out = np.empty((len(df), len(columns)), dtype=np.float64)
    for j, col in enumerate(columns):
        out[:, j] = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=np.float64)
    return out


def make_records(smiles: Sequence[str], labels: np.ndarray, rows: Sequence[str], file: str,
                 target_names: Sequence[str], report: Report) -> tuple[list[Data], list[int]]:
    """Downstream records for the usable rows, and the positions (into `smiles`) they came from.

    Each bad row (unparsable or unencodable SMILES, bad label) is reported with `file` and its
    entry of `rows`, then skipped (or raises in strict mode).
    """
    labels = np.asarray(labels, dtype=np.float64).reshape(len(smiles), -1)
    records: list[Data] = []
    kept: list[int] = []
    with rdBase.BlockLogs():  # the reason goes into the report; RDKit's stderr is noise
        for i, (smi, y) in enumerate(zip(smiles, labels)):
            problem = label_problem(y, target_names)
            if problem is None:
                try:
                    data = smiles_to_graph(smi)
                except FeaturizationError as e:
                    problem = str(e)
            if problem is not None:
                report.bad(file, rows[i], problem)
                continue
            data.y = torch.tensor(y, dtype=torch.float32).view(1, -1)
            records.append(data)
            kept.append(i)
    report.ok(len(records))
    return records, kept


def compute_split(kind: str, smiles: Sequence[str], seed: int) -> dict[str, list[int]]:
    if kind == "scaffold":
        return scaffold_split(smiles)
    if kind == "random":
        return random_split(len(smiles), seed)
    raise UsageError(f"unknown split {kind!r} (use 'scaffold' or 'random')")


def assemble(spec: TaskSpec, records: Sequence[Data], split: dict[str, Sequence[int]],
             report: Report, source: dict) -> TaskData:
    """TaskData from records and split indices into them; fits mean/std on train if asked."""
    parts = {k: [records[i] for i in split[k]] for k in ("train", "valid", "test")}
    if spec.standardize:
        spec.mean, spec.std = fit_standardization(parts["train"], spec.num_tasks)
    return TaskData(spec=spec, report=report, source=source, **parts)


def task_from_table(spec: TaskSpec, df: pd.DataFrame, file: Path, smiles_column: str,
                    target_columns: Sequence[str], split: str, seed: int, report: Report,
                    rows: Sequence[str] | None = None, source: dict | None = None) -> TaskData:
    """The common path for CSV-backed tasks: records, split over the usable rows, standardise."""
    smiles = df[smiles_column].astype(str).tolist()
    labels = labels_array(df, target_columns, file)
    rows = rows if rows is not None else [row_label(i) for i in range(len(df))]
    records, _ = make_records(smiles, labels, rows, str(file), list(spec.target_names), report)
    if len(records) < 3:
        raise DataFileError(f"{file}: only {len(records)} usable rows; cannot make train/valid/test")
    split_idx = compute_split(split, [r.smiles for r in records], seed)
    src = {"file": str(file), "split": split, "seed": seed, "rows_in_file": len(df),
           **(source or {})}
    return assemble(spec, records, split_idx, report, src)
