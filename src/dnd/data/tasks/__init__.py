"""Downstream tasks by name: `load_task(name_or_path, root=None, seed=0, **opts) -> TaskData`.

Names: the ten OGB molecule tasks ("ogbg-molesol" ... "ogbg-moltoxcast"), the curated sets
("bp", "mp", "ri", "logp"), QM9 targets ("qm9-mu", "qm9-alpha", "qm9-homo", "qm9-lumo",
"qm9-gap", "qm9-r2", "qm9-zpve", "qm9-cv"), or the path of a CSV file.

`root` is the data folder (or $DND_DATA); each loader looks there and in the usual subfolder
(ogb/, moleculenet/, physprop/, qm9/). Without either, "ogbg-molesol" and "ri" fall back to the
copies shipped inside the package. Common options: `strict` (stop at the first bad record instead
of reporting and skipping it), `cache_dir` (store the built task and reuse it). Loader-specific
options are passed through (see each module).
"""

from __future__ import annotations

import inspect
import os
from pathlib import Path
from typing import Any, Callable

from dnd.errors import UnknownNameError, UsageError
from dnd.data.report import Report
from dnd.data.embedded import ogb_root
from dnd.data.featurize import atom_limit
from dnd.data.tasks.base import TaskData
from dnd.data.tasks.csv_task import is_csv_path, load_csv_task
from dnd.data.tasks.curated import CURATED, load_curated
from dnd.data.tasks.ogb import OGB_TASKS, load_ogb_task
from dnd.data.tasks.qm9 import QM9_TARGETS, check_qm9_options, load_qm9

TASK_NAMES = (*OGB_TASKS, *CURATED, *(f"qm9-{t}" for t in QM9_TARGETS))



def load_task(name_or_path: str | os.PathLike, root: str | os.PathLike | None = None,
              seed: int = 0, strict: bool = False, cache_dir: str | os.PathLike | None = None,
              **opts) -> TaskData:
    """Build (or load from `cache_dir`) one downstream task; see the module docstring.

    `seed` drives random splits (curated sets, CSVs with split="random"); OGB splits are fixed
    and QM9 uses 3DInfomax's split seed unless `split_seed=` is given.
    """
    name = str(name_or_path)
    check_task_options(name, opts)
    with atom_limit(opts.pop("max_atoms", None)):
        return _load(name, root, seed, Report(strict=strict), cache_dir, opts)


def _load(name: str, root, seed: int, report: Report, cache_dir, opts: dict[str, Any]) -> TaskData:
    loader = task_loader(name)
    if name in OGB_TASKS:
        return loader(name, root=root, report=report, embedded_root=ogb_root(), cache_dir=cache_dir, **opts)
    if name in CURATED:
        return loader(name, root=root, seed=seed, report=report, cache_dir=cache_dir, **opts)
    if name.startswith("qm9-"):
        return loader(name, root=root, report=report, cache_dir=cache_dir, **opts)
    return loader(name, seed=seed, report=report, **opts)


def task_loader(name: str) -> Callable[..., TaskData]:
    """The loader function of a task name or CSV path; UnknownNameError for anything else."""
    if name in OGB_TASKS:
        return load_ogb_task
    if name in CURATED:
        return load_curated
    if name.startswith("qm9-"):
        return load_qm9
    if is_csv_path(name) or Path(name).is_file():
        return load_csv_task
    raise UnknownNameError(f"unknown task {name!r}: use one of {', '.join(TASK_NAMES)} or a CSV path")


# set by load_task itself, never a user option
_INTERNAL = {"name", "name_or_path", "path_or_name", "root", "seed", "report", "embedded_root", "cache_dir"}


def task_option_names(name: str) -> list[str]:
    """The per-task options `name`'s loader accepts (e.g. target_columns for a CSV)."""
    params = inspect.signature(task_loader(name)).parameters
    return [*(p for p in params if p not in _INTERNAL), "max_atoms"]  # max_atoms: load_task's own


def check_task_options(name: str, opts: dict[str, Any]) -> None:
    """UsageError naming an option the task's loader does not take (instead of a TypeError deep
    inside it), so a typo in `task_options:` or a CSV-only flag on an OGB task is caught early."""
    known = task_option_names(name)
    unknown = sorted(set(opts) - set(known))
    if unknown:
        raise UsageError(f"task {name!r} does not take option(s) {', '.join(unknown)}; "
                         f"it takes: {', '.join(known) or 'none'}")
    if task_loader(name) is load_qm9:
        try:
            check_qm9_options(opts)
        except UsageError as err:
            raise UsageError(f"task {name!r}: {err}") from None


__all__ = ["TASK_NAMES", "check_task_options", "load_task", "task_loader", "task_option_names"]
