"""Result tables over finetuning runs: mean ± std over seeds per task, method, readout and train
fraction (summary.csv / summary.md), and the paper's Table 1 layout (one column per task)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from dnd.evaluation.metrics import higher_is_better

_GROUP = ["task", "method", "readout", "train_fraction", "metric"]


def summarize(results: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Mean and (population) std over seeds of valid/test scores per task, method, readout and
    train fraction, in the order the groups first appear. `test_standardized_*`: the test metric
    in standardised units (regression trained on standardised labels; NaN otherwise), the units
    of the paper's curated-set MAEs."""
    df = pd.DataFrame(list(results))
    if "test" not in df:
        df["test"] = np.nan
    standardized = [c for c in df if c.startswith("test/") and c.endswith("_standardized")]
    df["test_standardized"] = df[standardized].bfill(axis=1).iloc[:, 0] if standardized else np.nan
    pop_std = lambda s: s.std(ddof=0)  # noqa: E731
    agg = df.groupby(_GROUP, sort=False).agg(
        seeds=("seed", "count"), valid_mean=("valid", "mean"), valid_std=("valid", pop_std),
        test_mean=("test", "mean"), test_std=("test", pop_std),
        test_standardized_mean=("test_standardized", "mean"), test_standardized_std=("test_standardized", pop_std))
    return agg.reset_index()


def summary_markdown(summary: pd.DataFrame) -> str:
    lines = ["| task | method | readout | train fraction | metric | test | test (standardised) | valid | seeds |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in summary.itertuples(index=False):
        arrow = "↑" if higher_is_better(r.metric) else "↓"
        z = ("–" if pd.isna(r.test_standardized_mean)
             else f"{r.test_standardized_mean:.3f} ± {r.test_standardized_std:.3f}")
        lines.append(f"| {r.task} | {r.method} | {r.readout} | {r.train_fraction:g} | {r.metric} {arrow} | "
                     f"{r.test_mean:.3f} ± {r.test_std:.3f} | {z} | {r.valid_mean:.3f} ± {r.valid_std:.3f} | {r.seeds} |")
    return "\n".join(lines) + "\n"


def write_summary(results: Sequence[dict[str, Any]], out_dir: str | Path) -> dict[str, Path]:
    """results.csv (one row per run), summary.csv and summary.md (mean ± std over seeds)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"runs": out / "results.csv", "csv": out / "summary.csv", "markdown": out / "summary.md"}
    pd.DataFrame(list(results)).to_csv(paths["runs"], index=False)
    summary = summarize(results)
    summary.to_csv(paths["csv"], index=False)
    paths["markdown"].write_text(summary_markdown(summary))
    return paths


def results_table(summary: pd.DataFrame) -> str:
    """Markdown like the paper's Table 1: one row per method and readout, one column per task,
    test mean ± std over seeds; standardised regression tasks also in standardised units
    ("z ..."), the units of the paper's curated-set MAEs."""
    tasks = list(dict.fromkeys(summary["task"]))
    metric = dict(zip(summary["task"], summary["metric"]))
    head = [f"{t} ({metric[t]} {'↑' if higher_is_better(metric[t]) else '↓'})" for t in tasks]
    lines = ["| method | readout | " + " | ".join(head) + " |", "|---|---|" + "---|" * len(tasks)]
    for (method, readout), g in summary.groupby(["method", "readout"], sort=False):
        cells = {r.task: f"{r.test_mean:.3f} ± {r.test_std:.3f}" + (
            "" if pd.isna(getattr(r, "test_standardized_mean", float("nan")))
            else f" (z {r.test_standardized_mean:.3f} ± {r.test_standardized_std:.3f})") for r in g.itertuples()}
        lines.append(f"| {method} | {readout} | " + " | ".join(cells.get(t, "") for t in tasks) + " |")
    return "\n".join(lines) + "\n"
