"""One entry point, `evaluate(spec, y_true, y_pred)`, for every downstream metric.

OGB tasks are scored by `ogb.graphproppred.Evaluator` itself, so numbers are comparable with the
OGB leaderboard and the D&D paper (RMSE averaged over targets for regression, ROC-AUC averaged
over the targets that have both classes for classification). Tasks OGB does not know (curated
sets, QM9 targets, user CSVs) use the same definitions, plus MAE, which is what curated sets and
QM9 report (3DInfomax's convention). All inputs are in the target's original units; missing
labels are NaN and never count. A regression task trained on standardised labels also gets its
metric in standardised units ("<metric>_standardized", errors divided by the training std), the
units of the paper's curated-set MAEs (BP 0.22-0.30 in Table 1), so both can stand side by side.
"""

from __future__ import annotations

import os
from functools import lru_cache

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

_HIGHER_IS_BETTER = {"rocauc": True, "rmse": False, "mae": False}


def higher_is_better(metric: str) -> bool:
    """Direction of a metric (for model selection)."""
    try:
        return _HIGHER_IS_BETTER[metric]
    except KeyError:
        raise ValueError(f"unknown metric {metric!r}; known: {sorted(_HIGHER_IS_BETTER)}") from None


@lru_cache(maxsize=1)
def _ogb_master() -> pd.DataFrame:
    import ogb.graphproppred

    path = os.path.join(os.path.dirname(ogb.graphproppred.__file__), "master.csv")
    return pd.read_csv(path, index_col=0, keep_default_na=False)


def is_ogb_task(name: str, num_tasks: int, metric: str) -> bool:
    """True when OGB's Evaluator defines this task exactly (same name, target count and metric)."""
    master = _ogb_master()
    if name not in master.columns:
        return False
    meta = master[name]
    return int(meta["num tasks"]) == num_tasks and meta["eval metric"] == metric


def _per_target(y_true: np.ndarray, y_pred: np.ndarray, fn) -> list[float]:
    out = []
    for t in range(y_true.shape[1]):
        labeled = ~np.isnan(y_true[:, t])
        out.append(float(fn(y_true[labeled, t], y_pred[labeled, t])) if labeled.any() else float("nan"))
    return out


def rmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Root mean squared error per target (labelled rows only), averaged over targets."""
    return float(np.nanmean(_per_target(y_true, y_pred, lambda a, b: np.sqrt(np.mean((a - b) ** 2)))))


def mae(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean absolute error per target (labelled rows only), averaged over targets."""
    return float(np.nanmean(_per_target(y_true, y_pred, lambda a, b: np.mean(np.abs(a - b)))))


def rocauc(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """ROC-AUC averaged over the targets whose labelled rows contain both classes."""
    scores = []
    for t in range(y_true.shape[1]):
        labeled = ~np.isnan(y_true[:, t])
        y = y_true[labeled, t]
        if (y == 1).any() and (y == 0).any():
            scores.append(roc_auc_score(y, y_pred[labeled, t]))
    if not scores:
        raise ValueError("ROC-AUC undefined: no target has both positive and negative labels")
    return float(np.mean(scores))


_FUNCTIONS = {"rmse": rmse, "mae": mae, "rocauc": rocauc}


def _as_2d(a, num_tasks: int, what: str) -> np.ndarray:
    arr = np.asarray(a.detach().cpu().numpy() if hasattr(a, "detach") else a, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2 or arr.shape[1] != num_tasks:
        raise ValueError(f"{what} must have shape [n, {num_tasks}], got {list(arr.shape)}")
    return arr


def evaluate(spec, y_true, y_pred) -> dict[str, float]:
    """Metrics of predictions `y_pred` against labels `y_true` ([n, num_tasks], original units,
    NaN = missing; for classification `y_pred` are scores/probabilities).

    Returns {spec.metric: value}; for several regression targets also the per-target values as
    "<metric>/<target name>" (classification per-target ROC-AUC is noisy and left out); for a
    standardised regression spec also "<metric>_standardized" (see the module docstring).
    """
    y_true = _as_2d(y_true, spec.num_tasks, "y_true")
    y_pred = _as_2d(y_pred, spec.num_tasks, "y_pred")
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true {list(y_true.shape)} and y_pred {list(y_pred.shape)} differ in shape")
    if np.isnan(y_pred).any():
        raise ValueError("y_pred contains NaN (a diverged model?)")
    if spec.metric not in _FUNCTIONS:
        raise ValueError(f"task {spec.name!r}: unknown metric {spec.metric!r}")
    if is_ogb_task(spec.name, spec.num_tasks, spec.metric):
        from ogb.graphproppred import Evaluator

        result = {spec.metric: float(Evaluator(spec.name).eval({"y_true": y_true, "y_pred": y_pred})[spec.metric])}
    else:
        result = {spec.metric: _FUNCTIONS[spec.metric](y_true, y_pred)}
    if spec.task_type == "regression" and spec.standardize and spec.mean is not None:
        mean, std = np.asarray(spec.mean, dtype=np.float64), np.asarray(spec.std, dtype=np.float64)
        result[f"{spec.metric}_standardized"] = _FUNCTIONS[spec.metric]((y_true - mean) / std,
                                                                        (y_pred - mean) / std)
    if spec.task_type == "regression" and spec.num_tasks > 1:
        fn = _FUNCTIONS[spec.metric]
        for t, name in enumerate(spec.target_names):
            result[f"{spec.metric}/{name}"] = fn(y_true[:, [t]], y_pred[:, [t]])
    return result
