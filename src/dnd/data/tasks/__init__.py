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

import os
from pathlib import Path

from dnd.data.report import Report
from dnd.data.embedded import ogb_root
from dnd.data.tasks.base import TaskData
from dnd.data.tasks.csv_task import is_csv_path, load_csv_task
from dnd.data.tasks.curated import CURATED, load_curated
from dnd.data.tasks.ogb import OGB_TASKS, load_ogb_task
from dnd.data.tasks.qm9 import QM9_TARGETS, load_qm9

TASK_NAMES = (*OGB_TASKS, *CURATED, *(f"qm9-{t}" for t in QM9_TARGETS))



def load_task(name_or_path: str | os.PathLike, root: str | os.PathLike | None = None,
              seed: int = 0, strict: bool = False, cache_dir: str | os.PathLike | None = None,
              **opts) -> TaskData:
    """Build (or load from `cache_dir`) one downstream task; see the module docstring.

    `seed` drives random splits (curated sets, CSVs with split="random"); OGB splits are fixed
    and QM9 uses 3DInfomax's split seed unless `split_seed=` is given.
    """
    report = Report(strict=strict)
    name = str(name_or_path)
    if name in OGB_TASKS:
        return load_ogb_task(name, root=root, report=report, embedded_root=ogb_root(),
                             cache_dir=cache_dir, **opts)
    if name in CURATED:
        return load_curated(name, root=root, seed=seed, report=report, cache_dir=cache_dir, **opts)
    if name.startswith("qm9-"):
        return load_qm9(name, root=root, report=report, cache_dir=cache_dir, **opts)
    if is_csv_path(name) or Path(name).is_file():
        return load_csv_task(name, seed=seed, report=report, **opts)
    raise KeyError(f"unknown task {name!r}: use one of {', '.join(TASK_NAMES)} or a CSV path")


__all__ = ["TASK_NAMES", "load_task"]
