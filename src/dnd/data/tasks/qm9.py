"""QM9 property tasks "qm9-<target>" for the paper's 8 targets, on 2D graphs only.

Units follow 3DInfomax (Stärk et al. 2022), whose protocol the paper reports against: energies
(HOMO, LUMO, gap, ZPVE) in meV, converted from the Hartree values of the QM9 files with SciPy's
CODATA Hartree-eV factor as 3DInfomax does; mu in D, alpha in bohr^3, R2 in bohr^2, cv in
cal/(mol K), unchanged.

Split (3DInfomax's `train_qm9`): the 130,831 characterised molecules in QM9 index order are
permuted with NumPy's legacy generator seeded 123; the first 100,000 form the model pool, the
next int(0.1 * 130,831) = 13,083 are test and the remaining 17,748 are validation. Finetuning
trains on pool[offset : offset + train_size]; 3DInfomax's QM9 configs use train_size 50,000 with
offset 0, or offset 50,000 when the encoder was pretrained on QM9's first 50,000 (so pretraining
and finetuning molecules are disjoint). Targets are standardised with the train split's mean/std
(3DInfomax used the whole dataset's; train-only keeps test labels out of training); metric MAE.

The graph is the molecule's SMILES featurised with OGB features (no coordinates). The source is
the qm9pack CSV (`qm9_coords_props.csv[.xz]`, as shipped in shared data's `qm9/`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.constants import physical_constants

from dnd.errors import UnknownNameError, UsageError
from dnd.data.report import DataFileError, Report
from dnd.data.tasks.base import TaskData, TaskSpec
from dnd.data.tasks.build import assemble, data_root, find_file, make_records, read_table
from dnd.data.tasks.task_cache import cached_task

HARTREE_TO_MEV = physical_constants["hartree-electron volt relationship"][0] * 1000.0
QM9_FILES = ("qm9pack_qm9_coords_props.csv.xz", "qm9_coords_props.csv.xz",
             "qm9pack_qm9_coords_props.csv", "qm9_coords_props.csv")

SPLIT_SEED = 123          # 3DInfomax's --seed_data default
POOL = 100_000            # 3DInfomax's model_idx size
TEST_FRACTION = 0.1


@dataclass(frozen=True)
class QM9Target:
    column: str
    factor: float
    unit: str


QM9_TARGETS = {
    "mu": QM9Target("Dipole_debye", 1.0, "D"),
    "alpha": QM9Target("Polarizability_bohr3", 1.0, "bohr^3"),
    "homo": QM9Target("HOMO_au", HARTREE_TO_MEV, "meV"),
    "lumo": QM9Target("LUMO_au", HARTREE_TO_MEV, "meV"),
    "gap": QM9Target("HOMO_LUMO_gap_au", HARTREE_TO_MEV, "meV"),
    "r2": QM9Target("R2_bohr2", 1.0, "bohr^2"),
    "zpve": QM9Target("ZPVE_au", HARTREE_TO_MEV, "meV"),
    "cv": QM9Target("Heatcapacity_Cv_cal_mol_K", 1.0, "cal/(mol K)"),
}


def qm9_split(n: int, train_size: int = 50_000, train_offset: int = 0,
              seed: int = SPLIT_SEED, valid_size: int | None = None) -> dict[str, list[int]]:
    """3DInfomax's QM9 split of n molecules (see module docstring). `valid_size` keeps a seeded
    random part of the validation set (model selection scores it every epoch, which dominates
    CPU-scale runs); the test set always stays whole."""
    perm = np.random.RandomState(seed).permutation(n)
    pool = perm[:POOL]
    n_test = int(TEST_FRACTION * n)
    if train_offset < 0 or train_size <= 0 or train_offset + train_size > len(pool):
        raise UsageError(f"train slice [{train_offset}, {train_offset + train_size}) is outside "
                         f"the {len(pool)}-molecule training pool")
    valid = perm[POOL + n_test:]
    if valid_size is not None:
        if not 0 < valid_size <= len(valid):
            raise UsageError(f"valid_size {valid_size} must be in [1, {len(valid)}]")
        valid = valid[np.sort(np.random.RandomState(seed).permutation(len(valid))[:valid_size])]
    return {"train": pool[train_offset:train_offset + train_size].tolist(),
            "valid": valid.tolist(), "test": perm[POOL:POOL + n_test].tolist()}


QM9_MOLECULES = 130_831   # characterised molecules of the qm9pack file: what option checks split


def check_qm9_options(opts: dict) -> None:
    """UsageError for a split option that `load_qm9` would reject, checked without the data (so
    `dnd run --check` stops a bad `task_options:` value before pretraining, not after)."""
    for key in ("train_size", "train_offset", "split_seed", "valid_size"):
        value = opts.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise UsageError(f"{key} must be an integer, got {value!r}")
    qm9_split(QM9_MOLECULES, **{k: opts[k] for k in ("train_size", "train_offset", "valid_size") if k in opts})


def qm9_file(root: str | os.PathLike | None) -> Path:
    found = find_file(data_root(root), "qm9", QM9_FILES)
    if found is None:
        raise DataFileError(f"QM9: none of {', '.join(QM9_FILES)} found under "
                            f"{data_root(root) or '(no root given and $DND_DATA unset)'} or its "
                            "qm9/ folder (pip download qm9pack ships the CSV parts)")
    return found


def _build(target: str, path: Path, train_size: int, train_offset: int, split_seed: int,
           valid_size: int | None, report: Report) -> TaskData:
    spec_t = QM9_TARGETS[target]
    df = read_table(path, ["Index", "SMILES", spec_t.column],
                    usecols=lambda c: c in ("Index", "SMILES", spec_t.column))
    df = df.sort_values("Index", kind="stable").reset_index(drop=True)
    labels = pd.to_numeric(df[spec_t.column], errors="coerce").to_numpy(np.float64) * spec_t.factor
    # only molecules in some split are featurised (81k of 131k with the default 50k train)
    wanted = qm9_split(len(df), train_size, train_offset, split_seed, valid_size)
    rows = sorted(i for idx in wanted.values() for i in idx)
    records, kept = make_records(df["SMILES"].iloc[rows].tolist(), labels[rows],
                                 [f"molecule index {df['Index'].iloc[i]}" for i in rows],
                                 str(path), [target], report)
    position = {rows[k]: j for j, k in enumerate(kept)}     # dataframe row -> record
    split = {part: [position[i] for i in idx if i in position] for part, idx in wanted.items()}
    spec = TaskSpec(name=f"qm9-{target}", task_type="regression", metric="mae", num_tasks=1,
                    target_names=[target], standardize=True, mean=None, std=None,
                    unit=spec_t.unit)
    return assemble(spec, records, split, report,
                    {"file": str(path), "split": "3DInfomax random (seed_data)",
                     "split_seed": split_seed, "train_size": train_size,
                     "train_offset": train_offset, "valid_size": valid_size, "rows_in_file": len(df)})


def load_qm9(name: str, root: str | os.PathLike | None = None, report: Report | None = None,
             train_size: int = 50_000, train_offset: int = 0, split_seed: int = SPLIT_SEED,
             valid_size: int | None = None, cache_dir: str | os.PathLike | None = None) -> TaskData:
    """"qm9-<target>" with target in `QM9_TARGETS` (see module docstring for units and split)."""
    target = name.removeprefix("qm9-")
    if target not in QM9_TARGETS:
        raise UnknownNameError(f"unknown QM9 target {target!r}; known: {', '.join(QM9_TARGETS)}")
    report = report if report is not None else Report()
    path = qm9_file(root)
    options = {"train_size": train_size, "train_offset": train_offset, "split_seed": split_seed,
               "valid_size": valid_size}
    return cached_task(cache_dir, name, [path], options,
                       lambda: _build(target, path, train_size, train_offset, split_seed, valid_size, report),
                       strict=report.strict)
