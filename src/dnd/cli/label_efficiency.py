"""`dnd label-efficiency`: test metric against the share of training labels (`dnd.analysis.label_efficiency`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from dnd.errors import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", help="per-run CSV (task, method, readout, seed, train_fraction, metric, test)")
    parser.add_argument("--out", required=True, help="PNG to write (the table goes beside it as CSV)")
    parser.add_argument("--methods", nargs="+", help="only these method labels")


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from dnd.analysis.label_efficiency import efficiency_table, plot_label_efficiency

    path = Path(args.results)
    if not path.is_file():
        raise UsageError(f"{path}: results file not found")
    rows = pd.read_csv(path)
    if args.methods:
        rows = rows[rows["method"].isin(args.methods)]
    table = efficiency_table(rows)
    plot_label_efficiency(table, args.out)
    table.to_csv(Path(args.out).with_suffix(".csv"), index=False)
    print(table.to_string(index=False))
    return 0
