"""dnd against chemprop on the same splits, seeds and evaluator: the side-by-side table.

Rows (methods):
- `chemprop defaults`: `chemprop train` with every default (D-MPNN 300 x 3, norm aggregation,
  50 epochs, its own scaler and schedule);
- `chemprop + <NAME> foundation`: the same command plus `--from-foundation FILE`, FILE a D&D
  D-MPNN student exported by `dnd export chemprop`; only the initialisation differs;
- `dnd finetune <NAME>`: dnd's own finetuning recipe from a student checkpoint (optional), and
  `dnd finetune RandInit <ENCODER> (<PRESET>)` the same recipe from a random initialisation;
- the paper's Table 1 numbers, as their own labelled rows (not runs; full labels only).

Every chemprop run trains on the task's train split, selects on its valid split (chemprop's
`--splits-column`) and predicts the test split; all rows are scored by dnd's evaluator (OGB's
Evaluator for OGB tasks), so one metric implementation judges both tools. Curated sets (bp, mp,
ri) are scored as MAE in the label's units and as MAE in units of the std of the whole training
split's labels (`mae_std`, the scale of the paper's Table 1; the same unit at every fraction).
Finished runs are appended to `runs.csv` at once and skipped when the command is run again, so an
interrupted benchmark continues; several commands may share one `--out` (e.g. one per core, each
with its own `--tasks` and OMP_NUM_THREADS=1: each command alone takes all the cores, and two
oversubscribing two cores ran 10-15x slower here): each append re-reads the file under a lock and
replaces it atomically.

Few labels: `--train-fractions 0.1 0.25 1.0` trains on a fraction of the training split. At one
seed and fraction every method trains on the SAME subset (`train_subset`: round(fraction x n_train)
rows, at least 2, drawn by numpy's default_rng seeded with (seed, fraction), kept in split order;
probes.py uses it too), so methods are compared pairwise, seed by seed; valid and test never change. Fraction
1.0 runs the seeds of `--seeds` (default 0 1 2) on the whole split, as before this option existed
(so the runs already in runs.csv count), smaller fractions the seeds of `--few-label-seeds`
(default 0-4), because small-data differences are noisier. `--control CONTROL=TEACHER` declares a
foundation row a control of another (e.g. distilled from an untrained teacher), and the summary
puts the pair side by side with their paired difference.

    python benchmarks/vs_chemprop.py --data-root ../shared/data --out results/vs-chemprop \
        --foundation D\\&D-NODE=runs/druglike/node.chemprop.pt \
        --foundation "D&D-NODE, untrained teacher=runs/untrained/node.chemprop.pt" \
        --control "D&D-NODE, untrained teacher=D&D-NODE" \
        --train-fractions 0.1 0.25 1.0 --workers 2 --plot

Finetuning recipes: `--recipe NAME="FLAGS"` (repeatable) runs every foundation also under
chemprop `train` FLAGS (e.g. `--recipe gentle="--max-lr 3e-4 --warmup-epochs 4"`), as the method
'chemprop + <NAME> foundation [gentle]'. FLAGS are read by chemprop's own argument parser (only
real flags pass) and may not touch what the benchmark fixes (data, split, seeds, output,
`--from-foundation`). The `chemprop defaults` row always runs exactly as chemprop ships it: it is
the reference of every Δ, so a recipe can only be credited with beating chemprop as users get it;
`--recipe-defaults` adds 'chemprop defaults [R]' (no foundation, recipe R), the control that
separates the recipe's effect from the foundation's. `--recipes-only` skips the foundations'
as-shipped rows. `--control` pairs hold under every recipe ('T [R]' vs 'C [R]').
`--dnd-recipe NAME="FLAGS"` is the same for the `dnd finetune` rows: FLAGS are `dnd finetune`'s
own settings (e.g. `--batch-size 32 --layer-decay 0.8`), read by its config parser, over dnd's
recipe; the initialisation, subset, seed and label stay the benchmark's.

Validation: every chemprop run also records `valid_<metric>` (e.g. `valid_rmse`): its best.pt
(the checkpoint chemprop selected on the valid split) predicts the valid split in-process with
chemprop's default featurisation and dnd's evaluator scores it; the same model must first
reproduce chemprop's own test_predictions.csv (1e-4), else the run fails. Rows without the column
(copied from an older runs.csv) are scored from their best.pt in `--work` when it reproduces the
row's recorded test metric. selection.csv / selection.md rank the methods on validation only, at
each `--select-fraction` (default 1.0): per task the paired valid Δ vs defaults, overall the mean over
tasks of the relative valid gain; choose a recipe there, then read its test numbers once.

runs.csv, one row per task, method, seed and fraction: `task`, `method`, `seed`,
`train_fraction` (rows written before the option existed are read as 1.0), `n_train` (training
molecules used; empty in old rows), `wall_s` (seconds of the run), then the test metrics (`rmse` / `rocauc` / `mae`,
the task's own metric; `mae_std` for single-target regression), then `valid_<metric>`.

summary.csv, one row per task, fraction, method and metric: `mean`, `std` (over seeds),
`n_seeds`, `wall_s_per_seed`; on the task's own metric also the paired comparisons, where
Δ > 0 always means better (defaults - method for rmse/mae, method - defaults for rocauc):
`vs_defaults_mean` / `vs_defaults_std` (over seeds of the per-seed Δ against `chemprop defaults`),
`vs_defaults_n` (paired seeds), `vs_defaults_won` (seeds with Δ > 0), `vs_defaults_p` (two-sided
paired test; `vs_defaults_test` says which: `ttest_rel` below 6 seeds, `wilcoxon` from 6),
`vs_defaults_p_holm` (Holm-adjusted over every p-value of the table); `control` (the row's declared control) and
`vs_control_*`, the same for the row against its control. summary.md shows the same and lists
the comparisons that survive Holm at 0.05; `--plot` writes `plots/<task>.png`, the test metric
against the training fraction.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
import threading
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from filelock import FileLock

from dnd.experiment import chemprop as chemprop_cli  # the commands, shared with dnd quickstart

OGB_TASKS = ["ogbg-molesol", "ogbg-molfreesolv", "ogbg-mollipo", "ogbg-molbbbp", "ogbg-molbace",
             "ogbg-molclintox", "ogbg-molsider"]
CURATED = ["bp", "mp", "ri"]
DEFAULTS = "chemprop defaults"
PRIMARY = ("rmse", "rocauc", "mae")  # a task's own metric: the one its rows are compared on
RUN_KEYS = ("task", "method", "seed", "train_fraction", "n_train", "wall_s")
WILCOXON_FROM = 6  # below this many seeds the signed-rank test cannot reach p < 0.05 (2/2^5 > 0.05)
HOLM_ALPHA = 0.05

# D&D paper, Table 1 (GPU scale: PCQM4Mv2 teacher, TokenGT student, 3 seeds): per task the best
# RandInit cell and the best D&D cell (GRAPH/NODE x MP/VN), test mean and std. Curated MAE there is
# on standardised labels, our `mae_std`.
PAPER = {
    "ogbg-molesol": [("RandInit+MP", 1.0491, 0.0363), ("D&D-GRAPH+MP", 0.9276, 0.0562)],
    "ogbg-molfreesolv": [("RandInit+VN", 3.5325, 0.0453), ("D&D-GRAPH+MP", 2.6814, 0.0867)],
    "ogbg-mollipo": [("RandInit+VN", 0.9703, 0.0145), ("D&D-NODE+MP", 0.6975, 0.0197)],
    "ogbg-molbace": [("RandInit+VN", 0.7078, 0.0284), ("D&D-GRAPH+VN", 0.7271, 0.0721)],
    "ogbg-molbbbp": [("RandInit+MP", 0.6453, 0.0153), ("D&D-NODE+VN", 0.6788, 0.0068)],
    "ogbg-molclintox": [("RandInit+VN", 0.6834, 0.0468), ("D&D-GRAPH+MP", 0.6761, 0.0211)],
    "ogbg-molsider": [("RandInit+MP", 0.6005, 0.0058), ("D&D-NODE+VN", 0.6257, 0.0106)],
    "bp": [("RandInit+MP", 0.3000, 0.0027), ("D&D-NODE+MP", 0.2220, 0.0022)],
    "mp": [("RandInit+VN", 0.3662, 0.0033), ("D&D-NODE+MP", 0.2937, 0.0003)],
    "ri": [("RandInit+MP", 0.1243, 0.0032), ("D&D-NODE+VN", 0.0666, 0.0014)],
}


def train_subset(n_train: int, fraction: float, seed: int) -> np.ndarray:
    """Indices, in split order, of the training rows a run at (seed, fraction) trains on.

    Depends only on (n_train, fraction, seed), never on the method, so every method at one seed
    and fraction sees the same molecules and the comparison is paired. Fraction 1.0 is the whole
    split, exactly what runs made before fractions existed trained on."""
    if not 0 < fraction <= 1:
        raise ValueError(f"train fraction must be in (0, 1], got {fraction}")
    if fraction == 1.0:
        return np.arange(n_train)
    size = min(n_train, max(2, round(fraction * n_train)))
    rng = np.random.default_rng([seed, round(fraction * 1_000_000)])
    return np.sort(rng.choice(n_train, size=size, replace=False))


def subset_task(task, fraction: float, seed: int):
    """`task` with its training split cut to `train_subset`; spec, valid and test unchanged (the
    spec's label std, fitted on the whole split, stays the unit of `mae_std` at every fraction)."""
    keep = train_subset(len(task.train), fraction, seed)
    return replace(task, train=[task.train[i] for i in keep])


def score(task, pred: np.ndarray, records=None) -> dict[str, float]:
    """dnd's evaluator on `records` (default the test split) against `pred`, in record order."""
    from dnd.evaluation.metrics import evaluate
    true = np.stack([r.y.view(-1).numpy() for r in (task.test if records is None else records)])
    out = {task.spec.metric: evaluate(task.spec, true, pred)[task.spec.metric]}
    if task.spec.task_type == "regression" and task.spec.std is not None and task.spec.num_tasks == 1:
        out["mae_std"] = float(np.nanmean(np.abs(true - pred)) / task.spec.std[0])
    return out


# chemprop train options the benchmark sets itself: a recipe may not change them (data, split,
# seeds, output, initialisation, hardware), only how the model is trained.
RESERVED_DESTS = ("data_path", "smiles_columns", "target_columns", "splits_column", "splits_file",
                  "split", "split_sizes", "task_type", "pytorch_seed", "data_seed", "output_dir",
                  "from_foundation", "checkpoint", "model_frzn", "accelerator", "devices",
                  "num_workers", "separate_val_path", "separate_test_path", "num_replicates")


def _chemprop_train_args(flags: list[str]):
    """chemprop's own `train` parser applied to FLAGS (plus a dummy input): its Namespace, or
    ValueError with chemprop's message when chemprop would refuse them."""
    import contextlib
    import io
    from chemprop.cli.main import construct_parser
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            return construct_parser().parse_args(["train", "-i", "data.csv", *flags])
    except SystemExit:
        raise ValueError(err.getvalue().strip().splitlines()[-1] if err.getvalue().strip() else
                         f"chemprop train refuses {flags}") from None


def recipe_name(spec: str, option: str, tool: str, taken) -> tuple[str, str]:
    """NAME and FLAGS of one `NAME="FLAGS"` recipe option; ValueError for a malformed or taken
    NAME (brackets mark a recipe in a method label, so NAME holds none)."""
    name, sep, text = spec.partition("=")
    name = name.strip()
    if not sep or not name or any(c in name for c in "[]=/"):
        raise ValueError(f"{option} {spec!r}: expected NAME=\"--{tool}-flag VALUE ...\" (NAME without [ ] = /)")
    if name in taken:
        raise ValueError(f"{option}: {name!r} given twice")
    return name, text


def parse_recipes(specs: list[str]) -> dict[str, list[str]]:
    """`--recipe NAME="FLAGS"` options -> {NAME: [flag, ...]}: chemprop `train` flags (parsed by
    chemprop's own argument parser, so only real chemprop flags pass) that change how a run
    trains; flags that would change what the benchmark fixes (data, split, seeds, output,
    `--from-foundation`) are refused, as are recipes equal to chemprop's defaults."""
    recipes: dict[str, list[str]] = {}
    base = vars(_chemprop_train_args([])) if specs else {}
    for spec in specs:
        name, text = recipe_name(spec, "--recipe", "chemprop", recipes)
        flags = shlex.split(text)
        if not flags or not flags[0].startswith("-"):
            raise ValueError(f"--recipe {name}: {text!r} does not start with a chemprop flag")
        try:
            parsed = vars(_chemprop_train_args(flags))
        except ValueError as e:
            raise ValueError(f"--recipe {name}: chemprop train refuses {text!r}: {e}") from None
        changed = {k for k in parsed if parsed[k] != base.get(k)}
        if changed & set(RESERVED_DESTS):
            raise ValueError(f"--recipe {name}: sets {sorted(changed & set(RESERVED_DESTS))}, "
                             "which the benchmark fixes for every method")
        if not changed:
            raise ValueError(f"--recipe {name}: {text!r} is chemprop's default; no recipe")
        recipes[name] = flags
    return recipes


# FinetuneConfig settings a `--dnd-recipe` may not set: what the benchmark fixes for every row
# (the initialisation, the training subset, the seed, the label) or where the run happens
DND_FIXED = ("init", "encoder", "preset", "overrides", "method", "train_fraction", "max_train",
             "trainer.seed", "trainer.accelerator", "trainer.devices", "trainer.strategy", "num_workers")


def parse_dnd_recipes(specs: list[str]) -> dict[str, dict]:
    """`--dnd-recipe NAME="FLAGS"` options -> {NAME: settings}: `dnd finetune` flags, read by the
    parser `dnd finetune` builds from FinetuneConfig (so only real settings, with their types,
    pass), as the nested mapping `apply_overrides` takes. The dnd twin of `--recipe`: names
    share one namespace with the chemprop recipes, so a label '[NAME]' means one thing."""
    from dnd.cli import options
    from dnd.training.config import FinetuneConfig

    class Refuse(argparse.ArgumentParser):
        def error(self, message):
            raise ValueError(message)

    parser = Refuse(prog="dnd finetune", add_help=False)
    options.add_config_arguments(parser, FinetuneConfig(), "recipe")
    recipes: dict[str, dict] = {}
    for spec in specs:
        name, text = recipe_name(spec, "--dnd-recipe", "dnd-finetune", recipes)
        try:
            given = parser.parse_args(shlex.split(text))
        except ValueError as e:
            raise ValueError(f"--dnd-recipe {name}: dnd finetune refuses {text!r}: {e}") from None
        if not vars(given):
            raise ValueError(f"--dnd-recipe {name}: {text!r} sets nothing; give dnd finetune flags")
        fixed = sorted(set(vars(given)) & set(DND_FIXED))
        if fixed:
            raise ValueError(f"--dnd-recipe {name}: sets {fixed}, which the benchmark fixes for every method")
        recipes[name] = options.overrides_from_args(given)
    return recipes


def recipe_method(method: str, recipe: str | None) -> str:
    """The method label of `method` trained under recipe `recipe` (None: as chemprop ships)."""
    return method if recipe is None else f"{method} [{recipe}]"


def work_folder(work: str | Path, task: str, method: str, fraction: float, seed: int) -> Path:
    """Where one run's chemprop files live (data.csv, model/model_0/best.pt)."""
    folder = Path(work) / task / method.replace(" ", "_").replace("&", "")
    folder = folder if fraction == 1.0 else folder / f"frac{fraction:g}"
    return folder / f"seed{seed}"


def predict_best(model_file: Path, smiles_sets: list[list[str]]) -> list[np.ndarray]:
    """Predictions of one chemprop model file on each list of SMILES, in order (chemprop's
    default featurisation, the one `chemprop train` used; output scaling undone as in
    `chemprop predict`)."""
    import torch
    from chemprop import data, featurizers
    from chemprop.models import MPNN
    model = MPNN.load_from_file(model_file, map_location=torch.device("cpu"))
    model.eval()
    featurizer = featurizers.SimpleMoleculeMolGraphFeaturizer()
    out = []
    for smiles in smiles_sets:
        dset = data.MoleculeDataset([data.MoleculeDatapoint.from_smi(s) for s in smiles], featurizer)
        loader = data.build_dataloader(dset, batch_size=256, shuffle=False, num_workers=0)
        with torch.no_grad():
            preds = [model(batch.bmg, batch.V_d, batch.X_d) for batch in loader]
        preds = torch.cat(preds).numpy()
        out.append(preds[..., 0] if preds.ndim == 3 else preds)
    return out


def valid_scores(task, model_file: Path, test_reference: np.ndarray | None = None,
                 test_metric: float | None = None, tol: float = 1e-4) -> dict[str, float]:
    """`valid_<metric>` of a finished run: its best model (the checkpoint chemprop selected on
    the valid split and predicted the test split with) scored by dnd's evaluator on the valid
    split. Honesty check first: the same model's test predictions must reproduce the run's
    (chemprop's test_predictions.csv, `test_reference`, and/or the recorded test metric, within
    `tol`), else the file is not the run's model and RuntimeError is raised."""
    valid_pred, test_pred = predict_best(model_file, [[r.smiles for r in task.valid],
                                                      [r.smiles for r in task.test]])
    if test_reference is not None and not np.allclose(test_pred, test_reference, atol=tol, rtol=tol,
                                                       equal_nan=True):
        worst = np.nanmax(np.abs(test_pred - test_reference))
        raise RuntimeError(f"{model_file}: test predictions differ from chemprop's by {worst:.3g}")
    metric = task.spec.metric
    if test_metric is not None:
        again = score(task, test_pred)[metric]
        if not abs(again - test_metric) <= tol * max(1.0, abs(test_metric)):
            raise RuntimeError(f"{model_file}: test {metric} {again:.6g} is not the recorded {test_metric:.6g}")
    return {f"valid_{metric}": score(task, valid_pred, task.valid)[metric]}


def _row(job: dict, n_train: int, seconds: float) -> dict:
    return {"task": job["task"], "method": job["method"], "seed": job["seed"],
            "train_fraction": job["fraction"], "n_train": n_train, "wall_s": round(seconds, 1)}


def train_command(job: dict, csv: Path, names: list[str], kind: str, out: Path) -> list[str]:
    """The `chemprop train` command of one run (`dnd.experiment.chemprop.train_command`: dnd's
    split, the run's seed for both of chemprop's seeds, the foundation if any), then the recipe's
    flags (if any)."""
    return chemprop_cli.train_command(csv, names, kind, out, job["seed"], job["foundation"] or None,
                                  tuple(job.get("flags") or ()))


def run_chemprop(job: dict) -> dict:
    """One chemprop training run (in a worker process); returns the result row."""
    from dnd.data.tasks import load_task
    task = load_task(job["task"], root=job["data_root"], cache_dir=job["task_cache"])
    train_task = subset_task(task, job["fraction"], job["seed"])
    work = Path(job["work"])
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    csv = work / "data.csv"
    names = chemprop_cli.write_split_csv(train_task, csv)
    kind = "classification" if task.spec.task_type == "classification" else "regression"
    cmd = train_command(job, csv, names, kind, work / "model")
    start = time.time()
    chemprop_cli.run_command(cmd)
    row = _row(job, len(train_task.train), time.time() - start)
    test_pred = chemprop_cli.read_test_predictions(task, work / "model", names)
    row |= score(task, test_pred)
    row |= valid_scores(task, chemprop_cli.best_model(work / "model"), test_reference=test_pred)
    shutil.rmtree(work / "model" / "model_0" / "checkpoints", ignore_errors=True)  # keep best.pt only
    return row


def run_dnd_finetune(job: dict) -> dict:
    """dnd's finetuning recipe, one seed, from a student checkpoint (`student`: {"init": CKPT}) or
    from a random initialisation of the same architecture (`{"encoder": E, "preset": P}`, the
    RandInit row a student is measured against): the defaults `dnd finetune` gives that encoder
    (a D-MPNN's follow chemprop), a `--dnd-recipe`'s settings over them where `student` has a
    "recipe"; standardisation is refitted on the training
    subset by the finetuner itself. Its valid metric is of the checkpoint dnd selected on the
    valid split, the one that predicted the test split."""
    from dnd.config_check import apply_overrides
    from dnd.data.tasks import load_task
    from dnd.models.checkpoint import load_encoder
    from dnd.training.config import finetune_defaults
    from dnd.training.finetune import run_finetune
    task = subset_task(load_task(job["task"], root=job["data_root"], cache_dir=job["task_cache"]),
                       job["fraction"], job["seed"])
    spec = dict(job["student"])
    recipe = spec.pop("recipe", {})
    encoder = load_encoder(spec["init"]).name if spec.get("init") else spec["encoder"]
    cfg = apply_overrides(replace(finetune_defaults(encoder), **spec, method=job["method"]), recipe, "--dnd-recipe")
    cfg = replace(cfg, trainer=replace(cfg.trainer, seed=job["seed"], progress=False))
    start = time.time()
    result = run_finetune(cfg, task, Path(job["work"]))
    metric = task.spec.metric
    return _row(job, len(task.train), time.time() - start) | {metric: result["test"], f"valid_{metric}": result["valid"]}


def _run(job: dict) -> dict:
    return run_dnd_finetune(job) if job.get("student") else run_chemprop(job)


def share_cores(workers: int) -> None:
    """Pool initializer: each of `workers` runs gets its share of the cores. Left alone, every
    worker's torch takes all of them (the Makefile's OMP_NUM_THREADS=1 hides this only for
    runs started through make): two parallel runs on 2 cores then oversubscribe them, which is
    several times slower for these small models. An explicit OMP_NUM_THREADS is the user's
    choice and is kept."""
    if "OMP_NUM_THREADS" in os.environ:
        return
    import torch
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))


