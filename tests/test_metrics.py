"""Task metrics: RMSE, MAE and ROC-AUC by hand with missing labels, and OGB tasks scored by OGB's Evaluator."""

import math

import numpy as np
import pytest

from dnd.data.tasks.base import TaskSpec
from dnd.evaluation import evaluate, higher_is_better
from dnd.evaluation.metrics import is_ogb_task

nan = float("nan")


def spec(name, task_type, metric, n):
    return TaskSpec(name, task_type, metric, n, [f"t{i}" for i in range(n)], False, None, None)


def test_rmse_and_mae_by_hand_ignore_missing_labels():
    y = np.array([[1.0, 10.0], [2.0, nan], [4.0, 12.0]])
    p = np.array([[2.0, 11.0], [2.0, 99.0], [1.0, 10.0]])
    # target 0 errors (1, 0, -3); target 1 errors (1, -, -2)
    rmse0, rmse1 = math.sqrt((1 + 0 + 9) / 3), math.sqrt((1 + 4) / 2)
    r = evaluate(spec("custom", "regression", "rmse", 2), y, p)
    assert r["rmse"] == pytest.approx((rmse0 + rmse1) / 2)
    assert r["rmse/t1"] == pytest.approx(rmse1)
    m = evaluate(spec("custom", "regression", "mae", 2), y, p)
    assert m["mae"] == pytest.approx(((1 + 0 + 3) / 3 + (1 + 2) / 2) / 2)
    assert m["mae/t0"] == pytest.approx(4 / 3)


def test_rocauc_averages_tasks_with_both_classes():
    y = np.array([[1, 0, 1], [0, 1, 1], [1, nan, 1], [0, 0, nan]], dtype=float)
    p = np.array([[0.9, 0.2, 0.1], [0.4, 0.1, 0.2], [0.3, 0.5, 0.3], [0.5, 0.3, 0.4]])
    # task 0: positives {0.9, 0.3}, negatives {0.4, 0.5}: pairs won 2 of 4 -> 0.5
    # task 1 (row 2 missing): positive {0.1}, negatives {0.2, 0.3} -> 0.0
    # task 2: only positives -> excluded
    r = evaluate(spec("custom", "classification", "rocauc", 3), y, p)
    assert r == {"rocauc": pytest.approx(0.25)}


def test_rocauc_without_any_usable_task_is_an_error():
    with pytest.raises(ValueError, match="both positive and negative"):
        evaluate(spec("custom", "classification", "rocauc", 1), np.ones((3, 1)), np.zeros((3, 1)))


def test_ogb_tasks_go_through_ogb_evaluator_and_agree_with_hand_values():
    assert is_ogb_task("ogbg-molesol", 1, "rmse") and not is_ogb_task("bp", 1, "mae")
    y = np.array([[-1.0], [0.5], [2.0]])
    p = np.array([[-1.5], [0.5], [1.0]])
    assert evaluate(spec("ogbg-molesol", "regression", "rmse", 1), y, p)["rmse"] == \
        pytest.approx(math.sqrt((0.25 + 0 + 1) / 3))
    y2 = np.array([[1, 0], [0, 1], [1, nan], [0, 0]], dtype=float)
    p2 = np.array([[0.9, 0.2], [0.4, 0.1], [0.3, 0.5], [0.5, 0.3]])
    assert evaluate(spec("ogbg-molclintox", "classification", "rocauc", 2), y2, p2)["rocauc"] == \
        pytest.approx((0.5 + 0.0) / 2)


def test_shapes_and_directions_are_checked():
    with pytest.raises(ValueError, match=r"shape \[n, 2\]"):
        evaluate(spec("custom", "regression", "mae", 2), np.zeros((3, 1)), np.zeros((3, 1)))
    with pytest.raises(ValueError, match="NaN"):
        evaluate(spec("custom", "regression", "mae", 1), np.zeros(2), np.array([0.0, nan]))
    assert evaluate(spec("custom", "regression", "mae", 1), [1.0, 2.0], [1.5, 2.0])["mae"] == pytest.approx(0.25)
    assert higher_is_better("rocauc") and not higher_is_better("rmse") and not higher_is_better("mae")


def test_ogb_tasks_are_scored_by_ogbs_evaluator_itself(monkeypatch):
    """A stand-in Evaluator that records its calls and returns a marker value: OGB tasks must get
    the marker (so a reimplementation that bypassed OGB fails here), other tasks never call it."""
    import ogb.graphproppred

    calls = []

    class Recording(ogb.graphproppred.Evaluator):
        def eval(self, input_dict):
            real = super().eval(input_dict)
            calls.append((self.name, real))
            return {k: 1000.0 + v for k, v in real.items()}

    monkeypatch.setattr(ogb.graphproppred, "Evaluator", Recording)
    y, p = np.array([[-1.0], [0.5], [2.0]]), np.array([[-1.5], [0.5], [1.0]])
    got = evaluate(spec("ogbg-molesol", "regression", "rmse", 1), y, p)["rmse"]
    assert calls and calls[0][0] == "ogbg-molesol"
    assert got == pytest.approx(1000.0 + math.sqrt((0.25 + 0 + 1) / 3))
    y2 = np.array([[1.0], [0.0], [1.0], [0.0]])
    p2 = np.array([[0.9], [0.4], [0.3], [0.5]])
    assert evaluate(spec("ogbg-molbbbp", "classification", "rocauc", 1), y2, p2)["rocauc"] == \
        pytest.approx(1000.5)
    n = len(calls)
    assert evaluate(spec("bp", "regression", "rmse", 1), y, p)["rmse"] < 1000   # not an OGB task
    assert len(calls) == n
