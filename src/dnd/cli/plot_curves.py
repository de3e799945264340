"""`dnd plot-curves`: per-epoch training and validation loss of any stage's runs
(`dnd.analysis.curves`), denoise, distill, infomax or finetune."""

from __future__ import annotations

import argparse
from pathlib import Path

from dnd.cli.common import user_errors
from dnd.errors import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runs", nargs="+", metavar="LOG_DIR", help="run folders (RUN/logs/metrics.csv) or CSV files")
    parser.add_argument("--out", required=True, help="PNG to write")
    parser.add_argument("--labels", nargs="+", help="legend label per run (default: folder names)")
    parser.add_argument("--title")
    parser.add_argument("--yscale", choices=("log", "linear", "symlog"), default="log")
    parser.add_argument("--table", help="also write the per-epoch losses as a CSV (run, epoch, train_loss, val_loss)")


def run(args: argparse.Namespace) -> int:
    from dnd.analysis.curves import default_label, epoch_losses, plot_curves, tidy_table

    labels = args.labels or [default_label(r) for r in args.runs]
    if len(labels) != len(args.runs):
        raise UsageError(f"{len(labels)} labels for {len(args.runs)} runs")
    with user_errors(FileNotFoundError, ValueError):
        runs = {label: epoch_losses(path) for label, path in zip(labels, args.runs)}
    png = plot_curves(runs, args.out, args.title, args.yscale)
    print(f"curves: {png}")
    if args.table:
        Path(args.table).parent.mkdir(parents=True, exist_ok=True)
        tidy_table(runs).to_csv(args.table, index=False)
        print(f"table: {args.table}")
    return 0
