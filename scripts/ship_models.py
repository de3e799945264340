"""Copy trained checkpoints into the package as shipped models (`dnd:NAME`), with their cards.

Only what rebuilding needs is kept (weights + hyper-parameters; no optimiser state), so the
files stay small. The card gets the run's config, final distillation losses and the command
lines; the hand-written parts (corpus, downstream results, licence) come from --card-extra.

    python scripts/ship_models.py NAME RUN_CKPT --summary "one line" --card-extra notes.md
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd
import torch

from dnd.models.shipped import shipped_dir
from dnd.models.checkpoint import load_checkpoint

KEEP = ("state_dict", "hyper_parameters")


def final_losses(run: Path) -> str:
    log = run / "logs" / "metrics.csv"
    if not log.is_file():
        return ""
    df = pd.read_csv(log)
    parts = []
    for key in ("train/loss_epoch", "val/loss", "train_loss_epoch", "val_loss"):  # new keys, then old logs
        if key in df:
            vals = df[key].dropna()
            if len(vals):
                parts.append(f"{key} {vals.iloc[-1]:.4g} (epoch {int(df.loc[vals.index[-1], 'epoch'])})")
    return ", ".join(parts)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name")
    ap.add_argument("checkpoint")
    ap.add_argument("--summary", required=True, help="first line of the card (what `dnd models` shows)")
    ap.add_argument("--card-extra", help="markdown file appended to the card")
    args = ap.parse_args(argv)

    ckpt = load_checkpoint(args.checkpoint)
    slim = {k: ckpt[k] for k in KEEP if k in ckpt}
    slim["state_dict"] = {k: v for k, v in slim["state_dict"].items()
                          if k.startswith(("student.", "teacher.", "noise_head."))}
    dest = shipped_dir() / f"{args.name}.ckpt"
    torch.save(slim, dest)
    run = Path(args.checkpoint).resolve().parent
    if run.name == "checkpoints":
        run = run.parent
    configs = sorted(run.glob("*_config.json"))
    card = [f"# {args.summary}", "", f"`dnd:{args.name}` ({dest.stat().st_size / 1e6:.2f} MB), "
            f"from `{args.checkpoint}`.", ""]
    losses = final_losses(run)
    if losses:
        card += [f"Final losses: {losses}.", ""]
    if args.card_extra:
        card += [Path(args.card_extra).read_text(encoding="utf-8").rstrip(), ""]
    for cfg in configs:
        card += [f"<details><summary>{cfg.name} (the run's full config)</summary>", "", "```json",
                 json.dumps(json.loads(cfg.read_text()), indent=1), "```", "</details>", ""]
    (shipped_dir() / f"{args.name}.md").write_text("\n".join(card), encoding="utf-8")
    print(f"{dest} ({dest.stat().st_size / 1e6:.2f} MB) and its card")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
