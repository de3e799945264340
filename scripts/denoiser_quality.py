"""How far a denoiser moved from its initialisation, per checkpoint (issue 20 item 6).

For each checkpoint of a `dnd denoise` run: the epoch and step, the validation denoising loss
logged at that epoch (the zero predictor scores 1.0), the relative distance of the weights from
their initialisation (the untrained control with the run's seed, which is exactly the run's step
0), and linear CKA between the checkpoint's and the init's per-atom features on held-out
molecules of its corpus (1.0: the same representation up to rotation and scale); and, where
`scripts/denoiser_quality.sh distill STEP` made one, the validation loss of the D-MPNN student
distilled from it (STUDENTS/stepSTEP). Reference rows: the init itself (step 0, the control), the
init against another seed's init (what unrelated random networks score) and the shipped
drug-like teacher against its own init.

    python scripts/denoiser_quality.py runs/denoiser-quality/teacher --source sdf \
        --path ../shared/data/moses-conformers/moses-conformers-0.sdf.gz --limit 12000 \
        --out results/teachers/denoiser-quality.csv
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from dnd.data.config import CorpusConfig
from dnd.data.corpus import held_out, load_corpus
from dnd.data.loader import make_loader
from dnd.teachers import TeacherSpec, build_teacher


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear centred kernel alignment of two representations of the same rows."""
    x = x - x.mean(0)
    y = y - y.mean(0)
    cross = np.linalg.norm(y.T @ x) ** 2
    return float(cross / (np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y)))


@torch.no_grad()
def atom_features(net, records) -> np.ndarray:
    return torch.cat([net.encode(b) for b in make_loader(records, 64)]).double().numpy()


def variance_split(feats: np.ndarray, records) -> tuple[float, float]:
    """(mean per-dimension variance of the heavy-atom features, the same after centring per
    element): what a NODE student must reproduce, and the part it cannot read off the atom type."""
    z = torch.cat([r.z for r in records]).numpy()
    heavy = torch.cat([r.atom_is_node for r in records]).numpy()
    x, z = feats[heavy], z[heavy]
    centred = x.copy()
    for e in np.unique(z):
        centred[z == e] -= x[z == e].mean(0)
    return float(x.var(0).mean()), float(centred.var(0).mean())


def weight_distance(net, init) -> float:
    """||W - W0|| / ||W0|| over all parameters."""
    a = torch.cat([p.flatten() for p in net.parameters()])
    b = torch.cat([p.flatten() for p in init.parameters()])
    return float((a - b).norm() / b.norm())


def val_loss_by_epoch(run: Path) -> dict[int, float]:
    log = pd.read_csv(run / "logs" / "metrics.csv")
    if "val/loss" not in log:
        return {}
    rows = log.dropna(subset=["val/loss"])
    return dict(zip(rows["epoch"].astype(int), rows["val/loss"]))


def student_val_loss(students: Path, step: int) -> float | None:
    """Final validation loss of the student distilled from checkpoint `step` (None: not made)."""
    log = students / f"step{step}" / "logs" / "metrics.csv"
    if not log.is_file():
        return None
    return float(pd.read_csv(log)["val/loss"].dropna().iloc[-1])


def row(label: str, ckpt: str, seed: int, records, steps_per_epoch: int | None, val: dict) -> dict:
    net = build_teacher(TeacherSpec(ckpt)).network()
    init = build_teacher(TeacherSpec(ckpt, control=True, seed=seed)).network()
    step = re.search(r"step(\d+)", Path(ckpt).name)
    out = {"checkpoint": label, "step": int(step.group(1)) if step else None}
    if step and steps_per_epoch:
        out["epoch"] = round(int(step.group(1)) / steps_per_epoch, 2)
        out["val_loss"] = val.get(int(step.group(1)) // steps_per_epoch - 1)
    feats = atom_features(net, records)
    out["weight_distance_from_init"] = weight_distance(net, init)
    out["cka_to_init"] = linear_cka(feats, atom_features(init, records))
    out["target_var"], out["residual_var"] = variance_split(feats, records)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, help="a `dnd denoise` run folder (checkpoints/step*.ckpt)")
    ap.add_argument("--source", default="sdf")
    ap.add_argument("--path", required=True)
    ap.add_argument("--limit", type=int)
    ap.add_argument("--molecules", type=int, default=300, help="held-out molecules the CKA is computed on")
    ap.add_argument("--seed", type=int, default=0, help="the run's seed (its init is rebuilt from it)")
    ap.add_argument("--shipped", default="dnd:teacher-druglike", help="also measure this teacher against its init")
    ap.add_argument("--students", type=Path, default=Path("runs/denoiser-quality"),
                    help="folder of the students distilled per checkpoint (stepSTEP/)")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    torch.set_num_threads(1)
    records = held_out(load_corpus(CorpusConfig(args.source, args.path, args.limit)), args.molecules, 0.05, args.seed)
    meta = pd.read_json(args.run / "denoise_config.json", typ="series")
    steps_per_epoch = -(-int(meta["n_train"]) // int(meta["batch_size"]))
    val = val_loss_by_epoch(args.run)
    ckpts = sorted(args.run.glob("checkpoints/step*.ckpt"), key=lambda p: int(re.search(r"\d+", p.stem).group()))
    rows = [row(p.stem, str(p), args.seed, records, steps_per_epoch, val) for p in ckpts]
    first = str(ckpts[0])
    init = build_teacher(TeacherSpec(first, control=True, seed=args.seed)).network()
    other = build_teacher(TeacherSpec(first, control=True, seed=args.seed + 1)).network()
    rows[:0] = [{"checkpoint": f"init (seed {args.seed}) vs init (seed {args.seed + 1})", "step": None,
                 "weight_distance_from_init": weight_distance(other, init),
                 "cka_to_init": linear_cka(atom_features(other, records), atom_features(init, records))},
                {"checkpoint": f"init (seed {args.seed}): the control", "step": 0, "epoch": 0.0,
                 "weight_distance_from_init": 0.0, "cka_to_init": 1.0}]
    rows[1]["target_var"], rows[1]["residual_var"] = variance_split(atom_features(init, records), records)
    if args.shipped:
        rows.append(row(args.shipped, args.shipped, 0, records, None, {}))
    table = pd.DataFrame(rows)
    table["student_val_loss"] = [student_val_loss(args.students, int(s)) if pd.notna(s) else None
                                 for s in table["step"]]
    table["element_explained"] = 1 - table["residual_var"] / table["target_var"]
    table["student_loss_over_residual"] = table["student_val_loss"] / table["residual_var"]
    table.insert(0, "molecules", len(records))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, index=False, float_format="%.4g")
    print(table.to_string(index=False))


if __name__ == "__main__":
    main()