def exit_with_parent(parent: int, poll_s: float = 1.0) -> None:
    """Stop this pool worker once its parent has gone. A killed vs_chemprop leaves its workers
    alive (ProcessPoolExecutor cleans up only on a normal exit), and each goes on training the
    runs already queued to it, whose rows nobody will write, on the cores a resumed run needs.
    Reparenting is the portable sign of the parent's death."""
    while os.getppid() == parent:
        time.sleep(poll_s)
    os._exit(1)


def init_worker(workers: int) -> None:
    """Pool initializer: share the cores, and die with the parent."""
    share_cores(workers)
    threading.Thread(target=exit_with_parent, args=(os.getppid(),), daemon=True).start()


def load_runs(path: Path) -> pd.DataFrame:
    """runs.csv as a table; rows from before `--train-fractions` existed trained on the whole
    split and are read as fraction 1.0, so they count as done and in the summary."""
    if not path.is_file():
        return pd.DataFrame()
    runs = pd.read_csv(path)
    if "train_fraction" not in runs.columns:
        runs.insert(list(runs.columns).index("seed") + 1, "train_fraction", 1.0)
    runs["train_fraction"] = runs["train_fraction"].fillna(1.0).astype(float)
    return runs


def write_runs(runs: pd.DataFrame, path: Path) -> None:
    """Replace runs.csv atomically: a kill mid-write leaves the previous file whole."""
    tmp = path.with_name(path.name + ".tmp")
    runs.to_csv(tmp, index=False)
    os.replace(tmp, path)


