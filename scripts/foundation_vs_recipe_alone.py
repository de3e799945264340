"""Is the gain of `chemprop --from-foundation --epochs 100` the foundation's or the recipe's?

Paired differences (> 0: the foundation is better) of each foundation under the [long] recipe
against chemprop without a foundation under the same recipe (`chemprop defaults [long]`), on the
validation and the test metric, for every task and training fraction where both ran, from
results/vs-chemprop/recipes/runs.csv (-> foundation_vs_recipe_alone.csv). Then the rule a user can
follow without a test set: run both commands and keep, per seed, the model with the better
validation metric; its test metric against chemprop's defaults and against the recipe alone
(-> pick_on_valid.csv; the valid split is the full OGB one at every training fraction, so this
rule has more validation labels here than a user with 10% of the data would). Run from the
repository root:

    python scripts/foundation_vs_recipe_alone.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, "benchmarks")
import vs_chemprop as vc  # noqa: E402  (the benchmark's own paired statistics)

FOLDER = Path("results/vs-chemprop/recipes")
REFERENCE = "chemprop defaults [long]"


def main() -> None:
    runs = vc.load_runs(FOLDER / "runs.csv")
    methods = sorted(m for m in runs.method.unique() if m.endswith("foundation [long]"))
    rows = []
    for (task, fraction), cell in runs.groupby(["task", "train_fraction"]):
        metric = vc.primary_metric(cell)
        reference = cell[cell.method == REFERENCE].set_index("seed")
        for method in methods:
            this = cell[cell.method == method].set_index("seed")
            if this.empty or reference.empty:
                continue
            for column in (f"valid_{metric}", metric):
                delta = vc.paired_difference(this[column], reference[column], metric)
                rows.append({"task": task, "train_fraction": fraction, "method": method, "reference": REFERENCE,
                             "metric": column} | {f"delta_{k}": v for k, v in delta.items()})
    pd.DataFrame(rows).to_csv(FOLDER / "foundation_vs_recipe_alone.csv", index=False)
    pick_on_valid(runs, "chemprop + xTB NODE+GRAPH foundation [long]").to_csv(FOLDER / "pick_on_valid.csv", index=False)


def pick_on_valid(runs: pd.DataFrame, foundation: str) -> pd.DataFrame:
    """Per task, fraction and seed: of `foundation` and REFERENCE, the run with the better valid
    metric; mean ± std of the picked runs' test metric, how often the foundation was picked, and
    paired Δ (> 0: the pick is better) against chemprop's defaults and against REFERENCE."""
    rows = []
    for (task, fraction), cell in runs.groupby(["task", "train_fraction"]):
        metric = vc.primary_metric(cell)
        sign = 1.0 if metric == "rocauc" else -1.0
        f, r, d = (cell[cell.method == m].set_index("seed") for m in (foundation, REFERENCE, vc.DEFAULTS))
        seeds = f.index.intersection(r.index).intersection(d.index)
        if seeds.empty:
            continue
        use_f = sign * f.loc[seeds, f"valid_{metric}"] >= sign * r.loc[seeds, f"valid_{metric}"]
        picked = f.loc[seeds, metric].where(use_f, r.loc[seeds, metric])
        row = {"task": task, "train_fraction": fraction, "metric": metric, "n": len(seeds),
               "foundation_picked": int(use_f.sum()), "test_mean": picked.mean(), "test_std": picked.std(ddof=1)}
        for name, ref in (("defaults", d), ("recipe_alone", r)):
            delta = vc.paired_difference(picked, ref.loc[seeds, metric], metric)
            row |= {f"vs_{name}_{k}": delta[k] for k in ("mean", "std", "won", "p")}
        rows.append(row)
    return pd.DataFrame(rows)


if __name__ == "__main__":
    main()
