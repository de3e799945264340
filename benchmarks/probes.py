"""Frozen-encoder probes: what a foundation's pooled embedding alone knows about a task.

Finetuning (vs_chemprop.py) mixes the representation with 50 epochs of training; a linear probe on
the frozen embedding isolates the representation, costs seconds, and so can afford many seeds and
small training fractions. For each foundation (a dnd student checkpoint or a shipped `dnd:NAME`),
each task, training fraction and seed, the probe is fitted on the embeddings of the SAME training
subset vs_chemprop.py trains on (its `train_subset`), with inputs standardised by that subset's
statistics, and its penalty chosen on the task's valid split:
- regression: ridge with alpha in logspace(-3, 3, 13), alpha minimising the valid rmse (mae for
  mae tasks). Done by hand rather than with sklearn's RidgeCV, because RidgeCV given a valid split
  refits the chosen alpha on train + valid, and valid labels must not train the probe;
- classification: logistic regression with C in the same grid, C maximising the valid ROC-AUC;
  multi-task sets (ClinTox, SIDER) one probe per target, NaN labels left out. A target whose
  training subset has one class only predicts that class's prevalence (ROC-AUC 0.5).
Test predictions are scored by vs_chemprop.py's `score` (dnd's evaluator, OGB's for OGB tasks).
A `random encoder` row is the first foundation's architecture with untrained weights (seed
`--random-seed`): the floor a pretrained embedding must clear.

    python benchmarks/probes.py --data-root ../shared/data --out results/probes \
        --foundation D\\&D-NODE=dnd:dmpnn-node-druglike --foundation D\\&D-GRAPH=dnd:dmpnn-graph-druglike \
        --train-fractions 0.1 0.25 1.0

probes.csv, one row per task, fraction, seed and foundation: `task`, `train_fraction`, `seed`,
`foundation`, `n_train`, the test metrics (`rmse` / `rocauc` / `mae`; `mae_std` for single-target
regression), `alpha_or_C` (the chosen penalty; per target joined by ';' for multi-target tasks,
'nan' where a target had one class) and `wall_s` (fitting and selecting, embeddings excluded:
they are computed once per foundation and task). probes.md: mean ± std over seeds, and the paired
difference to the random encoder (Δ > 0 = better, as in vs_chemprop.py). At fraction 1.0 the probe
is deterministic, so `--seeds` defaults to 0 alone there.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/ is not a package
from vs_chemprop import CURATED, OGB_TASKS, paired_difference, primary_metric, score, train_subset  # noqa: E402

GRID = np.logspace(-3, 3, 13)
RANDOM = "random encoder"


def standardise(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """Columns scaled by the training subset's mean and std (constant columns by 1), so the
    penalty grid means the same for every encoder and nothing is learnt from valid or test."""
    mean, std = train.mean(axis=0), train.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return [(a - mean) / std for a in (train, *others)]


def _valid_error(metric: str, y: np.ndarray, pred: np.ndarray) -> float:
    err = y - pred
    return float(np.mean(np.abs(err))) if metric == "mae" else float(np.sqrt(np.mean(err ** 2)))


def ridge_probe(x_tr: np.ndarray, y_tr: np.ndarray, x_va: np.ndarray, y_va: np.ndarray,
                x_te: np.ndarray, metric: str = "rmse") -> tuple[np.ndarray, float]:
    """Test predictions of the ridge whose alpha (from GRID) has the lowest valid error, and that
    alpha. Fitted on the training rows only."""
    from sklearn.linear_model import Ridge
    best = None
    for alpha in GRID:
        model = Ridge(alpha=alpha).fit(x_tr, y_tr)
        err = _valid_error(metric, y_va, model.predict(x_va))
        if best is None or err < best[0]:
            best = (err, alpha, model)
    return best[2].predict(x_te), float(best[1])


def logistic_probe(x_tr: np.ndarray, y_tr: np.ndarray, x_va: np.ndarray, y_va: np.ndarray,
                   x_te: np.ndarray) -> tuple[np.ndarray, float]:
    """Test probabilities of the logistic regression whose C (from GRID) has the highest valid
    ROC-AUC, and that C. One training class: its prevalence everywhere, C NaN. A valid split
    without both classes cannot choose: C = 1."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    if len(np.unique(y_tr)) < 2:
        return np.full(len(x_te), float(y_tr.mean())), float("nan")
    grid = GRID if len(np.unique(y_va)) == 2 else [1.0]
    best = None
    for c in grid:
        model = LogisticRegression(C=c, max_iter=2000).fit(x_tr, y_tr)
        auc = roc_auc_score(y_va, model.predict_proba(x_va)[:, 1]) if len(grid) > 1 else 0.0
        if best is None or auc > best[0]:
            best = (auc, c, model)
    return best[2].predict_proba(x_te)[:, 1], float(best[1])