def append_run(path: Path, row: dict) -> pd.DataFrame:
    """Add one finished run to runs.csv and return the whole table. The file is re-read under a
    lock, not taken from this process's memory, so rows that another command sharing the folder
    wrote since are kept; a run already there (the same task, method, seed and fraction) keeps its
    first row."""
    with FileLock(f"{path}.lock"):
        runs = pd.concat([load_runs(path), pd.DataFrame([row])], ignore_index=True)
        keys = pd.Series(list(map(run_key, runs.task, runs.method, runs.seed, runs.train_fraction)))
        runs = runs[~keys.duplicated().to_numpy()].reset_index(drop=True)
        write_runs(runs, path)
    return runs


def run_key(task: str, method: str, seed: int, fraction: float) -> tuple:
    return task, method, int(seed), round(float(fraction), 6)


def foundation_method(label: str) -> str:
    return f"chemprop + {label} foundation"


def parse_controls(specs: list[str], methods: list[str], recipes: list[str] = ()) -> dict[str, str]:
    """`--control CONTROL=TEACHER` options -> {teacher method: control method}. A label is a
    foundation label (`NAME` of `--foundation NAME=FILE`) or a full method name. Under each
    recipe R the pair holds too: 'TEACHER [R]' is compared with 'CONTROL [R]'."""
    def method(label: str) -> str:
        return label if label in methods else foundation_method(label)

    controls: dict[str, str] = {}
    for spec in specs:
        control, sep, teacher = spec.partition("=")
        if not sep:
            raise ValueError(f"--control {spec!r}: expected CONTROL=TEACHER")
        if method(teacher) in controls:
            raise ValueError(f"--control: {teacher!r} has two controls; give one per teacher")
        controls[method(teacher)] = method(control)
    for teacher, control in list(controls.items()):
        for r in recipes:
            controls[recipe_method(teacher, r)] = recipe_method(control, r)
    return controls


