"""Per-epoch training and validation loss curves on log axes (the paper's Figure 3):
`dnd plot-curves RUN_DIR... --out curves.png`.

Every training stage logs through the shared trainer into RUN/logs/metrics.csv, with the epoch
mean of the training loss as `train_loss_epoch` and the validation loss as `val_loss`; this module
reduces such a file to one row per epoch and draws each run's two curves (training solid,
validation dashed, one colour per run). `--table` writes the same numbers as a tidy CSV.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Sequence

import pandas as pd

TRAIN_KEYS = ("train_loss_epoch", "train_loss")
VAL_KEYS = ("val_loss",)


def metrics_file(path: str | Path) -> Path:
    """metrics.csv of a run folder (RUN/logs/metrics.csv), a logs folder, or the file itself."""
    p = Path(path)
    for candidate in (p, p / "logs" / "metrics.csv", p / "metrics.csv"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"{p}: no metrics.csv here (expected RUN/logs/metrics.csv)")


def _column(df: pd.DataFrame, keys: Sequence[str], path: Path, what: str) -> str:
    for key in keys:
        if key in df.columns and df[key].notna().any():
            return key
    raise ValueError(f"{path}: no {what} loss column (looked for {', '.join(keys)}; has {', '.join(df.columns)})")


def epoch_losses(path: str | Path, train_keys: Sequence[str] = TRAIN_KEYS,
                 val_keys: Sequence[str] = VAL_KEYS) -> pd.DataFrame:
    """DataFrame [epoch, train_loss, val_loss] (epoch from 1), the last value logged per epoch,
    so rows repeated by a resumed run count once. val_loss is NaN for a run without validation."""
    path = metrics_file(path)
    df = pd.read_csv(path)
    if "epoch" not in df.columns:
        raise ValueError(f"{path}: no epoch column; not a Lightning CSV log")
    key = _column(df, train_keys, path, "training")
    out = {"train_loss": df.dropna(subset=[key]).groupby("epoch")[key].last()}
    try:
        key = _column(df, val_keys, path, "validation")
        out["val_loss"] = df.dropna(subset=[key]).groupby("epoch")[key].last()
    except ValueError:
        out["val_loss"] = pd.Series(dtype=float)
    table = pd.DataFrame(out).sort_index()
    table.index = table.index.astype(int) + 1
    return table.rename_axis("epoch").reset_index()


def plot_curves(runs: dict[str, pd.DataFrame], out: str | Path, title: str | None = None,
                yscale: str = "log") -> Path:
    """Draw each run's per-epoch curves into a PNG. Log scale needs positive losses (NT-Xent can
    go negative); with any value <= 0 the axis falls back to symlog and says so in the label."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    values = pd.concat([t[["train_loss", "val_loss"]].stack() for t in runs.values()])
    if yscale == "log" and (values <= 0).any():
        yscale = "symlog"
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for i, (label, table) in enumerate(runs.items()):
        color = f"C{i}"
        ax.plot(table["epoch"], table["train_loss"], "-o", color=color, ms=3, label=f"{label} train")
        if table["val_loss"].notna().any():
            ax.plot(table["epoch"], table["val_loss"], "--s", color=color, ms=3, label=f"{label} validation")
    ax.set_yscale(yscale)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss" + (" (symlog: values <= 0)" if yscale == "symlog" else ""))
    if title:
        ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=150)
    plt.close(fig)
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runs", nargs="+", metavar="LOG_DIR", help="run folders (RUN/logs/metrics.csv) or CSV files")
    parser.add_argument("--out", required=True, help="PNG to write")
    parser.add_argument("--labels", nargs="+", help="legend label per run (default: folder names)")
    parser.add_argument("--title")
    parser.add_argument("--yscale", choices=("log", "linear", "symlog"), default="log")
    parser.add_argument("--table", help="also write the per-epoch losses as a CSV (run, epoch, train_loss, val_loss)")


def _default_label(path: str) -> str:
    p = Path(path)
    if p.is_file():
        p = p.parent.parent if p.parent.name == "logs" else p.parent
    return p.name


def run(args: argparse.Namespace) -> int:
    labels = args.labels or [_default_label(r) for r in args.runs]
    if len(labels) != len(args.runs):
        raise SystemExit(f"dnd plot-curves: {len(labels)} labels for {len(args.runs)} runs")
    runs = {label: epoch_losses(path) for label, path in zip(labels, args.runs)}
    png = plot_curves(runs, args.out, args.title, args.yscale)
    print(f"curves: {png}")
    if args.table:
        tidy = pd.concat([t.assign(run=label) for label, t in runs.items()])[["run", "epoch", "train_loss", "val_loss"]]
        Path(args.table).parent.mkdir(parents=True, exist_ok=True)
        tidy.to_csv(args.table, index=False)
        print(f"table: {args.table}")
    return 0
