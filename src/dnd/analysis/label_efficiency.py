"""Label efficiency: test metric against the share of training labels used, per method
(`dnd label-efficiency RESULTS.csv --out PNG`, RESULTS.csv as written by `dnd run`)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from dnd.analysis.plotting import pyplot, save_figure


def efficiency_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean and std (over seeds) of the test metric per task, method, readout and train fraction."""
    return (rows.groupby(["task", "method", "readout", "metric", "train_fraction"])["test"]
            .agg(mean="mean", std=lambda s: s.std(ddof=0), seeds="count").reset_index())


def plot_label_efficiency(table: pd.DataFrame, out: str | Path) -> Path:
    plt = pyplot()
    tasks = list(dict.fromkeys(table["task"]))
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.2 * len(tasks), 3.6), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        t = table[table["task"] == task]
        for i, ((method, readout), g) in enumerate(t.groupby(["method", "readout"], sort=False)):
            g = g.sort_values("train_fraction")
            ax.errorbar(g["train_fraction"] * 100, g["mean"], yerr=g["std"], marker="o", capsize=3,
                        color=f"C{i}", label=f"{method} ({readout})")
        ax.set_xscale("log")
        ax.set_xticks([10, 25, 50, 100], ["10", "25", "50", "100"])
        ax.set_xlabel("training labels used (%)")
        ax.set_ylabel(f"test {t['metric'].iloc[0]}")
        ax.set_title(task)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return save_figure(fig, out)