def plan_methods(foundations: list[tuple[str, str]], recipes: dict[str, list[str]], defaults: bool = True,
                 recipe_defaults: bool = False, recipes_only: bool = False) -> list[tuple]:
    """(method label, foundation file or None, student or None, chemprop flags) of every chemprop
    row: chemprop defaults as chemprop ships them (always, unless `defaults` is False: the
    reference every Δ is taken against), optionally defaults under each recipe, and each
    foundation as shipped (unless `recipes_only`) and under each recipe."""
    methods = [(DEFAULTS, None, None, [])] if defaults else []
    if recipe_defaults:
        methods += [(recipe_method(DEFAULTS, r), None, None, flags) for r, flags in recipes.items()]
    for label, file in foundations:
        if not recipes_only or not recipes:
            methods.append((label, file, None, []))
        methods += [(recipe_method(label, r), file, None, flags) for r, flags in recipes.items()]
    return methods


def fill_valid(runs: pd.DataFrame, work: str, data_root: str, task_cache: str) -> pd.DataFrame:
    """Rows without their `valid_<metric>` (e.g. copied from a runs.csv written before the column
    existed) get it from the run's best.pt in `work`, when the file is there and reproduces the
    row's recorded test metric (see `valid_scores`); others stay empty."""
    if runs.empty:
        return runs
    from dnd.data.tasks import load_task
    tasks, filled, missing, mismatched = {}, 0, 0, 0
    for i, r in runs.iterrows():
        metric = next((m for m in PRIMARY if m in runs.columns and pd.notna(r.get(m))), None)
        col = f"valid_{metric}"
        if metric is None or (col in runs.columns and pd.notna(r.get(col))):
            continue
        model = work_folder(work, r.task, r.method, float(r.train_fraction), int(r.seed)) / "model"
        best = next(model.rglob("best.pt"), None) if model.is_dir() else None
        if best is None:
            missing += 1
            continue
        if r.task not in tasks:
            tasks[r.task] = load_task(r.task, root=data_root, cache_dir=task_cache)
        try:
            scores = valid_scores(tasks[r.task], best, test_metric=float(r[metric]))
        except RuntimeError as e:  # not this row's model: leave the row unscored, say so
            print(f"warning: {e}; valid metric left empty", flush=True)
            mismatched += 1
            continue
        for k, v in scores.items():
            runs.loc[i, k] = v
        filled += 1
    if filled or missing or mismatched:
        print(f"validation metric: {filled} rows scored from their best.pt, {missing} without a model "
              f"file, {mismatched} whose model file does not reproduce the row", flush=True)
    return runs


