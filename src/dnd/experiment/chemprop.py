"""chemprop's own training from a dnd foundation: the command the README and the model cards
recommend, run on a dnd task with exactly dnd's split.

The recipe is chemprop's defaults plus `RECOMMENDED_FLAGS`, chosen on the validation splits of
ESOL and FreeSolv at full labels among five candidates (results/vs-chemprop/recipes/) and
checked at 10% and 25% of the labels; `benchmarks/vs_chemprop.py` runs the same commands over
tasks, fractions and seeds.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from dnd.errors import UsageError

# what we add to chemprop's defaults when training from a dnd foundation (see the module docstring)
RECOMMENDED_FLAGS = ("--epochs", "100")


def chemprop_exe() -> str:
    """The `chemprop` command of this environment (installed with dnd)."""
    exe = shutil.which("chemprop", path=str(Path(sys.executable).parent)) or shutil.which("chemprop")
    if exe is None:
        raise UsageError("chemprop's command line is not installed: pip install 'chemprop>=2.3,<2.4'")
    return exe


def write_split_csv(task, path: Path) -> list[str]:
    """One CSV with a `split` column (train/val/test) holding exactly dnd's split; returns the
    target column names."""
    names = [f"t{i}" for i in range(task.spec.num_tasks)]
    rows = [[r.smiles, *r.y.view(-1).tolist(), split]
            for split, recs in (("train", task.train), ("val", task.valid), ("test", task.test))
            for r in recs]
    pd.DataFrame(rows, columns=["smiles", *names, "split"]).to_csv(path, index=False)
    return names


def train_command(csv: Path, targets: list[str], task_type: str, out: Path, seed: int,
                  foundation: str | os.PathLike | None = None, extra: tuple[str, ...] = ()) -> list[str]:
    """`chemprop train` on `csv` (from `write_split_csv`), seeded, on the CPU, one worker."""
    cmd = [chemprop_exe(), "train", "-i", str(csv), "-s", "smiles", "--target-columns", *targets,
           "--splits-column", "split", "-t", "classification" if task_type == "classification" else "regression",
           "--pytorch-seed", str(seed), "--data-seed", str(seed), "-o", str(out), "-q",
           "--accelerator", "cpu", "--num-workers", "0"]
    if foundation is not None:
        cmd += ["--from-foundation", str(foundation)]
    return cmd + list(extra)


def run_command(cmd: list[str]) -> None:
    """Runs a chemprop command single-threaded; its stderr tail becomes the error."""
    done = subprocess.run(cmd, capture_output=True, text=True, env=os.environ | {"OMP_NUM_THREADS": "1"})
    if done.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")


def read_test_predictions(task, out: Path, targets: list[str]) -> np.ndarray:
    """chemprop's test-split predictions of a run in `out`, checked to be in dnd's test order."""
    preds = pd.read_csv(next(out.rglob("test_predictions.csv")))
    if preds["smiles"].tolist() != [r.smiles for r in task.test]:
        raise RuntimeError(f"{out}: chemprop's test predictions are not in test-split order")
    return preds[targets].to_numpy(dtype=float)


def best_model(out: Path) -> Path:
    """The model file chemprop kept for a run (selected on its validation split)."""
    return next(out.rglob("best.pt"))


def predict_command(model: Path, smiles_csv: Path, out_csv: Path) -> list[str]:
    return [chemprop_exe(), "predict", "-i", str(smiles_csv), "-s", "smiles", "--model-paths", str(model),
            "-o", str(out_csv), "--accelerator", "cpu", "--num-workers", "0"]
