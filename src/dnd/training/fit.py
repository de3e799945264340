"""The one fit sequence every training stage shares (denoise, distill, infomax, finetune):
seed, check and split the corpus, record the stage's settings, train with the shared trainer,
and keep the end-of-training state. Each stage only builds its module and datasets in between.

Logged metrics follow one convention in every stage: `train/loss` (per step and as the epoch
mean `train/loss_epoch`), `val/loss`, and further scalars as `train/<name>` / `val/<name>`.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any, Sequence

import lightning as L
from torch_geometric.data import Data

from dnd.data.corpus import split_records
from dnd.errors import UsageError
from dnd.training.config import TrainerConfig
from dnd.training.trainer import build_trainer, resume_path

PAIRED_FIELDS = ("x", "z", "pos", "atom_is_node")   # 2D graph + 3D conformer (distill, infomax)
CONFORMER_FIELDS = ("z", "pos")                     # 3D only (denoise)


def start_stage(records: Sequence[Data], cfg: Any, out_dir: str | Path, stage: str,
                required: Sequence[str]) -> tuple[list[Data], list[Data]]:
    """Checks the corpus has the `required` fields, creates OUT, seeds everything with
    `cfg.trainer.seed` and splits off `cfg.val_fraction` for validation: (train, val)."""
    if not records:
        raise UsageError(f"{stage}: no records to train on")
    missing = [k for k in required if k not in records[0]]
    if missing:
        raise UsageError(f"{stage} needs records with {', '.join(required)}; the first record lacks "
                         f"{', '.join(missing)}")
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    L.seed_everything(cfg.trainer.seed, workers=True, verbose=False)
    return split_records(records, cfg.val_fraction, cfg.trainer.seed)


def write_stage_config(out_dir: str | Path, stage: str, cfg: Any, corpus: Any = None, **extra: Any) -> Path:
    """OUT/<stage>_config.json: the stage's full config, its corpus (a CorpusConfig, when the
    records came from one) and `extra` facts (split sizes, resolved encoder config, ...)."""
    record = asdict(cfg) | ({"corpus": asdict(corpus)} if corpus is not None else {}) | extra
    path = Path(out_dir) / f"{stage}_config.json"
    path.write_text(json.dumps(record, indent=2, default=str))
    return path


def fit(module: L.LightningModule, train_loader, val_loader, trainer_cfg: TrainerConfig, out_dir: str | Path,
        resume: bool = False, monitor: str | None = "val/loss", mode: str = "min") -> L.Trainer:
    """Trains `module`, continuing from OUT/checkpoints/last.ckpt when `resume` and it exists,
    and saves the end-of-training state there (full state, so a later `resume` continues it)
    whatever the step-interval saving did. `monitor` selects best.ckpt (None: no validation)."""
    out = Path(out_dir)
    ckpt = resume_path(out, resume)
    trainer = build_trainer(trainer_cfg, out, monitor=monitor if val_loader is not None else None, mode=mode,
                            resume=ckpt is not None)
    # weights_only: a resumed checkpoint is read like every other file (no pickled code runs)
    trainer.fit(module, train_loader, val_loader, ckpt_path=ckpt, weights_only=True)
    trainer.save_checkpoint(out / "checkpoints" / "last.ckpt", weights_only=False)
    return trainer