def selection(runs: pd.DataFrame, fraction: float = 1.0) -> pd.DataFrame:
    """Methods ranked on the VALIDATION split at one fraction (the test split plays no part).
    Per task and method: valid mean/std over seeds and the paired Δ against chemprop defaults on
    valid (Δ > 0 better, as in `paired_difference`), `valid_rel_gain` = mean over seeds of
    Δ / defaults' valid metric. Then one row per method with task 'all': the mean of
    `valid_rel_gain` over the tasks, ranked (1 = best) among methods present on every task with
    every seed of the defaults."""
    f_runs = runs[runs.train_fraction == fraction] if not runs.empty else runs
    rows = []
    for task in dict.fromkeys(f_runs.task if not f_runs.empty else []):
        t_runs = f_runs[f_runs.task == task]
        metric = primary_metric(t_runs)
        col = f"valid_{metric}"
        if metric is None or col not in t_runs.columns or DEFAULTS not in set(t_runs.method):
            continue
        ref = t_runs[t_runs.method == DEFAULTS].set_index("seed")[col].dropna()
        for method, g in t_runs.groupby("method", sort=False):
            vals = g.set_index("seed")[col].dropna()
            if vals.empty:
                continue
            row = {"task": task, "train_fraction": fraction, "method": method, "metric": col,
                   "valid_mean": vals.mean(), "valid_std": vals.std(ddof=1) if len(vals) > 1 else 0.0,
                   "n_seeds": len(vals), "complete": set(ref.index) <= set(vals.index)}
            if method != DEFAULTS and len(ref):
                d = paired_difference(vals, ref, metric)
                both = vals.index.intersection(ref.index)
                sign = 1.0 if metric == "rocauc" else -1.0
                rel = sign * (vals[both] - ref[both]) / ref[both].abs()
                row |= {"vs_defaults_mean": d["mean"], "vs_defaults_std": d["std"],
                        "vs_defaults_won": d["won"], "vs_defaults_n": d["n"],
                        "valid_rel_gain": float(rel.mean())}
            rows.append(row)
    table = pd.DataFrame(rows)
    if table.empty or "valid_rel_gain" not in table:
        return table
    n_tasks = table.task.nunique()
    overall = []
    for method, g in table[table.method != DEFAULTS].groupby("method", sort=False):
        overall.append({"task": "all", "train_fraction": fraction, "method": method,
                        "metric": "valid relative gain", "n_tasks": len(g),
                        "valid_rel_gain": g.valid_rel_gain.mean(),
                        "complete": bool(len(g) == n_tasks and g.complete.all())})
    overall = pd.DataFrame(overall)
    ranked = overall[overall.complete].sort_values("valid_rel_gain", ascending=False, kind="stable")
    overall["rank"] = overall.method.map({m: i + 1 for i, m in enumerate(ranked.method)})
    return pd.concat([table, overall.sort_values(["rank", "method"], na_position="last")], ignore_index=True)


def chosen_method(table: pd.DataFrame, among: str = "foundation") -> str | None:
    """The best-ranked method on validation whose label contains `among` (None if none)."""
    if table.empty or "rank" not in table:
        return None
    top = table[(table.task == "all") & table["rank"].notna() & table.method.str.contains(among, regex=False)]
    return None if top.empty else top.sort_values("rank").method.iloc[0]


def selection_markdown(table: pd.DataFrame, fraction: float) -> str:
    lines = [f"Chosen on the validation split at fraction {fraction:g} (test plays no part). "
             "valid_rel_gain: mean over seeds of (defaults - method) / defaults on the valid "
             "metric (method - defaults for rocauc), > 0 better; 'all': mean over tasks, ranked "
             "among methods run on every task with every seed of the defaults.", "",
             "| task | method | valid metric | valid (mean ± std) | seeds | Δ vs defaults (valid) | won "
             "| rel. gain | rank |", "|---" * 9 + "|"]
    for _, r in table.iterrows():
        if r.task == "all":
            rank = "" if pd.isna(r.get("rank")) else f"{int(r['rank'])}"
            lines.append(f"| all ({int(r.n_tasks)} tasks) | {r.method} | | | | | | "
                         f"{r.valid_rel_gain:+.2%} | {rank} |")
            continue
        has = pd.notna(r.get("vs_defaults_mean"))
        delta = (f"{r.vs_defaults_mean:+.3f} ± {r.vs_defaults_std:.3f}" if has else "")
        won = f"{int(r.vs_defaults_won)}/{int(r.vs_defaults_n)}" if has else ""
        gain = f"{r.valid_rel_gain:+.2%}" if has else ""
        lines.append(f"| {r.task} | {r.method} | {r.metric} | {r.valid_mean:.3f} ± {r.valid_std:.3f} | "
                     f"{int(r.n_seeds)} | {delta} | {won} | {gain} | |")
    best = chosen_method(table)
    lines += ["", f"Best foundation method on validation: {best or 'none ranked'}"]
    return "\n".join(lines) + "\n"


