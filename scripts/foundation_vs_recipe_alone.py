"""Is the gain of `chemprop --from-foundation --epochs 100` the foundation's or the recipe's?

Paired differences (reference - method, > 0: the foundation is better) of the xTB foundation under
the [long] recipe against chemprop without a foundation under the same recipe, on the validation
and the test metric, per task and training fraction, from results/vs-chemprop/recipes/runs.csv.
Run from the repository root: python scripts/foundation_vs_recipe_alone.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, "benchmarks")
import vs_chemprop as vc  # noqa: E402  (the benchmark's own paired statistics)

FOLDER = Path("results/vs-chemprop/recipes")
METHOD = "chemprop + xTB NODE+GRAPH foundation [long]"
REFERENCE = "chemprop defaults [long]"


def main() -> None:
    runs = vc.load_runs(FOLDER / "runs.csv")
    rows = []
    for task in ("ogbg-molesol", "ogbg-molfreesolv"):
        for fraction in (0.1, 0.25, 1.0):
            cell = runs[(runs.task == task) & (runs.train_fraction == fraction)]
            for column in ("valid_rmse", "rmse"):
                by_seed = {m: cell[cell.method == m].set_index("seed")[column] for m in (METHOD, REFERENCE)}
                delta = vc.paired_difference(by_seed[METHOD], by_seed[REFERENCE], "rmse")
                rows.append({"task": task, "train_fraction": fraction, "method": METHOD, "reference": REFERENCE,
                             "metric": column} | {f"delta_{k}": v for k, v in delta.items()})
    pd.DataFrame(rows).to_csv(FOLDER / "foundation_vs_recipe_alone.csv", index=False)


if __name__ == "__main__":
    main()
