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
    python scripts/foundation_vs_recipe_alone.py --folder results/vs-chemprop/tokengt \
        --candidate "chemprop + xTB NODE+GRAPH foundation [long]" --candidate "dnd finetune TokenGT xTB NODE+GRAPH"

With several --candidate the rule picks, per seed, the best of them and the recipe alone. With
--reference, the candidates against another recipe-alone row (TokenGT: its RandInit under dnd's
recipe), written to foundation_vs_<reference>.csv.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, "benchmarks")
import vs_chemprop as vc  # noqa: E402  (the benchmark's own paired statistics)

FOLDER = Path("results/vs-chemprop/recipes")
REFERENCE = "chemprop defaults [long]"
XTB_LONG = "chemprop + xTB NODE+GRAPH foundation [long]"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folder", default=str(FOLDER), help="a vs_chemprop --out folder with runs.csv")
    ap.add_argument("--candidate", action="append", default=[], metavar="METHOD",
                    help=f"a method the rule may pick instead of {REFERENCE!r} (repeatable; default: {XTB_LONG!r})")
    ap.add_argument("--reference", default=REFERENCE,
                    help="the recipe-alone row the candidates are compared with (another one writes "
                         "foundation_vs_<reference>.csv and no pick_on_valid.csv), e.g. a RandInit row of dnd's recipe")
    args = ap.parse_args(argv)
    folder = Path(args.folder)
    runs = vc.load_runs(folder / "runs.csv")
    candidates = args.candidate or [XTB_LONG]
    unknown = [m for m in [*candidates, args.reference] if m not in set(runs.method)]
    if unknown:
        ap.error(f"{', '.join(map(repr, unknown))}: not a method of {folder / 'runs.csv'}; give full method names")
    methods = sorted({m for m in runs.method.unique() if m.endswith("foundation [long]")} | set(candidates))
    if args.reference != REFERENCE:
        methods = candidates
    rows = []
    for (task, fraction), cell in runs.groupby(["task", "train_fraction"]):
        metric = vc.primary_metric(cell)
        reference = cell[cell.method == args.reference].set_index("seed")
        for method in methods:
            this = cell[cell.method == method].set_index("seed")
            if this.empty or reference.empty:
                continue
            for column in (f"valid_{metric}", metric):
                delta = vc.paired_difference(this[column], reference[column], metric)
                rows.append({"task": task, "train_fraction": fraction, "method": method, "reference": args.reference,
                             "metric": column} | {f"delta_{k}": v for k, v in delta.items()})
    if args.reference != REFERENCE:
        slug = re.sub(r"[^a-z0-9]+", "-", args.reference.lower()).strip("-")
        pd.DataFrame(rows).to_csv(folder / f"foundation_vs_{slug}.csv", index=False)
        return
    pd.DataFrame(rows).to_csv(folder / "foundation_vs_recipe_alone.csv", index=False)
    pick_on_valid(runs, candidates).to_csv(folder / "pick_on_valid.csv", index=False)


def pick_on_valid(runs: pd.DataFrame, candidates: list[str]) -> pd.DataFrame:
    """Per task, fraction and seed: of the `candidates` and REFERENCE, the run with the best valid
    metric (a tie goes to the earlier candidate); mean ± std of the picked runs' test metric, how
    often a candidate was picked (`foundation_picked`), and paired Δ (> 0: the pick is better)
    against chemprop's defaults and against REFERENCE. Seeds where any of them is missing are
    left out."""
    rows = []
    for (task, fraction), cell in runs.groupby(["task", "train_fraction"]):
        metric = vc.primary_metric(cell)
        sign = 1.0 if metric == "rocauc" else -1.0
        frames = {m: cell[cell.method == m].set_index("seed") for m in [*candidates, REFERENCE, vc.DEFAULTS]}
        seeds = frames[vc.DEFAULTS].index
        for frame in frames.values():
            seeds = seeds.intersection(frame.index)
        if seeds.empty:
            continue
        options = [*candidates, REFERENCE]
        valid = pd.DataFrame({m: sign * frames[m].loc[seeds, f"valid_{metric}"] for m in options})
        test = pd.DataFrame({m: frames[m].loc[seeds, metric] for m in options})
        best = valid.idxmax(axis=1)
        picked = pd.Series([test.loc[s, best[s]] for s in seeds], index=seeds)
        row = {"task": task, "train_fraction": fraction, "metric": metric, "n": len(seeds),
               "foundation_picked": int((best != REFERENCE).sum()), "test_mean": picked.mean(),
               "test_std": picked.std(ddof=1)}
        for name, ref in (("defaults", frames[vc.DEFAULTS]), ("recipe_alone", frames[REFERENCE])):
            delta = vc.paired_difference(picked, ref.loc[seeds, metric], metric)
            row |= {f"vs_{name}_{k}": delta[k] for k in ("mean", "std", "won", "p")}
        rows.append(row)
    return pd.DataFrame(rows)


if __name__ == "__main__":
    main()