def primary_metric(runs: pd.DataFrame) -> str | None:
    """The task's own metric among the columns of one task's runs (None if no metric has values)."""
    return next((m for m in PRIMARY if m in runs.columns and runs[m].notna().any()), None)


def paired_difference(method: pd.Series, reference: pd.Series, metric: str) -> dict[str, float]:
    """Seed-by-seed comparison of two rows (values indexed by seed; only shared seeds count).
    Δ > 0 means `method` is better: reference - method for errors, method - reference for rocauc.
    p is two-sided: paired t-test below WILCOXON_FROM seeds, Wilcoxon signed-rank from there."""
    from scipy import stats
    both = pd.concat([method.rename("m"), reference.rename("r")], axis=1, join="inner").dropna()
    sign = 1.0 if metric == "rocauc" else -1.0
    diff = sign * (both["m"] - both["r"]).to_numpy()
    n = len(diff)
    test = "wilcoxon" if n >= WILCOXON_FROM else "ttest_rel"
    p = float("nan")
    if n >= 2 and np.any(diff != 0):
        with warnings.catch_warnings():  # identical differences: t is undefined, p stays NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            p = float(stats.wilcoxon(diff).pvalue if test == "wilcoxon"
                      else stats.ttest_rel(both["m"], both["r"]).pvalue)
    return {"mean": float(diff.mean()) if n else float("nan"),
            "std": float(diff.std(ddof=1)) if n > 1 else float("nan"),
            "n": n, "won": int((diff > 0).sum()), "p": p, "test": test}


def holm(pvalues: list[float]) -> list[float]:
    """Holm-adjusted p-values (NaN stays NaN and does not count as a comparison): the i-th
    smallest of m is multiplied by (m - i), made non-decreasing, capped at 1. A comparison
    survives at level a when its adjusted p <= a."""
    p = np.asarray(pvalues, dtype=float)
    finite = np.flatnonzero(np.isfinite(p))
    order = finite[np.argsort(p[finite], kind="stable")]
    m = len(order)
    adjusted = np.full(len(p), np.nan)
    running = 0.0
    for i, idx in enumerate(order):
        running = max(running, min(1.0, (m - i) * p[idx]))
        adjusted[idx] = running
    return adjusted.tolist()


def method_order(methods: list[str], controls: dict[str, str]) -> list[str]:
    """Defaults first, then the methods as they first appear, each control right after its first
    teacher. A control shared by several teachers is listed once: listed per teacher, its rows
    (and their p-values, in the Holm correction) would count several times."""
    placed = set(controls.values())
    order = [DEFAULTS] if DEFAULTS in methods else []
    for m in methods:
        if m == DEFAULTS or m in placed:
            continue
        order.append(m)
        if controls.get(m) in methods and controls[m] not in order:
            order.append(controls[m])
    return order + [m for m in methods if m not in order]


def _paired_columns(prefix: str, stats: dict[str, float] | None) -> dict:
    keys = ("mean", "std", "n", "won", "p", "test")
    return {f"{prefix}_{k}": (stats[k] if stats else np.nan) for k in keys}


def summarise(runs: pd.DataFrame, controls: dict[str, str] | None = None) -> pd.DataFrame:
    """One row per task, fraction, method and metric (see the module docstring for the columns)."""
    controls = controls or {}
    rows = []
    metric_cols = [c for c in runs.columns if c not in RUN_KEYS]
    for task in dict.fromkeys(runs["task"]):
        t_runs = runs[runs.task == task]
        primary = primary_metric(t_runs)
        for fraction in sorted(t_runs["train_fraction"].unique()):
            f_runs = t_runs[t_runs.train_fraction == fraction]
            by_seed = {m: g.set_index("seed") for m, g in f_runs.groupby("method", sort=False)}
            for method in method_order(list(by_seed), controls):
                g = by_seed[method]
                for metric in metric_cols:
                    vals = g[metric].dropna()
                    if not len(vals):
                        continue
                    row = {"task": task, "train_fraction": fraction, "method": method, "metric": metric,
                           "mean": vals.mean(), "std": vals.std(ddof=1) if len(vals) > 1 else 0.0,
                           "n_seeds": len(vals), "wall_s_per_seed": g["wall_s"].mean()}
                    compare = metric == primary
                    vs_def = (paired_difference(g[metric], by_seed[DEFAULTS][metric], metric)
                              if compare and method != DEFAULTS and DEFAULTS in by_seed else None)
                    control = controls.get(method) if controls.get(method) in by_seed else None
                    vs_ctl = (paired_difference(g[metric], by_seed[control][metric], metric)
                              if compare and control else None)
                    row |= _paired_columns("vs_defaults", vs_def)
                    row |= {"control": control if compare else None} | _paired_columns("vs_control", vs_ctl)
                    rows.append(row)
        if task in PAPER and primary is not None:
            metric = "mae_std" if task in CURATED else primary
            for name, mean, std in PAPER[task]:
                rows.append({"task": task, "train_fraction": 1.0,
                             "method": f"paper Table 1: {name} (TokenGT, PCQM4Mv2)",
                             "metric": metric, "mean": mean, "std": std, "n_seeds": 3})
    summary = pd.DataFrame(rows)
    if summary.empty:
        return summary
    p_cols = [c for c in ("vs_defaults_p", "vs_control_p") if c in summary]
    adjusted = holm(summary[p_cols].to_numpy().ravel().tolist())
    for i, col in enumerate(p_cols):
        summary[f"{col}_holm"] = adjusted[i::len(p_cols)]
    return summary


def _delta(r: pd.Series, prefix: str) -> tuple[str, str, str]:
    """(Δ mean ± std, won/n, p) cells of one paired comparison; blank when there is none."""
    n = r.get(f"{prefix}_n")
    if pd.isna(n) or not n:
        return "", "", ""
    std = r[f"{prefix}_std"]
    p, adj = r[f"{prefix}_p"], r[f"{prefix}_p_holm"]
    mark = " *" if adj <= HOLM_ALPHA else ""
    return (f"{r[f'{prefix}_mean']:+.3f}" + ("" if pd.isna(std) else f" ± {std:.3f}"),
            f"{int(r[f'{prefix}_won'])}/{int(n)}", "" if pd.isna(p) else f"{p:.3g}{mark}")


