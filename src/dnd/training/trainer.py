"""One place that builds a Lightning Trainer for every stage: CSV (and TensorBoard) logs,
checkpoints every N steps and at the end, progress bar, devices and precision. Scaling from a
laptop CPU to several GPUs (DDP) is a matter of `--devices` / `--accelerator`, not of code."""

from __future__ import annotations

import csv
import importlib.util
import logging
import time
from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.loggers.logger import rank_zero_experiment

from dnd.training.config import TrainerConfig


class _NoAdverts(logging.Filter):
    """Lightning announces add-on services ("💡 Tip: ... try installing [litlogger]") through its
    rank-zero info logger in every run; drop those at that logger and keep its real messages
    (devices, stopping reasons)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("💡 Tip")


logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(_NoAdverts())


def _devices(value: str | int):
    return int(value) if isinstance(value, str) and value.isdigit() else value


class _ContinuingWriter(ExperimentWriter):
    """Lightning's CSV writer deletes an existing metrics.csv when it starts; a resumed run must
    extend the history instead, so the writer adopts the file's header and appends."""

    def _check_log_dir_exists(self) -> None:
        if self._fs.isfile(self.metrics_file_path):
            with self._fs.open(self.metrics_file_path, "r", newline="") as f:
                self.metrics_keys = next(csv.reader(f), [])


class ContinuingCSVLogger(CSVLogger):
    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _ContinuingWriter(log_dir=self.log_dir)
        return self._experiment


def _set_aside_old_log(out: Path) -> None:
    """A fresh run in a used folder keeps the old CSV log under a dated name, never deletes it."""
    old = out / "logs" / "metrics.csv"
    if old.is_file():
        old.rename(old.with_name(f"metrics.{time.strftime('%Y%m%d-%H%M%S')}.csv"))


def build_trainer(cfg: TrainerConfig, out_dir: str | Path, monitor: str | None = None,
                  mode: str = "min", extra_callbacks: tuple = (), resume: bool = False) -> L.Trainer:
    """Trainer writing to `out_dir`: logs/ (CSV, TensorBoard when installed) and checkpoints/
    (last.ckpt always; best.ckpt by `monitor` when given). `resume`: the CSV log continues."""
    out = Path(out_dir)
    if not resume:
        _set_aside_old_log(out)
    ckpt_dir = out / "checkpoints"
    callbacks = [ModelCheckpoint(dirpath=ckpt_dir, filename="step{step}", save_last=True,
                                 every_n_train_steps=cfg.checkpoint_every_n_steps, save_top_k=-1
                                 if cfg.checkpoint_every_n_steps > 0 else 0, auto_insert_metric_name=False)]
    if monitor:
        callbacks.append(ModelCheckpoint(dirpath=ckpt_dir, filename="best", monitor=monitor, mode=mode,
                                         save_top_k=1, auto_insert_metric_name=False))
    loggers = [ContinuingCSVLogger(out, name="logs", version="")]
    if importlib.util.find_spec("tensorboard") is not None:
        loggers.append(TensorBoardLogger(out, name="tensorboard", version=""))
    callbacks.append(LearningRateMonitor(logging_interval="step"))
    return L.Trainer(
        default_root_dir=out, max_epochs=cfg.max_epochs, max_steps=cfg.max_steps,
        accelerator=cfg.accelerator, devices=_devices(cfg.devices), strategy=cfg.strategy,
        precision=cfg.precision, logger=loggers, callbacks=[*callbacks, *extra_callbacks],
        log_every_n_steps=cfg.log_every_n_steps, gradient_clip_val=cfg.gradient_clip_val,
        enable_progress_bar=cfg.progress, enable_model_summary=False, deterministic=False,
    )


def resume_path(out_dir: str | Path, resume: bool) -> str | None:
    """Checkpoint to continue from (`trainer.fit(..., ckpt_path=...)`), or None for a fresh run."""
    last = Path(out_dir) / "checkpoints" / "last.ckpt"
    return str(last) if resume and last.is_file() else None
