"""results/teachers/distill.csv and .md from the runs of scripts/teachers_pretrain.sh: per
foundation its teacher, control flag, objective, corpus, epochs, wall time, the final validation
losses and what they mean against the variance the student cannot read off the atom type.

With `--target-norm element` a per-atom target column has unit variance after per-element
centring on the training molecules, so the NODE validation loss is the share of that residual
variance the student misses (1 - loss: the share it reproduces); molecule targets are z-scored,
so the same holds for the GRAPH loss against the molecule targets' variance.

    python scripts/teachers_table.py runs/teachers --out results/teachers

Rows already in OUT/distill.csv whose run is not under RUNS (runs made on another machine) are
kept; a run under RUNS replaces its row.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd


def row(run: Path) -> dict:
    cfg = json.loads((run / "distill_config.json").read_text())
    norm = json.loads((run / "target_norm.json").read_text()) if (run / "target_norm.json").is_file() else {}
    log = pd.read_csv(run / "logs" / "metrics.csv")
    val = log.dropna(subset=["val/loss"]).iloc[-1]
    train = log.dropna(subset=["train/loss_epoch"]).iloc[-1]
    out = {"run": run.name, "encoder": cfg["student"]["encoder"], "teacher": cfg["teacher"]["name"],
           "control": cfg["teacher"]["control"],
           "variant": cfg["objective"]["variant"], "target_norm": norm.get("mode", "none"),
           "corpus": cfg["corpus_size"], "teacher_failed": cfg["teacher_failed"],
           "overlap_removed": cfg["overlap_removed"], "n_train": cfg["n_train"], "n_val": cfg["n_val"],
           "epochs": int(val["epoch"]) + 1, "train_loss": train["train/loss_epoch"], "val_loss": val["val/loss"],
           "element_explained": norm.get("element_explained_fraction")}
    for part in ("node", "graph"):
        if f"val/{part}" in log:
            out[f"val_{part}"] = val[f"val/{part}"]
            out[f"{part}_residual_reproduced"] = 1 - val[f"val/{part}"]
    if out["variant"] == "node":
        out["val_node"] = val["val/loss"]
        out["node_residual_reproduced"] = 1 - val["val/loss"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs")
    ap.add_argument("--out", default="results/teachers")
    args = ap.parse_args()
    df = pd.DataFrame([row(p.parent) for p in sorted(Path(args.runs).glob("*/distill_config.json"))])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if (out / "distill.csv").is_file():
        old = pd.read_csv(out / "distill.csv")
        if "encoder" not in old:  # written before the column: teachers_pretrain.sh's D-MPNN students
            old.insert(1, "encoder", "dmpnn")
        df = pd.concat([old[~old.run.isin(df.run)], df], ignore_index=True)
    df.to_csv(out / "distill.csv", index=False)
    (out / "distill.md").write_text(df.to_markdown(index=False, floatfmt=".4g") + "\n")
    print(df.to_string(index=False))


if __name__ == "__main__":
    main()
