"""Regression tasks trained on standardised labels report their metric in both original and
standardised units, per run and in the finetune summary, so curated-set MAEs can stand beside
the paper's (which are in standardised units)."""

import numpy as np
import pytest

from dnd.evaluation.summary import results_table
from dnd.data.tasks.base import TaskSpec
from dnd.evaluation import evaluate
from dnd.evaluation.summary import summarize, summary_markdown, write_summary
from dnd.models.property import load_property_model
from finetune_fixtures import classification_task, train_tiny


def test_evaluate_gives_the_metric_in_standardised_units():
    spec = TaskSpec("bp", "regression", "mae", 1, ["bp"], True, [300.0], [50.0], "K")
    y, p = np.array([[250.0], [300.0], [400.0]]), np.array([[260.0], [330.0], [400.0]])
    r = evaluate(spec, y, p)
    assert r["mae"] == pytest.approx(40 / 3) and r["mae_standardized"] == pytest.approx(40 / 3 / 50)
    raw = TaskSpec("bp", "regression", "mae", 1, ["bp"], False, None, None, "K")
    assert "mae_standardized" not in evaluate(raw, y, p)


def test_finetune_summary_has_a_standardised_column(tmp_path):
    reg = [train_tiny(tmp_path / "r0", epochs=1)]
    std = load_property_model(reg[0]["checkpoint"]).spec.std[0]
    assert reg[0]["test/mae_standardized"] == pytest.approx(reg[0]["test"] / std)
    cls = train_tiny(tmp_path / "c", classification_task(), epochs=1)
    summary = summarize(reg + [cls])
    row = summary.set_index("task").loc["toy-heavy-atoms"]
    assert row["test_standardized_mean"] == pytest.approx(reg[0]["test"] / std)
    assert np.isnan(summary.set_index("task").loc["toy-cls", "test_standardized_mean"])
    md = summary_markdown(summary)
    assert "test (standardised)" in md and f"{reg[0]['test'] / std:.3f}" in md
    assert f"(z {reg[0]['test'] / std:.3f}" in results_table(summary)
    paths = write_summary(reg, tmp_path / "out")
    assert "test_standardized_mean" in paths["csv"].read_text()
