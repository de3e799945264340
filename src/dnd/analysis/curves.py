"""Per-epoch training and validation loss curves on log axes (the paper's Figure 3):
`dnd plot-curves RUN_DIR... --out curves.png`.

Every training stage (denoise, distill, infomax, finetune) logs through the shared trainer into
RUN/logs/metrics.csv under one key convention (`dnd.training.fit`): the epoch mean of the training
loss as `train/loss_epoch` and the validation loss as `val/loss`. This module reduces such a file
to one row per epoch and draws each run's two curves (training solid, validation dashed, one
colour per run). `--table` writes the same numbers as a tidy CSV. Logs written before the keys
were unified (`train_loss_epoch`, `val_loss`) are still read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import pandas as pd

TRAIN_KEYS = ("train/loss_epoch", "train/loss", "train_loss_epoch", "train_loss")
VAL_KEYS = ("val/loss", "val_loss")


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


def default_label(path: str | Path) -> str:
    """Legend label of a run given as a folder or a metrics file: the run folder's name."""
    p = Path(path)
    if p.is_file():
        p = p.parent.parent if p.parent.name == "logs" else p.parent
    return p.name


def tidy_table(runs: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per run and epoch: run, epoch, train_loss, val_loss."""
    return pd.concat([t.assign(run=label) for label, t in runs.items()])[["run", "epoch", "train_loss", "val_loss"]]