def markdown(summary: pd.DataFrame) -> str:
    lines = ["| task | fraction | method | metric | test (mean ± std) | seeds | Δ vs defaults | won | p "
             "| Δ vs control | won | p | wall s / seed |", "|---" * 13 + "|"]
    for _, r in summary.iterrows():
        wall = "" if pd.isna(r.get("wall_s_per_seed")) else f"{r.wall_s_per_seed:.0f}"
        control = r.get("control")
        d_def, d_ctl = _delta(r, "vs_defaults"), list(_delta(r, "vs_control"))
        if d_ctl[0]:
            d_ctl[0] += f" (vs {control})"
        lines.append(f"| {r.task} | {r.train_fraction:g} | {r.method} | {r.metric} | "
                     f"{r['mean']:.3f} ± {r['std']:.3f} | {r.n_seeds} | {' | '.join(d_def)} | "
                     f"{' | '.join(d_ctl)} | {wall} |")
    return "\n".join(lines) + "\n" + significance(summary)


def significance(summary: pd.DataFrame) -> str:
    """The note under the table: sign convention, which test, and the Holm survivors."""
    found = []
    for prefix, against in (("vs_defaults", DEFAULTS), ("vs_control", None)):
        col = f"{prefix}_p_holm"
        if col not in summary:
            continue
        for _, r in summary[summary[col].notna()].iterrows():
            found.append((r[col], f"{r.task} @ {r.train_fraction:g}: {r.method} vs {against or r.control} "
                                  f"(Δ {r[f'{prefix}_mean']:+.3f}, p {r[f'{prefix}_p']:.3g}, "
                                  f"Holm {r[col]:.3g})"))
    survive = [text for adj, text in sorted(found) if adj <= HOLM_ALPHA]
    tests = sorted({t for c in ("vs_defaults_test", "vs_control_test") if c in summary
                    for t in summary[c].dropna()})
    lines = ["", f"Δ > 0 means better than the reference (defaults - method for rmse/mae, method - "
             f"defaults for rocauc), mean ± std over seeds of the per-seed difference on the same "
             f"training subset; won = seeds with Δ > 0. p: two-sided paired test, "
             f"scipy.stats.ttest_rel for fewer than {WILCOXON_FROM} seeds, scipy.stats.wilcoxon "
             f"(signed-rank) from {WILCOXON_FROM} (used here: {', '.join(tests) or 'none'}; per row in "
             f"summary.csv's `vs_defaults_test` / `vs_control_test`).", "",
             f"{len(found)} comparisons with a p-value, Holm-corrected together at {HOLM_ALPHA}; "
             f"{len(survive)} survive (marked *){':' if survive else '.'}"]
    lines += [f"- {text}" for text in survive]
    return "\n".join(lines) + "\n"


def target_check(summary: pd.DataFrame) -> str:
    """The full-label targets, per OGB task: does chemprop + a D&D foundation beat
    chemprop's defaults (by mean; beyond the two stds combined) and the paper's best D&D number?"""
    lines = ["| task | metric | chemprop defaults | best foundation row | better by mean | beyond std sum "
             "| paper's best D&D | beats it |", "|---|---|---|---|---|---|---|---|"]
    summary = summary[summary.train_fraction == 1.0]
    for task in dict.fromkeys(summary.task):
        if task in CURATED:
            continue
        rows = summary[(summary.task == task) & summary.metric.isin(["rmse", "rocauc"])]
        base = rows[rows.method == DEFAULTS]
        found = rows[rows.method.str.contains("foundation")]
        if base.empty or found.empty:
            continue
        higher = rows.metric.iloc[0] == "rocauc"
        best = found.loc[found["mean"].idxmax() if higher else found["mean"].idxmin()]
        b = base.iloc[0]
        diff = (best["mean"] - b["mean"]) * (1 if higher else -1)
        paper = max(m for _, m, _ in PAPER[task][1:]) if higher else min(m for _, m, _ in PAPER[task][1:])
        beats_paper = best["mean"] > paper if higher else best["mean"] < paper
        lines.append(f"| {task} | {b.metric} | {b['mean']:.3f} ± {b['std']:.3f} ({b.n_seeds}) | "
                     f"{best.method.replace('chemprop + ', '')}: {best['mean']:.3f} ± {best['std']:.3f} "
                     f"({best.n_seeds}) | {'yes' if diff > 0 else 'no'} | "
                     f"{'yes' if diff > b['std'] + best['std'] else 'no'} | {paper:.3f} | "
                     f"{'yes' if beats_paper else 'no'} |")
    return "\n".join(lines) + "\n"


