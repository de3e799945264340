"""The curated physical-property sets of the paper: boiling point, melting point, refractive
index and logP. Each is a SMILES + value table, split 8:1:1 at random from `seed`, standardised
with the train mean/std, evaluated by MAE in the original units.

Files are found under `root` (or $DND_DATA), directly or in a `physprop/` subfolder:
- "bp": `bp_opera.csv.gz` (columns smiles, bp; °C): OPERA-curated PHYSPROP boiling points.
- "mp": `BradleyMeltingPointDataset.csv.gz` (smiles, mpC, donotuse; °C): Jean-Claude Bradley
  Open Melting Point Dataset. Rows flagged `donotuse` are dropped (the curators' advice); the set
  has repeated measurements of one compound (28,645 rows, ~24k compounds), so values are averaged
  per RDKit canonical SMILES: a compound then sits in exactly one split and counts once, instead
  of leaking near-identical rows from train into test.
- "ri": `refractive_index.csv.gz` (smiles, ri; n_D, dimensionless), built by
  `dnd data refractive-index` from the `chemicals` package; a copy ships inside the package and
  is used when no file is found under root.
- "logp": any SMILES + logP CSV passed as `path=` (or `logp.csv[.gz]` under root); columns via
  `smiles_column=` / `target_column=` (default: "smiles" and the single other column).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
from rdkit import Chem, rdBase

from dnd.errors import UnknownNameError
from dnd.data.report import DataFileError, Report
from dnd.data.tasks.base import TaskData, TaskSpec
from dnd.data.embedded import embedded_dir
from dnd.data.tasks.build import data_root, find_file, read_table, row_label, task_from_table
from dnd.data.tasks.task_cache import cached_task

EMBEDDED_RI = "refractive_index.csv.gz"



@dataclass(frozen=True)
class CuratedSet:
    files: tuple[str, ...]
    smiles_column: str
    target_column: str | None       # None: the single non-SMILES column
    unit: str
    embedded: str | None = None     # file name inside dnd/embedded used when root has none


CURATED = {
    "bp": CuratedSet(("bp_opera.csv.gz", "bp_opera.csv"), "smiles", "bp", "°C"),
    "mp": CuratedSet(("BradleyMeltingPointDataset.csv.gz", "BradleyMeltingPointDataset.csv"),
                     "smiles", "mpC", "°C"),
    "ri": CuratedSet((EMBEDDED_RI, "refractive_index.csv"), "smiles", "ri", "n_D",
                     embedded=EMBEDDED_RI),
    "logp": CuratedSet(("logp.csv.gz", "logp.csv"), "smiles", None, "log P"),
}


def average_repeats(smiles: list[str], raw_values: pd.Series, rows: list[int], file: Path,
                    report: Report) -> tuple[pd.DataFrame, list[str], dict]:
    """One row per RDKit canonical SMILES with the mean of its finite values.

    `rows` are the file's data-row numbers of the inputs. Unparsable SMILES and non-finite values
    are reported per row and left out of the average. Returns the averaged table (columns smiles,
    value), a report label per output row (its first source row and how many rows it merges),
    and counts for the provenance record.
    """
    values = pd.to_numeric(raw_values, errors="coerce").to_numpy(dtype=np.float64)
    groups: dict[str, list[int]] = {}
    with rdBase.BlockLogs():
        for k, (smi, row) in enumerate(zip(smiles, rows)):
            if not np.isfinite(values[k]):
                report.bad(str(file), row_label(row),
                           f"label {raw_values.iloc[k]!r} is not a finite number")
                continue
            mol = Chem.MolFromSmiles(smi)
            if mol is None:
                report.bad(str(file), row_label(row), f"RDKit cannot parse SMILES {smi!r}")
                continue
            groups.setdefault(Chem.MolToSmiles(mol), []).append(k)
    out = pd.DataFrame({"smiles": list(groups),
                        "value": [float(values[g].mean()) for g in groups.values()]})
    labels = [row_label(rows[g[0]]) + (f" (+{len(g) - 1} repeats averaged)" if len(g) > 1 else "")
              for g in groups.values()]
    spread = [float(np.ptp(values[g])) for g in groups.values() if len(g) > 1]
    stats = {"compounds": len(groups), "compounds_with_repeats": len(spread),
             "rows_merged": int(sum(len(g) - 1 for g in groups.values())),
             "max_repeat_spread": max(spread, default=0.0),
             "median_repeat_spread": float(np.median(spread)) if spread else 0.0}
    return out, labels, stats


def _prepare_mp(df: pd.DataFrame, file: Path, smiles_column: str, target: str, report: Report):
    """Bradley set: drop `donotuse` rows, then average repeated measurements per compound."""
    if "donotuse" not in df.columns:
        raise DataFileError(f"{file}: no column 'donotuse' (expected Bradley's dataset layout)")
    flagged = df["donotuse"].notna() & (df["donotuse"].astype(str).str.strip() != "")
    kept = df.loc[~flagged]
    out, labels, stats = average_repeats(kept[smiles_column].astype(str).tolist(), kept[target],
                                         kept.index.tolist(), file, report)
    provenance = {"rows_in_file": len(df), "dropped_donotuse": int(flagged.sum()), **stats}
    return out.rename(columns={"value": target}), labels, provenance


PREPARE: dict[str, Callable] = {"mp": _prepare_mp}


def _target_column(df: pd.DataFrame, file: Path, smiles_column: str, given: str | None) -> str:
    if given is not None:
        return given
    others = [c for c in df.columns if c != smiles_column]
    if len(others) != 1:
        raise DataFileError(f"{file}: cannot tell the value column among {others}; "
                            "pass target_column=")
    return str(others[0])


def curated_file(name: str, root: str | os.PathLike | None, path: str | os.PathLike | None) -> Path:
    cur = CURATED[name]
    if path is not None:
        return Path(path)
    found = find_file(data_root(root), "physprop", cur.files)
    if found is None and cur.embedded and (embedded_dir() / cur.embedded).is_file():
        found = embedded_dir() / cur.embedded
    if found is None:
        base = data_root(root)
        hint = " (build it with `dnd data refractive-index --out FILE`)" if name == "ri" else ""
        raise DataFileError(f"{name}: none of {', '.join(cur.files)} found under "
                            f"{base if base is not None else '(no root given and $DND_DATA unset)'}"
                            f" or its physprop/ folder; pass root= or path={hint}")
    return found


def load_curated(name: str, root: str | os.PathLike | None = None, seed: int = 0,
                 path: str | os.PathLike | None = None, smiles_column: str | None = None,
                 target_column: str | None = None, report: Report | None = None,
                 cache_dir: str | os.PathLike | None = None) -> TaskData:
    """One of `CURATED` as TaskData (random 8:1:1 split from `seed`, MAE, standardised)."""
    if name not in CURATED:
        raise UnknownNameError(f"unknown curated task {name!r}; known: {', '.join(CURATED)}")
    report = report if report is not None else Report()
    file = curated_file(name, root, path)
    options = {"seed": seed, "smiles_column": smiles_column, "target_column": target_column}
    return cached_task(cache_dir, name, [file], options,
                       lambda: _build(name, file, seed, smiles_column, target_column, report),
                       strict=report.strict)


def _build(name: str, file: Path, seed: int, smiles_column: str | None,
           target_column: str | None, report: Report) -> TaskData:
    cur = CURATED[name]
    smiles_col = smiles_column or cur.smiles_column
    given = target_column or cur.target_column
    df = read_table(file, [smiles_col] + ([given] if given else []))
    target = _target_column(df, file, smiles_col, given)
    rows, source = None, {}
    if name in PREPARE:
        df, rows, source = PREPARE[name](df, file, smiles_col, target, report)
        smiles_col = "smiles"
    spec = TaskSpec(name=name, task_type="regression", metric="mae", num_tasks=1,
                    target_names=[target], standardize=True, mean=None, std=None, unit=cur.unit)
    return task_from_table(spec, df, file, smiles_col, [target], "random", seed, report,
                           rows=rows, source=source)
