"""On-disk cache of built downstream tasks.

Featurizing is the slow part of a task (QM9: 130k SMILES, about a minute; HIV's scaffold split:
tens of seconds), so a built `TaskData` is stored once as concatenated tensors plus per-record
counts, split sizes, the spec, the bad-record report and the provenance, all plain types so it
loads with `weights_only=True`. The file name comes from `dnd.data.cache.source_key`: a hash of
the source files' bytes, featurizer/RDKit/OGB versions and every loader option, so a changed
source or option rebuilds and an unchanged one is reused. Writes are atomic (temp file + rename).
The graphs are stored in the one collated form of `dnd.data.cache` (`collate_graphs`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, Sequence

import torch
from torch_geometric.data import Data

from dnd.data.cache import atomic_save, collate_graphs, load_blob, source_key, uncollate_graphs
from dnd.data.paired import make_data
from dnd.data.report import BadRecordError, DataFileError, Report
from dnd.data.tasks.base import TaskData, TaskSpec

log = logging.getLogger(__name__)

FORMAT = "task-collated-3"
SPLITS = ("train", "valid", "test")


def _collate(records: Sequence[Data], num_tasks: int) -> dict:
    return {**collate_graphs(records),
            "y": torch.cat([r.y for r in records]) if records else torch.zeros((0, num_tasks)),
            "smiles": [str(r.smiles) for r in records]}


def _uncollate(c: dict) -> list[Data]:
    ys = c["y"].split(1)
    return [make_data(**graph, y=ys[i], smiles=c["smiles"][i]) for i, graph in enumerate(uncollate_graphs(c))]


def save_task(path: Path, task: TaskData) -> None:
    records = task.train + task.valid + task.test
    blob = {"format": FORMAT, "data": _collate(records, task.spec.num_tasks),
            "sizes": [len(task.train), len(task.valid), len(task.test)],
            "spec": task.spec.to_dict(),
            "report": task.report.to_dict() if task.report is not None else None,
            "source": {k: (v if isinstance(v, (int, float, bool)) else str(v))
                       for k, v in task.source.items()}}
    atomic_save(blob, path)


def load_task_file(path: Path) -> TaskData | None:
    """The cached TaskData at `path`, or None when absent or unreadable (then it is rebuilt)."""
    blob = load_blob(path, FORMAT)
    if blob is None:
        return None
    records = _uncollate(blob["data"])
    n_train, n_valid, _ = blob["sizes"]
    report = Report.from_dict(blob["report"]) if blob["report"] is not None else Report()
    return TaskData(spec=TaskSpec.from_dict(blob["spec"]), train=records[:n_train],
                    valid=records[n_train:n_train + n_valid], test=records[n_train + n_valid:],
                    report=report, source={**blob["source"], "cache": str(path)})


def cached_task(cache_dir: str | Path | None, name: str, sources: Sequence[Path], options: dict,
                build: Callable[[], TaskData], strict: bool = False) -> TaskData:
    """`build()` once per (sources, options); later calls load the stored result.

    In strict mode a cached task whose build skipped records raises just as the build would have.
    """
    if cache_dir is None:
        return build()
    for src in sources:
        if not Path(src).is_file():
            raise DataFileError(f"{src}: file not found")
    path = Path(cache_dir) / f"task-{name}-{source_key(list(sources), {'task': name, **options})}.pt"
    task = load_task_file(path)
    if task is not None and strict and task.report.entries:
        raise BadRecordError(f"{task.report.entries[0]} (strict mode: stopping)")
    if task is None:
        task = build()
        save_task(path, task)
        log.info("cached task %s at %s", name, path)
    return task
