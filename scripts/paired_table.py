"""One markdown table of test metrics from a vs_chemprop runs.csv, every column restricted to the
seeds its anchor method ran, so each row compares runs on the same seeded training subsets (a
method with more seeds elsewhere is not averaged over seeds the anchor never saw). The best mean
of a row is bold; a column with a seed missing shows "-" rather than a mean over fewer seeds.
The README's, the model cards' and results/vs-chemprop/tokengt/'s tables come from it:

    python scripts/paired_table.py results/vs-chemprop/tokengt/runs.csv --fraction 0.1 \
        --anchor "dnd finetune TokenGT xTB NODE+GRAPH" \
        --column "chemprop defaults=chemprop defaults" \
        --column "TokenGT xTB, dnd finetune=dnd finetune TokenGT xTB NODE+GRAPH"
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

TASKS = {"ogbg-molfreesolv": ("FreeSolv", "rmse"), "ogbg-molesol": ("ESOL", "rmse"),
         "ogbg-mollipo": ("Lipo", "rmse"), "ogbg-molbace": ("BACE", "rocauc"),
         "ogbg-molbbbp": ("BBBP", "rocauc"), "ogbg-molclintox": ("ClinTox", "rocauc"),
         "ogbg-molsider": ("SIDER", "rocauc")}
ARROW = {"rmse": "RMSE ↓", "rocauc": "ROC-AUC ↑"}


def seed_range(seeds: list[int]) -> str:
    seeds = sorted(seeds)
    return f"{seeds[0]}-{seeds[-1]}" if seeds == list(range(seeds[0], seeds[-1] + 1)) else ", ".join(map(str, seeds))


def table(runs: pd.DataFrame, fraction: float, anchor: str, columns: list[tuple[str, str]], digits: int = 3) -> str:
    runs = runs[(runs.train_fraction - fraction).abs() < 1e-9]
    head = f"| {fraction:.0%} of the training labels | seeds | " + " | ".join(c for c, _ in columns) + " |"
    lines = [head, "|" + "---|" * (len(columns) + 2)]
    for task, (name, metric) in TASKS.items():
        t = runs[runs.task == task]
        seeds = sorted(t[t.method == anchor].seed.unique().tolist())
        if not seeds:
            continue
        cells, means = [], []
        for _, method in columns:
            v = t[(t.method == method) & t.seed.isin(seeds)].drop_duplicates("seed")[metric]
            if len(v) < len(seeds):
                cells.append("-"), means.append(None)
                continue
            means.append(v.mean())
            cells.append(f"{v.mean():.{digits}f} ± {v.std(ddof=1) if len(v) > 1 else 0:.{digits}f}")
        known = [m for m in means if m is not None]
        best = (min if metric == "rmse" else max)(known) if known else None
        cells = [f"**{c}**" if m is not None and m == best else c for c, m in zip(cells, means)]
        lines.append(f"| {name} ({ARROW[metric]}) | {seed_range(seeds)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", type=Path, help="runs.csv of benchmarks/vs_chemprop.py")
    ap.add_argument("--fraction", type=float, required=True, help="training fraction of the table")
    ap.add_argument("--anchor", required=True, help="method whose seeds every column is restricted to")
    ap.add_argument("--column", action="append", required=True, metavar="LABEL=METHOD",
                    help="a column: its header and the runs.csv method (repeatable, in order)")
    ap.add_argument("--digits", type=int, default=3)
    args = ap.parse_args(argv)
    if not args.runs.is_file():
        print(f"{args.runs}: no such file; give the runs.csv of a vs_chemprop --out folder", file=sys.stderr)
        return 2
    runs = pd.read_csv(args.runs)
    columns = []
    for spec in args.column:
        label, sep, method = spec.partition("=")
        if not (sep and label and method):
            print(f"--column {spec!r}: give LABEL=METHOD", file=sys.stderr)
            return 2
        columns.append((label, method))
    unknown = [m for m in [args.anchor] + [m for _, m in columns] if m not in set(runs.method)]
    if unknown:
        print(f"{args.runs}: no runs of method(s) {unknown}; its methods: {sorted(set(runs.method))}", file=sys.stderr)
        return 2
    print(table(runs, args.fraction, args.anchor, columns, args.digits))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
