"""What the two student-pretraining stages (`dnd distill`, `dnd infomax`) share: the student spec,
the corpus split, the Lightning module skeleton (logging, optimiser, student export) and the
student's output file, on top of the fit sequence every stage shares (`dnd.training.fit`). Each
stage adds only its objective.

Conventions (same as `dnd denoise`): per-step and per-epoch `train/loss`, per-epoch `val/loss` in
OUT/logs/metrics.csv; checkpoints in OUT/checkpoints/ (last.ckpt, best.ckpt by val/loss);
`--resume` continues from last.ckpt. At the end the student alone is written to
OUT/student.ckpt: hparams {"encoder_name", "encoder_config", "stage", ...} and the encoder's
weights under "student.", which `dnd.models.checkpoint.load_encoder` and `dnd finetune` rebuild from.
Everything else the stage trained (projection, heads, 3D network) stays in the Lightning
checkpoints under other prefixes and is not part of the student.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import lightning as L
from torch import Tensor
from torch_geometric.data import Data

from dnd.data.cache import atomic_save
from dnd.data.config import CorpusConfig
from dnd.errors import UsageError
from dnd.data.loader import make_loader
from dnd.models.checkpoint import student_checkpoint
from dnd.models.registry import build_encoder, encoder_config_dict, encoder_preset
from dnd.training.config import OptimConfig, PretrainConfig, StudentSpec
from dnd.training.fit import PAIRED_FIELDS, fit, start_stage, write_stage_config
from dnd.training.optim import adamw_warmup_cosine, decay_groups


def resolve_student(spec: StudentSpec, train_records: Sequence[Data]) -> tuple[str, dict[str, Any]]:
    """(name, complete config dict) of `spec`; data-dependent fields (PNA's degree histogram) are
    filled from the training split, so the stored config rebuilds the same encoder without data."""
    config = encoder_preset(spec.encoder, spec.preset) | dict(spec.overrides)
    return encoder_config_dict(build_encoder(spec.encoder, config, train_records))


class StudentPretrainModule(L.LightningModule):
    """Skeleton of a stage that trains `self.student` (a registry encoder) with some objective.

    Subclasses implement `compute_loss(batch) -> dict` with key "loss" (logged as train/loss /
    val/loss) and optionally more scalars (logged as train/<key> / val/<key>).
    """

    stage: str = "pretrain"
    # NT-Xent needs negatives: a trailing batch with fewer molecules than this is dropped
    min_batch_graphs: int = 1

    def __init__(self, encoder_name: str, encoder_config: dict, optim: OptimConfig):
        super().__init__()
        self.student = build_encoder(encoder_name, encoder_config)
        self.optim_config = optim

    def compute_loss(self, batch) -> dict[str, Tensor]:
        raise NotImplementedError

    def _log_all(self, prefix: str, values: dict[str, Tensor], batch, on_step: bool) -> None:
        for key, value in values.items():
            self.log(f"{prefix}/{key}", value, on_step=on_step, on_epoch=True, prog_bar=key == "loss",
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
        return student_checkpoint(self.student, {**dict(self.hparams), "stage": self.stage})


def _loader(dataset, cfg: PretrainConfig, min_graphs: int, shuffle: bool):
    # drop a trailing batch too small for the objective (only ever the last one)
    tail = len(dataset) % cfg.batch_size
    return make_loader(dataset, cfg.batch_size, shuffle=shuffle, seed=cfg.trainer.seed,
                       num_workers=cfg.num_workers, drop_last=0 < tail < min_graphs)


def prepare_run(cfg: PretrainConfig, records: Sequence[Data], out_dir: str | Path, stage: str,
                extra: dict[str, Any], corpus: CorpusConfig | None = None
                ) -> tuple[list[Data], list[Data], str, dict[str, Any]]:
    """Seeds, checks and splits the corpus (`dnd.training.fit.start_stage`), resolves the student
    config, and records the run's settings and corpus in OUT/<stage>_config.json.
    Returns (train, val, encoder name, encoder config)."""
    train, val = start_stage(records, cfg, out_dir, stage, PAIRED_FIELDS)
    name, config = resolve_student(cfg.student, train)
    write_stage_config(out_dir, stage, cfg, corpus, **extra, n_train=len(train), n_val=len(val),
                       encoder_config=config)
    return train, val, name, config


def fit_student(module: StudentPretrainModule, train_set, val_set, cfg: PretrainConfig,
                out_dir: str | Path, resume: bool = False) -> Path:
    """Trains `module` on the two datasets and writes OUT/student.ckpt; returns its path."""
    out = Path(out_dir)
    if len(train_set) < module.min_batch_graphs:
        raise UsageError(f"{len(train_set)} training molecules: {module.stage} needs at least {module.min_batch_graphs}")
    train_loader = _loader(train_set, cfg, module.min_batch_graphs, shuffle=True)
    val_loader = _loader(val_set, cfg, module.min_batch_graphs, shuffle=False) if len(val_set) else None
    trainer = fit(module, train_loader, val_loader, cfg.trainer, out, resume)
    student = out / "student.ckpt"
    if trainer.is_global_zero:
        atomic_save(module.student_checkpoint(), student)
    return student
