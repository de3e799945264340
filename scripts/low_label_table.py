"""The few-label tables of results/README.md from results/vs-chemprop/summary.csv: per training
fraction, one row per task with every method's test metric (mean ± std over seeds) and, in
brackets, the seeds it won against chemprop's defaults on the same subset; then each teacher
against its control (paired Δ, seeds won, p and Holm-adjusted p as benchmarks/vs_chemprop.py
computed them), and the few-label targets counted.

    python scripts/low_label_table.py results/vs-chemprop/summary.csv > results/vs-chemprop/few-labels.md
"""

from __future__ import annotations

import sys

import pandas as pd

DEFAULTS = "chemprop defaults"
SHORT = {"chemprop + D&D-NODE D-MPNN foundation": "denoiser NODE (shipped)",
         "chemprop + ANI-2x NODE foundation": "ANI-2x NODE",
         "chemprop + ANI-2x NODE, control foundation": "ANI-2x control",
         "chemprop + xTB NODE+GRAPH foundation": "xTB NODE+GRAPH",
         "chemprop + xTB NODE+GRAPH, control foundation": "xTB control"}


def cell(r) -> str:
    won = f" ({int(r.vs_defaults_won)}/{int(r.vs_defaults_n)})" if pd.notna(r.vs_defaults_n) else ""
    return f"{r['mean']:.3f} ± {r['std']:.3f}{won}"


def main(path: str) -> None:
    s = pd.read_csv(path)
    primary = s[s.vs_defaults_n.notna()].groupby("task").metric.first()  # the task's own metric
    s = s[(s.train_fraction < 1) & (s.metric == s.task.map(primary))]
    methods = [DEFAULTS] + [m for m in SHORT if m in set(s.method)]
    for frac, f in s.groupby("train_fraction"):
        print(f"\n### {int(round(frac * 100))}% of the training labels\n")
        print("| task (metric) | seeds | " + " | ".join(SHORT.get(m, m) for m in methods) + " |")
        print("|---|---|" + "---|" * len(methods))
        for task, t in f.groupby("task", sort=False):
            by = t.set_index("method")
            cells = [cell(by.loc[m]) if m in by.index else "" for m in methods]
            arrow = "↓" if t.metric.iloc[0] != "rocauc" else "↑"
            print(f"| {task} ({t.metric.iloc[0]} {arrow}) | {int(by.loc[DEFAULTS].n_seeds)} | " + " | ".join(cells) + " |")
    print("\n### Teacher against its control (paired by seed; Δ > 0: the teacher is better)\n")
    print("| task | fraction | teacher | Δ mean ± std | seeds won | p | p (Holm, all comparisons) |")
    print("|---|---|---|---|---|---|---|")
    c = s[s.vs_control_n.notna()]
    for _, r in c.iterrows():
        print(f"| {r.task} | {r.train_fraction:g} | {SHORT.get(r.method, r.method)} | {r.vs_control_mean:+.3f} ± "
              f"{r.vs_control_std:.3f} | {int(r.vs_control_won)}/{int(r.vs_control_n)} | {r.vs_control_p:.3f} | "
              f"{r.vs_control_p_holm:.3f} |")
    print("\n### Against chemprop's defaults, counted\n")
    for frac, f in s[s.vs_defaults_n.notna()].groupby("train_fraction"):
        for m, g in f.groupby("method", sort=False):
            better = int((g.vs_defaults_mean > 0).sum())
            beyond = int((g.vs_defaults_mean > g.vs_defaults_std).sum())
            print(f"- {int(round(frac * 100))}%, {SHORT.get(m, m)}: better by paired mean on {better} of {len(g)} tasks, "
                  f"by more than the std of the paired difference on {beyond}")


if __name__ == "__main__":
    main(sys.argv[1])