def plot(summary: pd.DataFrame, controls: dict[str, str], folder: Path) -> list[Path]:
    """One PNG per task: its own metric against the training fraction (log x), one line per
    method with std-over-seeds error bars; a control is dashed, in its teacher's colour."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    folder.mkdir(parents=True, exist_ok=True)
    teacher_of = {c: t for t, c in controls.items()}
    written = []
    for task in dict.fromkeys(summary.task):
        rows = summary[(summary.task == task) & summary.metric.isin(PRIMARY)
                       & ~summary.method.str.startswith("paper ")]
        if rows.empty:
            continue
        fig, ax = plt.subplots(figsize=(6.4, 4.4))
        colours: dict[str, object] = {}
        for i, method in enumerate(sorted(dict.fromkeys(rows.method), key=lambda m: m in teacher_of)):
            g = rows[rows.method == method].sort_values("train_fraction")
            colour = colours.get(teacher_of.get(method, ""))
            nudge = 1.03 ** i  # side by side, so the error bars of one fraction do not hide each other
            line = ax.errorbar(g.train_fraction * nudge, g["mean"], yerr=g["std"], marker="o", capsize=3,
                               label=method, color=colour, linestyle="--" if method in teacher_of else "-")
            colours[method] = line.lines[0].get_color()
        metric = rows.metric.iloc[0]
        ax.set(xscale="log", xlabel="fraction of the training split",
               ylabel=f"test {metric} ({'higher' if metric == 'rocauc' else 'lower'} is better)", title=task)
        ax.legend(fontsize=7)
        fig.tight_layout()
        path = folder / f"{task}.png"
        fig.savefig(path, dpi=120)
        plt.close(fig)
        written.append(path)
    return written


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", nargs="+", default=OGB_TASKS + CURATED)
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], help="seeds at fraction 1.0")
    ap.add_argument("--few-label-seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4],
                    help="seeds at fractions below 1.0")
    ap.add_argument("--train-fractions", nargs="+", type=float, default=[1.0],
                    help="fractions of the training split to train on (one seeded subset per seed)")
    ap.add_argument("--data-root", required=True, help="folder with the OGB layouts / CSVs")
    ap.add_argument("--out", default="results/vs-chemprop")
    ap.add_argument("--work", default="runs/vs-chemprop", help="chemprop run folders (not committed)")
    ap.add_argument("--task-cache", default="cache/tasks")
    ap.add_argument("--foundation", action="append", default=[], metavar="NAME=FILE",
                    help="a chemprop foundation file from `dnd export chemprop` (repeatable)")
    ap.add_argument("--control", action="append", default=[], metavar="CONTROL=TEACHER",
                    help="foundation CONTROL is the control of foundation TEACHER (labels as in "
                         "--foundation, or full method names; repeatable)")
    ap.add_argument("--dnd-student", action="append", default=[], metavar="NAME=CKPT",
                    help="also run `dnd finetune` from this student (repeatable)")
    ap.add_argument("--dnd-randinit", action="append", default=[], metavar="ENCODER:PRESET",
                    help="also run `dnd finetune` from a random initialisation of this encoder "
                         "and preset, e.g. tokengt:cpu-fast (repeatable)")
    ap.add_argument("--recipe", action="append", default=[], metavar='NAME="FLAGS"',
                    help="a finetuning recipe: chemprop train flags (e.g. \"--max-lr 3e-4 "
                         "--warmup-epochs 4\"); every foundation also runs under it as "
                         "'chemprop + NAME foundation [RECIPE]' (repeatable)")
    ap.add_argument("--dnd-recipe", action="append", default=[], metavar='NAME="FLAGS"',
                    help="a dnd finetuning recipe: dnd finetune flags (e.g. \"--batch-size 32\"); every "
                         "--dnd-student and --dnd-randinit row also runs under it as '... [NAME]' (repeatable)")
    ap.add_argument("--recipe-defaults", action="store_true",
                    help="also run chemprop without a foundation under each recipe "
                         "('chemprop defaults [RECIPE]'); the plain defaults row always runs")
    ap.add_argument("--recipes-only", action="store_true",
                    help="run the foundations (and dnd rows) under the recipes only, not also as shipped")
    ap.add_argument("--select-fraction", nargs="+", type=float, default=[1.0],
                    help="fractions at which selection.md ranks the methods on the validation metric")
    ap.add_argument("--no-defaults", action="store_true", help="skip the chemprop-defaults row")
    ap.add_argument("--workers", type=int, default=1, help="runs in parallel (one core each)")
    ap.add_argument("--summary-only", action="store_true", help="rewrite the tables from runs.csv")
    ap.add_argument("--plot", action="store_true", help="also write plots/<task>.png")
    args = ap.parse_args(argv)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    runs_csv = out / "runs.csv"
    runs = load_runs(runs_csv)
    done = set() if runs.empty else set(map(run_key, runs.task, runs.method, runs.seed, runs.train_fraction))
    try:  # the option parsers' refusals are user errors: one line, exit 2
        recipes = parse_recipes(args.recipe)
        dnd_recipes = parse_dnd_recipes(args.dnd_recipe)
    except ValueError as e:
        ap.error(str(e))
    foundations = [(foundation_method(n), os.path.abspath(f)) for n, f in (s.split("=", 1) for s in args.foundation)]
    methods = plan_methods(foundations, recipes, defaults=not args.no_defaults,
                           recipe_defaults=args.recipe_defaults, recipes_only=args.recipes_only)
    for flag, specs, sep in (("--dnd-student", args.dnd_student, "="), ("--dnd-randinit", args.dnd_randinit, ":")):
        for spec in specs:
            if not all(spec.partition(sep)[::2]):
                ap.error(f"{flag} {spec!r}: give {'NAME=CKPT' if sep == '=' else 'ENCODER:PRESET, e.g. tokengt:cpu-fast'}")
            if sep == "=" and not Path(spec.partition(sep)[2]).is_file():
                ap.error(f"{flag} {spec!r}: no checkpoint file {spec.partition(sep)[2]!r}; give a `dnd distill` student.ckpt")
    if set(dnd_recipes) & set(recipes):
        ap.error(f"recipe names {sorted(set(dnd_recipes) & set(recipes))} given to both --recipe and --dnd-recipe")
    students = [(f"dnd finetune {n}", {"init": os.path.abspath(c)}) for n, c in (s.split("=", 1) for s in args.dnd_student)]
    students += [(f"dnd finetune RandInit {e} ({p})", {"encoder": e, "preset": p})
                 for e, p in (s.split(":", 1) for s in args.dnd_randinit)]
    for label, student in students:
        if not args.recipes_only or not dnd_recipes:
            methods.append((label, None, student, []))
        methods += [(recipe_method(label, r), None, student | {"recipe": o}, []) for r, o in dnd_recipes.items()]
    known = [m[0] for m in methods] + ([] if runs.empty else list(runs.method))
    try:
        controls = parse_controls(args.control, known, list(recipes) + list(dnd_recipes))
    except ValueError as e:
        ap.error(str(e))
    if not args.summary_only and not runs.empty:
        with FileLock(f"{runs_csv}.lock"):
            runs = fill_valid(load_runs(runs_csv), args.work, args.data_root, args.task_cache)
            write_runs(runs, runs_csv)
    jobs = []
    for t in args.tasks:
        for frac in args.train_fractions:
            seeds = args.seeds if frac == 1.0 else args.few_label_seeds
            for m, f, c, flags in methods:
                for s in seeds:
                    if run_key(t, m, s, frac) in done or args.summary_only:
                        continue
                    jobs.append({"task": t, "method": m, "seed": s, "fraction": frac, "foundation": f,
                                 "student": c, "flags": flags, "data_root": args.data_root,
                                 "task_cache": args.task_cache, "work": str(work_folder(args.work, t, m, frac, s))})
    print(f"{len(jobs)} runs to do ({len(done)} already in {runs_csv})", flush=True)
    with ProcessPoolExecutor(args.workers, initializer=init_worker, initargs=(args.workers,)) as pool:
        for row in pool.map(_run, jobs):
            print(row, flush=True)
            runs = append_run(runs_csv, row)  # finished work is never lost
    if runs.empty:
        print("no runs yet: nothing to summarise")
        return 0
    summary = summarise(runs, controls)
    summary.to_csv(out / "summary.csv", index=False)
    report = markdown(summary) + "\nTargets (issue 12, full labels):\n\n" + target_check(summary)
    (out / "summary.md").write_text(report)
    print(report)
    tables = [(f, selection(runs, f)) for f in args.select_fraction]
    tables = [(f, t) for f, t in tables if not t.empty]
    if tables:
        pd.concat([t for _, t in tables], ignore_index=True).to_csv(out / "selection.csv", index=False)
        text = "\n".join(f"## Fraction {f:g}\n\n" + selection_markdown(t, f) for f, t in tables)
        (out / "selection.md").write_text(text)
        print(text)
    if args.plot:
        for path in plot(summary, controls, out / "plots"):
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
