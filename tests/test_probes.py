"""benchmarks/probes.py: penalties are chosen on the valid split, the probe trains on exactly
vs_chemprop.py's training subset, and the whole run on the embedded ESOL scores with the
benchmark's evaluator."""

import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import probes  # noqa: E402
import vs_chemprop  # noqa: E402


def _linear(n, rng, w):
    x = rng.normal(size=(n, len(w)))
    return x, x @ w


def test_ridge_alpha_is_chosen_on_valid():
    rng = np.random.default_rng(0)
    w = rng.normal(size=8)
    x_tr, y_tr = _linear(40, rng, w)
    x_va, y_va = _linear(30, rng, w)
    x_te, _ = _linear(5, rng, w)
    # Same training data, two valid splits: one with the training relation (least shrinkage wins),
    # one whose labels are the training mean everywhere (most shrinkage wins).
    _, alpha = probes.ridge_probe(x_tr, y_tr, x_va, y_va, x_te)
    assert alpha == pytest.approx(1e-3)
    pred, alpha = probes.ridge_probe(x_tr, y_tr, x_va, np.full(30, y_tr.mean()), x_te)
    assert alpha == pytest.approx(1e3)
    # the chosen model is fitted on the training rows only, never on valid
    assert pred == pytest.approx(Ridge(alpha=1e3).fit(x_tr, y_tr).predict(x_te))


def test_logistic_C_maximises_valid_rocauc():
    rng = np.random.default_rng(1)
    x_tr, x_va, x_te = rng.normal(size=(60, 10)), rng.normal(size=(40, 10)), rng.normal(size=(7, 10))
    y_tr = (x_tr[:, 0] + rng.normal(size=60) > 0).astype(float)
    y_va = (x_va[:, 0] + x_va[:, 1] > 0).astype(float)
    pred, c = probes.logistic_probe(x_tr, y_tr, x_va, y_va, x_te)
    aucs = [roc_auc_score(y_va, LogisticRegression(C=g, max_iter=2000).fit(x_tr, y_tr).predict_proba(x_va)[:, 1])
            for g in probes.GRID]
    assert c == pytest.approx(probes.GRID[int(np.argmax(aucs))])
    assert pred == pytest.approx(LogisticRegression(C=c, max_iter=2000).fit(x_tr, y_tr).predict_proba(x_te)[:, 1])


def test_logistic_one_training_class_predicts_prevalence():
    pred, c = probes.logistic_probe(np.zeros((4, 2)), np.ones(4), np.zeros((3, 2)), np.array([0.0, 1, 1]),
                                    np.zeros((2, 2)))
    assert pred.tolist() == [1.0, 1.0] and np.isnan(c)


def _task(y_train, y_valid, n_test=6, task_type="regression"):
    labels = {"train": np.asarray(y_train, float), "valid": np.asarray(y_valid, float)}
    return SimpleNamespace(train=[None] * len(labels["train"]), labels=labels.__getitem__,
                           spec=SimpleNamespace(num_tasks=labels["train"].shape[1], task_type=task_type,
                                                metric="rmse"))


def test_probe_trains_on_the_benchmark_subset_with_its_statistics():
    rng = np.random.default_rng(2)
    emb = {s: rng.normal(size=(n, 5)) for s, n in (("train", 100), ("valid", 20), ("test", 6))}
    y_train = np.stack([emb["train"] @ np.arange(5.0), emb["train"][:, 0]], axis=1)
    y_train[::3, 1] = np.nan  # a multi-target set with missing labels
    y_valid = np.stack([emb["valid"] @ np.arange(5.0), emb["valid"][:, 0]], axis=1)
    pred, chosen = probes.fit_probe(_task(y_train, y_valid), emb, 0.25, seed=3)
    keep = vs_chemprop.train_subset(100, 0.25, seed=3)
    x_tr, x_va, x_te = probes.standardise(emb["train"][keep], emb["valid"], emb["test"])
    assert x_tr.mean(axis=0) == pytest.approx(np.zeros(5)) and x_tr.std(axis=0) == pytest.approx(np.ones(5))
    for t in range(2):
        labelled = ~np.isnan(y_train[keep, t])
        expected, alpha = probes.ridge_probe(x_tr[labelled], y_train[keep][labelled, t], x_va, y_valid[:, t], x_te)
        assert pred[:, t] == pytest.approx(expected) and chosen[t] == alpha


def test_main_on_embedded_esol(tmp_path):
    out = tmp_path / "out"
    probes.main(["--foundation", "NODE=dnd:dmpnn-node-druglike", "--tasks", "ogbg-molesol",
                 "--data-root", str(tmp_path / "no-data"), "--task-cache", str(tmp_path / "cache"),
                 "--train-fractions", "0.1", "1.0", "--few-label-seeds", "0", "1", "--out", str(out)])
    rows = pd.read_csv(out / "probes.csv")
    assert rows.columns.tolist() == ["task", "train_fraction", "seed", "foundation", "n_train", "rmse",
                                     "mae_std", "alpha_or_C", "wall_s"]
    assert len(rows) == 2 * 3 and set(rows.foundation) == {"NODE", probes.RANDOM}
    assert rows.rmse.between(0.3, 5).all()
    assert set(rows.n_train) == {len(vs_chemprop.train_subset(902, 0.1, 0)), 902}
    assert "Δ vs random encoder" in (out / "probes.md").read_text()
