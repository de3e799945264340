"""dnd against chemprop on the same splits, seeds and evaluator: the side-by-side table.

Rows (methods):
- `chemprop defaults`: `chemprop train` with every default (D-MPNN 300 x 3, norm aggregation,
  50 epochs, its own scaler and schedule);
- `chemprop + <NAME> foundation`: the same command plus `--from-foundation FILE`, FILE a D&D
  D-MPNN student exported by `dnd export chemprop`; only the initialisation differs;
- `dnd finetune <NAME>`: dnd's own finetuning recipe from a student checkpoint (optional);
- the paper's Table 1 numbers, as their own labelled rows (not runs; full labels only).

Every chemprop run trains on the task's train split, selects on its valid split (chemprop's
`--splits-column`) and predicts the test split; all rows are scored by dnd's evaluator (OGB's
Evaluator for OGB tasks), so one metric implementation judges both tools. Curated sets (bp, mp,
ri) are scored as MAE in the label's units and as MAE in units of the std of the whole training
split's labels (`mae_std`, the scale of the paper's Table 1; the same unit at every fraction).
Finished runs are appended to `runs.csv` at once and skipped when the command is run again, so an
interrupted benchmark continues.

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

runs.csv, one row per task, method, seed and fraction: `task`, `method`, `seed`,
`train_fraction` (rows written before the option existed are read as 1.0), `n_train` (training
molecules used; empty in old rows), `wall_s` (seconds of the run), then the test metrics (`rmse` / `rocauc` / `mae`,
the task's own metric; `mae_std` for single-target regression).

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
import shutil
import subprocess
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

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


def chemprop_exe() -> str:
    exe = shutil.which("chemprop", path=str(Path(sys.executable).parent)) or shutil.which("chemprop")
    if exe is None:
        raise SystemExit("chemprop's command line is not installed (pip install 'chemprop>=2.3,<2.4')")
    return exe


def write_split_csv(task, path: Path) -> list[str]:
    """One CSV with a `split` column (train/val/test) holding exactly dnd's split."""
    names = [f"t{i}" for i in range(task.spec.num_tasks)]
    rows = [[r.smiles, *r.y.view(-1).tolist(), split]
            for split, recs in (("train", task.train), ("val", task.valid), ("test", task.test))
            for r in recs]
    pd.DataFrame(rows, columns=["smiles", *names, "split"]).to_csv(path, index=False)
    return names


def score(task, pred: np.ndarray) -> dict[str, float]:
    from dnd.evaluation.metrics import evaluate
    true = np.stack([r.y.view(-1).numpy() for r in task.test])
    out = {task.spec.metric: evaluate(task.spec, true, pred)[task.spec.metric]}
    if task.spec.task_type == "regression" and task.spec.std is not None and task.spec.num_tasks == 1:
        out["mae_std"] = float(np.nanmean(np.abs(true - pred)) / task.spec.std[0])
    return out


def _row(job: dict, n_train: int, seconds: float) -> dict:
    return {"task": job["task"], "method": job["method"], "seed": job["seed"],
            "train_fraction": job["fraction"], "n_train": n_train, "wall_s": round(seconds, 1)}


def run_chemprop(job: dict) -> dict:
    """One chemprop training run (in a worker process); returns the result row."""
    from dnd.data.tasks import load_task
    task = load_task(job["task"], root=job["data_root"], cache_dir=job["task_cache"])
    train_task = subset_task(task, job["fraction"], job["seed"])
    work = Path(job["work"])
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    csv = work / "data.csv"
    names = write_split_csv(train_task, csv)
    kind = "classification" if task.spec.task_type == "classification" else "regression"
    cmd = [chemprop_exe(), "train", "-i", str(csv), "-s", "smiles", "--target-columns", *names,
           "--splits-column", "split", "-t", kind, "--pytorch-seed", str(job["seed"]),
           "--data-seed", str(job["seed"]), "-o", str(work / "model"), "-q",
           "--accelerator", "cpu", "--num-workers", "0"]
    if job["foundation"]:
        cmd += ["--from-foundation", job["foundation"]]
    start = time.time()
    done = subprocess.run(cmd, capture_output=True, text=True, env=os.environ | {"OMP_NUM_THREADS": "1"})
    if done.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    preds = pd.read_csv(next((work / "model").rglob("test_predictions.csv")))
    if preds["smiles"].tolist() != [r.smiles for r in task.test]:
        raise RuntimeError(f"{job['task']}: chemprop's test predictions are not in test-split order")
    row = _row(job, len(train_task.train), time.time() - start)
    row |= score(task, preds[names].to_numpy(dtype=float))
    shutil.rmtree(work / "model" / "model_0" / "checkpoints", ignore_errors=True)  # keep best.pt only
    return row


