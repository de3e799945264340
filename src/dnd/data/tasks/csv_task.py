"""Any user CSV as a task: a SMILES column, one or more target columns, a task type, and a
scaffold (OGB procedure) or seeded random 8:1:1 split.

Defaults aim at the common case: the SMILES column is "smiles", the target is the one other
column (with several, the targets must be named: an ID or name column must never silently become
a target, and averaging a metric over it is meaningless), and the task type is inferred (classification when every finite label is 0 or 1, else
regression). Regression is standardised on train and scored by MAE (or `metric="rmse"`);
classification by ROC-AUC with NaN labels treated as missing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from dnd.data.report import DataFileError, Report
from dnd.data.tasks.base import TaskData, TaskSpec
from dnd.data.tasks.build import check_unique_header, labels_array, read_header, read_table, task_from_table

CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.xz")


def is_csv_path(name: str) -> bool:
    return name.lower().endswith(CSV_SUFFIXES) or os.path.sep in name


def infer_task_type(labels: np.ndarray) -> str:
    finite = labels[np.isfinite(labels)]
    return "classification" if finite.size and np.isin(finite, (0.0, 1.0)).all() else "regression"


def check_csv_header(path: str | os.PathLike, smiles_column: str = "smiles",
                     target_columns: Sequence[str] | str | None = None) -> None:
    """The header-level checks of `load_csv_task` without reading the rows (for `dnd run
    --check`): the SMILES and target columns exist, no column is named twice, and the targets are
    named whenever there is more than one candidate."""
    path = Path(path)
    header = read_header(path)
    check_unique_header(path)
    if isinstance(target_columns, str):
        target_columns = [c.strip() for c in target_columns.split(",") if c.strip()]
    missing = [c for c in [smiles_column, *(target_columns or [])] if c not in header]
    if missing:
        raise DataFileError(f"{path}: no column {missing[0]!r} (columns are: {', '.join(header)})")
    if not target_columns:
        default_targets(header, path, smiles_column)


def default_targets(columns, path: Path, smiles_column: str) -> list[str]:
    """The one column besides SMILES; with none or several, a DataFileError listing them."""
    others = [str(c) for c in columns if c != smiles_column]
    if not others:
        raise DataFileError(f"{path}: no target column besides {smiles_column!r}")
    if len(others) > 1:
        raise DataFileError(f"{path}: {len(others)} columns besides {smiles_column!r} "
                            f"({', '.join(others)}); name the target(s) with --target-columns "
                            "(task option target_columns), e.g. --target-columns " + others[0])
    return others


def load_csv_task(path: str | os.PathLike, seed: int = 0, smiles_column: str = "smiles",
                  target_columns: Sequence[str] | str | None = None, task_type: str | None = None,
                  split: str = "scaffold", metric: str | None = None, name: str | None = None,
                  report: Report | None = None) -> TaskData:
    path = Path(path)
    if isinstance(target_columns, str):
        target_columns = [c.strip() for c in target_columns.split(",") if c.strip()]
    df = read_table(path, [smiles_column, *(target_columns or [])])
    targets = list(target_columns) if target_columns else default_targets(df.columns, path, smiles_column)
    labels = labels_array(df, targets, path)
    task_type = task_type or infer_task_type(labels)
    if task_type == "classification":
        metric = metric or "rocauc"
        finite = labels[np.isfinite(labels)]
        odd = sorted(set(finite[~np.isin(finite, (0.0, 1.0))].tolist()))
        if odd:
            raise DataFileError(f"{path}: classification labels must be 0/1 (NaN = missing), "
                                f"found {odd[:5]}")
    metric = metric or "mae"
    spec = TaskSpec(name=name or path.name.split(".")[0], task_type=task_type, metric=metric,
                    num_tasks=len(targets), target_names=[str(t) for t in targets],
                    standardize=task_type == "regression", mean=None, std=None)
    return task_from_table(spec, df, path, smiles_column, targets, split, seed,
                           report if report is not None else Report())
