"""The ten OGB molecule property tasks, by OGB name.

Two ways to the same task:
1. OGB's own on-disk layout `<root>/ogbg_molXXX/{mapping/mol.csv.gz, split/scaffold/*.csv.gz}`
   (or `<root>/ogb/ogbg_molXXX/...`): graph i is row i of mol.csv.gz; split files are honoured
   exactly. This is what `ogb.graphproppred` downloads, so an existing OGB dataset folder works.
2. Where only the MoleculeNet CSV exists (lipo, clintox, hiv, sider, tox21, toxcast), the task is
   rebuilt from it with OGB's scaffold procedure (`scaffold.py`, which reproduces OGB's shipped
   splits exactly). Row order and counts can differ slightly from OGB's (e.g. SMILES that today's
   RDKit rejects are skipped), so results on these are OGB-protocol, not OGB-identical.

Task type, metric and number of tasks come from OGB's own `master.csv`, never from this file.
Regression targets (esol, freesolv, lipo) are standardised with the train mean/std for the loss,
which matters for the paper's L1 finetuning (freesolv spans ~25 kcal/mol); metrics are always in
original units. Classification labels are 0/1 with NaN for a missing label.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import pandas as pd

from dnd.errors import UnknownNameError
from dnd.data.report import DataFileError, Report
from dnd.data.tasks.base import TaskData, TaskSpec
from dnd.data.tasks.build import (assemble, data_root, find_file, labels_array, make_records,
                                  read_table, task_from_table)
from dnd.data.tasks.task_cache import cached_task

OGB_TASKS = ("ogbg-molesol", "ogbg-molfreesolv", "ogbg-mollipo", "ogbg-molbace", "ogbg-molbbbp",
             "ogbg-molclintox", "ogbg-molhiv", "ogbg-molsider", "ogbg-moltox21", "ogbg-moltoxcast")

UNITS = {"ogbg-molesol": "log(mol/L)", "ogbg-molfreesolv": "kcal/mol", "ogbg-mollipo": "logD"}


@dataclass(frozen=True)
class MoleculeNetCSV:
    """Where a MoleculeNet CSV keeps the task: file names tried, SMILES and label columns
    (None = every column but the SMILES column, in file order, as OGB ordered its tasks)."""

    files: tuple[str, ...]
    smiles: str
    labels: tuple[str, ...] | None


_TOX21 = ("NR-AR", "NR-AR-LBD", "NR-AhR", "NR-Aromatase", "NR-ER", "NR-ER-LBD", "NR-PPAR-gamma",
          "SR-ARE", "SR-ATAD5", "SR-HSE", "SR-MMP", "SR-p53")

MOLECULENET = {
    "ogbg-mollipo": (MoleculeNetCSV(("lipo.csv.gz", "lipo.csv"), "smiles", ("lipo",)),
                     MoleculeNetCSV(("Lipophilicity.csv.gz", "Lipophilicity.csv"), "smiles", ("exp",))),
    "ogbg-molclintox": (MoleculeNetCSV(("clintox.csv.gz", "clintox.csv"), "smiles",
                                       ("FDA_APPROVED", "CT_TOX")),),
    "ogbg-molhiv": (MoleculeNetCSV(("HIV.csv.gz", "HIV.csv", "hiv.csv.gz", "hiv.csv"), "smiles",
                                   ("HIV_active",)),),
    "ogbg-molsider": (MoleculeNetCSV(("sider.csv.gz", "sider.csv"), "smiles", None),),
    "ogbg-moltox21": (MoleculeNetCSV(("tox21.csv.gz", "tox21.csv"), "smiles", _TOX21),),
    "ogbg-moltoxcast": (MoleculeNetCSV(("toxcast.csv.gz", "toxcast.csv", "toxcast_data.csv.gz",
                                        "toxcast_data.csv"), "smiles", None),),
}


@lru_cache(maxsize=None)
def _master() -> pd.DataFrame:
    text = resources.files("ogb.graphproppred").joinpath("master.csv").read_text()
    return pd.read_csv(io.StringIO(text), index_col=0)


def ogb_metadata(name: str) -> dict:
    """{"task_type", "metric", "num_tasks"} for an OGB graph-property dataset, from OGB itself."""
    master = _master()
    if name not in master.columns:
        raise UnknownNameError(f"{name!r} is not an OGB graph property dataset (known: "
                       f"{', '.join(c for c in master.columns if c.startswith('ogbg-mol'))})")
    meta = master[name]
    kind = str(meta["task type"])
    task_type = "regression" if kind == "regression" else "classification"
    if task_type == "classification" and kind != "binary classification":
        raise ValueError(f"{name}: OGB task type {kind!r} is not supported")
    return {"task_type": task_type, "metric": str(meta["eval metric"]),
            "num_tasks": int(meta["num tasks"])}


def _spec(name: str, target_names: list[str]) -> TaskSpec:
    meta = ogb_metadata(name)
    if len(target_names) != meta["num_tasks"]:
        raise DataFileError(f"{name}: OGB declares {meta['num_tasks']} tasks but the data has "
                            f"{len(target_names)} label columns")
    regression = meta["task_type"] == "regression"
    return TaskSpec(name=name, task_type=meta["task_type"], metric=meta["metric"],
                    num_tasks=meta["num_tasks"], target_names=target_names,
                    standardize=regression, mean=None, std=None, unit=UNITS.get(name, ""))


def ogb_dir(name: str, root: Path | None) -> Path | None:
    """The OGB dataset folder (`ogbg_molXXX`) under root or root/ogb, if it has a mapping file."""
    if root is None:
        return None
    folder = name.replace("-", "_")
    for base in (root, root / "ogb"):
        if (base / folder / "mapping" / "mol.csv.gz").is_file():
            return base / folder
    return None


def _read_split(path: Path, n: int) -> list[int]:
    if not path.is_file():
        raise DataFileError(f"{path}: split file not found")
    try:
        idx = pd.read_csv(path, header=None).iloc[:, 0].astype(int).tolist()
    except pd.errors.EmptyDataError:
        raise DataFileError(f"{path}: split file is empty") from None
    bad = [i for i in idx if not 0 <= i < n]
    if bad:
        raise DataFileError(f"{path}: index {bad[0]} outside 0..{n - 1} (mol.csv.gz has {n} rows)")
    return idx


def load_ogb_layout(name: str, folder: Path, report: Report) -> TaskData:
    mapping = folder / "mapping" / "mol.csv.gz"
    df = read_table(mapping, ["smiles"])
    target_names = [c for c in df.columns if c not in ("smiles", "mol_id")]
    spec = _spec(name, target_names)
    labels = labels_array(df, target_names, mapping)
    records, kept = make_records(df["smiles"].tolist(), labels,
                                 [f"row {i} (graph {i})" for i in range(len(df))], str(mapping),
                                 target_names, report)
    position = {row: k for k, row in enumerate(kept)}   # OGB row -> index into records
    split = {}
    for part in ("train", "valid", "test"):
        rows = _read_split(folder / "split" / "scaffold" / f"{part}.csv.gz", len(df))
        split[part] = [position[r] for r in rows if r in position]
    return assemble(spec, records, split, report,
                    {"file": str(mapping), "layout": "ogb", "split": "scaffold (OGB files)",
                     "rows_in_file": len(df)})


def load_moleculenet(name: str, path: Path, csv: MoleculeNetCSV, report: Report) -> TaskData:
    df = read_table(path, [csv.smiles, *(csv.labels or ())])
    target_names = list(csv.labels) if csv.labels else [c for c in df.columns if c != csv.smiles]
    spec = _spec(name, target_names)
    return task_from_table(spec, df, path, csv.smiles, target_names, "scaffold", 0, report,
                           source={"layout": "moleculenet-csv",
                                   "note": "scaffold split computed with OGB's procedure"})


def load_ogb_task(name: str, root: str | os.PathLike | None = None, report: Report | None = None,
                  embedded_root: Path | None = None,
                  cache_dir: str | os.PathLike | None = None) -> TaskData:
    """One of `OGB_TASKS`. root (or $DND_DATA) holds OGB folders or MoleculeNet CSVs;
    `embedded_root` is the fallback OGB folder tree when root has neither."""
    if name not in OGB_TASKS:
        raise UnknownNameError(f"unknown OGB task {name!r}; known: {', '.join(OGB_TASKS)}")
    report = report if report is not None else Report()
    base = data_root(root)
    folder = ogb_dir(name, base) or ogb_dir(name, embedded_root)
    if folder is not None:
        files = [folder / "mapping" / "mol.csv.gz"] + [
            folder / "split" / "scaffold" / f"{p}.csv.gz" for p in ("train", "valid", "test")]
        return cached_task(cache_dir, name, files, {"layout": "ogb"},
                           lambda: load_ogb_layout(name, folder, report), strict=report.strict)
    tried = []
    for csv in MOLECULENET.get(name, ()):
        path = find_file(base, "moleculenet", csv.files)
        if path is not None:
            return cached_task(cache_dir, name, [path], {"layout": "moleculenet", "csv": str(csv)},
                               lambda: load_moleculenet(name, path, csv, report),
                               strict=report.strict)
        tried.extend(csv.files)
    where = f"{base}" if base is not None else "nowhere (pass root= or set $DND_DATA)"
    wanted = f"{name.replace('-', '_')}/mapping/mol.csv.gz"
    if tried:
        wanted += " or a MoleculeNet CSV (" + ", ".join(tried) + ")"
    raise DataFileError(f"{name}: no data found in {where}: looked for {wanted} "
                        f"(directly and under ogb/ and moleculenet/)")