def run_dnd_finetune(job: dict) -> dict:
    """dnd's finetuning recipe from a student checkpoint, one seed (standardisation is refitted
    on the training subset by the finetuner itself)."""
    from dnd.data.tasks import load_task
    from dnd.models.checkpoint import load_encoder
    from dnd.training.config import FinetuneConfig
    from dnd.training.finetune import run_finetune
    task = subset_task(load_task(job["task"], root=job["data_root"], cache_dir=job["task_cache"]),
                       job["fraction"], job["seed"])
    encoder = load_encoder(job["student"])
    cfg = FinetuneConfig(init=job["student"], method=job["method"],
                         readout="norm" if encoder.name == "dmpnn" else "mp")
    cfg = replace(cfg, trainer=replace(cfg.trainer, seed=job["seed"], progress=False))
    start = time.time()
    result = run_finetune(cfg, task, Path(job["work"]))
    return _row(job, len(task.train), time.time() - start) | {task.spec.metric: result["test"]}


def _run(job: dict) -> dict:
    return run_dnd_finetune(job) if job.get("student") else run_chemprop(job)


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


def run_key(task: str, method: str, seed: int, fraction: float) -> tuple:
    return task, method, int(seed), round(float(fraction), 6)


def foundation_method(label: str) -> str:
    return f"chemprop + {label} foundation"


def parse_controls(specs: list[str], methods: list[str]) -> dict[str, str]:
    """`--control CONTROL=TEACHER` options -> {teacher method: control method}. A label is a
    foundation label (`NAME` of `--foundation NAME=FILE`) or a full method name."""
    def method(label: str) -> str:
        return label if label in methods else foundation_method(label)

    controls: dict[str, str] = {}
    for spec in specs:
        control, sep, teacher = spec.partition("=")
        if not sep:
            raise SystemExit(f"--control {spec!r}: expected CONTROL=TEACHER")
        if method(teacher) in controls:
            raise SystemExit(f"--control: {teacher!r} has two controls; give one per teacher")
        controls[method(teacher)] = method(control)
    return controls


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
    """Defaults first, then the methods as they first appear, each control right after its teacher."""
    placed = set(controls.values())
    order = [DEFAULTS] if DEFAULTS in methods else []
    for m in methods:
        if m == DEFAULTS or m in placed:
            continue
        order.append(m)
        if controls.get(m) in methods:
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
    methods = [] if args.no_defaults else [(DEFAULTS, None, None)]
    methods += [(foundation_method(n), os.path.abspath(f), None)
                for n, f in (s.split("=", 1) for s in args.foundation)]
    methods += [(f"dnd finetune {n}", None, os.path.abspath(c))
                for n, c in (s.split("=", 1) for s in args.dnd_student)]
    known = [m for m, _, _ in methods] + ([] if runs.empty else list(runs.method))
    controls = parse_controls(args.control, known)
    jobs = []
    for t in args.tasks:
        for frac in args.train_fractions:
            seeds = args.seeds if frac == 1.0 else args.few_label_seeds
            for m, f, c in methods:
                for s in seeds:
                    if run_key(t, m, s, frac) in done or args.summary_only:
                        continue
                    folder = Path(args.work) / t / m.replace(" ", "_").replace("&", "")
                    folder = folder if frac == 1.0 else folder / f"frac{frac:g}"
                    jobs.append({"task": t, "method": m, "seed": s, "fraction": frac, "foundation": f,
                                 "student": c, "data_root": args.data_root, "task_cache": args.task_cache,
                                 "work": str(folder / f"seed{s}")})
    print(f"{len(jobs)} runs to do ({len(done)} already in {runs_csv})", flush=True)
    with ProcessPoolExecutor(args.workers) as pool:
        for row in pool.map(_run, jobs):
            print(row, flush=True)
            runs = pd.concat([runs, pd.DataFrame([row])], ignore_index=True)
            runs.to_csv(runs_csv, index=False)  # finished work is never lost
    if runs.empty:
        print("no runs yet: nothing to summarise")
        return 0
    summary = summarise(runs, controls)
    summary.to_csv(out / "summary.csv", index=False)
    report = markdown(summary) + "\nTargets (issue 12, full labels):\n\n" + target_check(summary)
    (out / "summary.md").write_text(report)
    print(report)
    if args.plot:
        for path in plot(summary, controls, out / "plots"):
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