def fit_probe(task, emb: dict[str, np.ndarray], fraction: float, seed: int) -> tuple[np.ndarray, list[float]]:
    """Test predictions [n_test, num_tasks] of one probe per target, fitted on the (seed, fraction)
    training subset of vs_chemprop.py, and the penalty chosen per target."""
    keep = train_subset(len(task.train), fraction, seed)
    x_tr, x_va, x_te = standardise(emb["train"][keep], emb["valid"], emb["test"])
    y_tr, y_va = task.labels("train")[keep], task.labels("valid")
    preds, chosen = [], []
    for t in range(task.spec.num_tasks):
        tr, va = ~np.isnan(y_tr[:, t]), ~np.isnan(y_va[:, t])
        args = (x_tr[tr], y_tr[tr, t], x_va[va], y_va[va, t], x_te)
        pred, value = (logistic_probe(*args) if task.spec.task_type == "classification"
                       else ridge_probe(*args, metric=task.spec.metric))
        preds.append(pred)
        chosen.append(value)
    return np.stack(preds, axis=1), chosen


def load_encoders(specs: list[str], readout: str, random_seed: int) -> dict[str, tuple]:
    """label -> (encoder, readout) for each `LABEL=CKPT`, plus the random-encoder row built with
    the first foundation's architecture."""
    import torch

    from dnd.inference.embed import load_embedder
    from dnd.models.registry import build_encoder, encoder_config_dict
    encoders = {}
    for spec in specs:
        label, sep, path = spec.partition("=")
        if not sep:
            raise SystemExit(f"--foundation {spec!r}: expected LABEL=CKPT")
        encoders[label] = load_embedder(path, readout)
    first_encoder, first_readout = next(iter(encoders.values()))
    torch.manual_seed(random_seed)
    encoders[RANDOM] = (build_encoder(*encoder_config_dict(first_encoder)).eval(), first_readout)
    return encoders


def summarise(probes: pd.DataFrame) -> str:
    """probes.md: per task, fraction and foundation, mean ± std over seeds and Δ vs the random
    encoder at the same seeds."""
    lines = ["| task | fraction | foundation | metric | test (mean ± std) | seeds | Δ vs random encoder | won |",
             "|---|---|---|---|---|---|---|---|"]
    for task in dict.fromkeys(probes.task):
        t = probes[probes.task == task]
        metric = primary_metric(t)
        for fraction in sorted(t.train_fraction.unique()):
            f = t[t.train_fraction == fraction]
            base = f[f.foundation == RANDOM].set_index("seed")[metric]
            for label, g in f.groupby("foundation", sort=False):
                vals = g[metric]
                std = vals.std(ddof=1) if len(vals) > 1 else 0.0
                delta, won = "", ""
                if label != RANDOM:
                    d = paired_difference(g.set_index("seed")[metric], base, metric)
                    delta = f"{d['mean']:+.3f}" + ("" if np.isnan(d["std"]) else f" ± {d['std']:.3f}")
                    won = f"{d['won']}/{d['n']}"
                lines.append(f"| {task} | {fraction:g} | {label} | {metric} | {vals.mean():.3f} ± {std:.3f} | "
                             f"{len(vals)} | {delta} | {won} |")
    return "\n".join(lines) + ("\n\nΔ > 0 means better than the random encoder (its rmse/mae minus the "
                               "row's, or the row's rocauc minus its), per seed on the same subset.\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--foundation", action="append", required=True, metavar="LABEL=CKPT",
                    help="a dnd student checkpoint or dnd:NAME (repeatable)")
    ap.add_argument("--tasks", nargs="+", default=OGB_TASKS + CURATED)
    ap.add_argument("--train-fractions", nargs="+", type=float, default=[0.1, 0.25, 1.0])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0], help="seeds at fraction 1.0")
    ap.add_argument("--few-label-seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4],
                    help="seeds at fractions below 1.0")
    ap.add_argument("--readout", default="mp", help="pooling of the node embeddings (as `dnd embed`)")
    ap.add_argument("--random-seed", type=int, default=0, help="seed of the random encoder's weights")
    ap.add_argument("--data-root", required=True, help="folder with the OGB layouts / CSVs")
    ap.add_argument("--task-cache", default="cache/tasks")
    ap.add_argument("--out", default="results/probes")
    args = ap.parse_args(argv)

    from dnd.data.tasks import load_task
    from dnd.inference.embed import embed_records
    encoders = load_encoders(args.foundation, args.readout, args.random_seed)
    rows = []
    for name in args.tasks:
        task = load_task(name, root=args.data_root, cache_dir=args.task_cache)
        for label, (encoder, readout) in encoders.items():
            emb = {split: embed_records(encoder, readout, recs)[0].astype(np.float64)
                   for split, recs in task.splits.items()}
            for fraction in args.train_fractions:
                for seed in (args.seeds if fraction == 1.0 else args.few_label_seeds):
                    start = time.time()
                    pred, chosen = fit_probe(task, emb, fraction, seed)
                    row = {"task": name, "train_fraction": fraction, "seed": seed, "foundation": label,
                           "n_train": len(train_subset(len(task.train), fraction, seed))}
                    row |= score(task, pred)
                    row |= {"alpha_or_C": ";".join(f"{c:g}" for c in chosen),
                            "wall_s": round(time.time() - start, 2)}
                    print(row, flush=True)
                    rows.append(row)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    probes = pd.DataFrame(rows)
    last = ["alpha_or_C", "wall_s"]  # after every task's metric columns
    probes = probes[[c for c in probes.columns if c not in last] + last]
    probes.to_csv(out / "probes.csv", index=False)
    report = summarise(probes)
    (out / "probes.md").write_text(report)
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
