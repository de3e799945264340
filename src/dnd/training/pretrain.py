"""What the two student-pretraining stages (`dnd distill`, `dnd infomax`) share: the student spec,
the corpus split, the Lightning module skeleton (logging, optimiser, student export), the fit loop
and the command-line groups. Each stage adds only its objective.

Conventions (same as `dnd denoise`): per-step and per-epoch `train_loss`, per-epoch `val_loss` in
OUT/logs/metrics.csv; checkpoints in OUT/checkpoints/ (last.ckpt, best.ckpt by val_loss);
`--resume` continues from last.ckpt. At the end the student alone is written to
OUT/student.ckpt: hparams {"encoder_name", "encoder_config", "stage", ...} and the encoder's
weights under "student.", which `dnd.models.registry.load_encoder` and `dnd finetune` rebuild from.
Everything else the stage trained (projection, heads, 3D network) stays in the Lightning
checkpoints under other prefixes and is not part of the student.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

import lightning as L
import torch
from torch import Tensor
from torch_geometric.data import Data

from dnd.errors import UsageError
from dnd.data.loader import make_loader
from dnd.models.registry import ENCODERS, build_encoder, encoder_config_dict, preset_config
from dnd.training.denoise import add_corpus_arguments, records_from_args, split_records
from dnd.training.optim import OptimConfig, adamw_warmup_cosine, decay_groups
from dnd.training.trainer import (TrainerConfig, add_trainer_arguments, build_trainer, resume_path,
                                  trainer_config_from_args)

STUDENT_PREFIX = "student."


@dataclass
class StudentSpec:
    """Which 2D encoder to pretrain: registry name, preset, and per-key overrides of the preset."""

    encoder: str = "tokengt"
    preset: str = "cpu-small"
    overrides: dict[str, Any] = field(default_factory=dict)

    def resolve(self, train_records: Sequence[Data]) -> tuple[str, dict[str, Any]]:
        """(name, complete config dict); data-dependent fields (PNA's degree histogram) are filled
        from the training split, so the stored config rebuilds the same encoder without data."""
        config = preset_config(self.encoder, self.preset) | dict(self.overrides)
        return encoder_config_dict(build_encoder(self.encoder, config, train_records))


@dataclass
class PretrainConfig:
    """Settings common to distillation and 3DInfomax."""

    student: StudentSpec = field(default_factory=StudentSpec)
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(lr=5e-4, warmup_steps=200, min_lr_ratio=0.01))
    trainer: TrainerConfig = field(default_factory=lambda: TrainerConfig(max_epochs=10))
    batch_size: int = 64
    val_fraction: float = 0.05
    num_workers: int = 0


class StudentPretrainModule(L.LightningModule):
    """Skeleton of a stage that trains `self.student` (a registry encoder) with some objective.

    Subclasses implement `compute_loss(batch) -> dict` with key "loss" (logged as train_loss /
    val_loss) and optionally more scalars (logged as train_<key> / val_<key>).
    """

    stage: str = "pretrain"
    # NT-Xent needs negatives: a trailing batch with fewer molecules than this is dropped
    min_batch_graphs: int = 1

    def __init__(self, encoder_name: str, encoder_config: dict, optim: dict):
        super().__init__()
        self.student = build_encoder(encoder_name, encoder_config)
        self.optim_config = OptimConfig(**optim)

    def compute_loss(self, batch) -> dict[str, Tensor]:
        raise NotImplementedError

    def _log_all(self, prefix: str, values: dict[str, Tensor], batch, on_step: bool) -> None:
        for key, value in values.items():
            self.log(f"{prefix}_{key}", value, on_step=on_step, on_epoch=True, prog_bar=key == "loss",
                     batch_size=batch.num_graphs, sync_dist=not on_step)

    def training_step(self, batch, batch_idx):
        values = self.compute_loss(batch)
        self._log_all("train", values, batch, on_step=True)
        return values["loss"]

    def validation_step(self, batch, batch_idx):
        values = self.compute_loss(batch)
        self._log_all("val", values, batch, on_step=False)
        return values["loss"]

    def configure_optimizers(self):
        return adamw_warmup_cosine(decay_groups(self), self.optim_config, int(self.trainer.estimated_stepping_batches))

    def student_checkpoint(self) -> dict[str, Any]:
        """The student alone, in the format `load_encoder` reads."""
        hp = dict(self.hparams)
        return {"state_dict": {STUDENT_PREFIX + k: v.detach().cpu() for k, v in self.student.state_dict().items()},
                "hyper_parameters": {**hp, "stage": self.stage}}


def save_atomic(obj: Any, path: Path) -> Path:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    torch.save(obj, tmp)
    os.replace(tmp, path)
    return path


def _loader(dataset, cfg: PretrainConfig, min_graphs: int, shuffle: bool):
    # drop a trailing batch too small for the objective (only ever the last one)
    tail = len(dataset) % cfg.batch_size
    return make_loader(dataset, cfg.batch_size, shuffle=shuffle, seed=cfg.trainer.seed,
                       num_workers=cfg.num_workers, drop_last=0 < tail < min_graphs)


def fit_student(module: StudentPretrainModule, train_set, val_set, cfg: PretrainConfig,
                out_dir: str | Path, resume: bool = False) -> Path:
    """Trains `module` on the two datasets and writes OUT/student.ckpt; returns its path."""
    out = Path(out_dir)
    if len(train_set) < module.min_batch_graphs:
        raise UsageError(f"{len(train_set)} training molecules: {module.stage} needs at least {module.min_batch_graphs}")
    train_loader = _loader(train_set, cfg, module.min_batch_graphs, shuffle=True)
    val_loader = _loader(val_set, cfg, module.min_batch_graphs, shuffle=False) if len(val_set) else None
    ckpt = resume_path(out, resume)
    trainer = build_trainer(cfg.trainer, out, monitor="val_loss" if val_loader is not None else None,
                            resume=ckpt is not None)
    trainer.fit(module, train_loader, val_loader, ckpt_path=ckpt)
    trainer.save_checkpoint(out / "checkpoints" / "last.ckpt")  # the end-of-training state
    student = out / "student.ckpt"
    if trainer.is_global_zero:
        save_atomic(module.student_checkpoint(), student)
    return student


def prepare_run(cfg: PretrainConfig, records: Sequence[Data], out_dir: str | Path, stage: str,
                extra: dict[str, Any]) -> tuple[list[Data], list[Data], str, dict[str, Any]]:
    """Seeds, checks the corpus, splits it, resolves the student config, and records the run's
    settings in OUT/<stage>_config.json. Returns (train, val, encoder name, encoder config)."""
    if not records:
        raise UsageError(f"{stage}: no paired records to pretrain on")
    missing = [k for k in ("x", "z", "pos", "atom_is_node") if k not in records[0]]
    if missing:
        raise UsageError(f"{stage} needs paired 2D/3D records; first record lacks {', '.join(missing)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    L.seed_everything(cfg.trainer.seed, workers=True, verbose=False)
    train, val = split_records(records, cfg.val_fraction, cfg.trainer.seed)
    name, config = cfg.student.resolve(train)
    (out / f"{stage}_config.json").write_text(json.dumps(
        asdict(cfg) | extra | {"n_train": len(train), "n_val": len(val), "encoder_config": config}, indent=2))
    return train, val, name, config


# ---------------------------------------------------------------- command line

def add_pretrain_arguments(parser: argparse.ArgumentParser, default_out: str | None = None) -> None:
    """Data, student, optimiser and trainer groups shared by distill and infomax."""
    defaults = PretrainConfig()
    add_corpus_arguments(parser, defaults.val_fraction, defaults.num_workers)
    s = parser.add_argument_group("student")
    s.add_argument("--encoder", choices=sorted(ENCODERS), default=defaults.student.encoder)
    s.add_argument("--preset", default=defaults.student.preset, help="encoder preset: paper, cpu-small, tiny")
    s.add_argument("--encoder-config", type=json.loads, default={},
                   help='JSON overrides of the preset, e.g. \'{"num_layers": 6}\'')
    s.add_argument("--out", required=default_out is None, default=default_out,
                   help="run folder: logs/, checkpoints/, student.ckpt")
    o = parser.add_argument_group("optimiser")
    o.add_argument("--batch-size", type=int, default=defaults.batch_size)
    o.add_argument("--lr", type=float, default=defaults.optim.lr, help="peak learning rate")
    o.add_argument("--warmup-steps", type=int, default=defaults.optim.warmup_steps)
    o.add_argument("--min-lr-ratio", type=float, default=defaults.optim.min_lr_ratio,
                   help="cosine floor as a fraction of the peak")
    o.add_argument("--weight-decay", type=float, default=defaults.optim.weight_decay)
    add_trainer_arguments(parser, max_epochs=defaults.trainer.max_epochs)


def pretrain_config_from_args(args: argparse.Namespace) -> PretrainConfig:
    optim = replace(OptimConfig(), lr=args.lr, warmup_steps=args.warmup_steps, min_lr_ratio=args.min_lr_ratio,
                    weight_decay=args.weight_decay)
    trainer = trainer_config_from_args(args)
    return PretrainConfig(student=StudentSpec(args.encoder, args.preset, dict(args.encoder_config)),
                          optim=optim, trainer=trainer, batch_size=args.batch_size,
                          val_fraction=args.val_fraction, num_workers=args.num_workers)
