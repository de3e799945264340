"""One place that builds a Lightning Trainer for every stage: CSV (and TensorBoard) logs,
checkpoints every N steps and at the end, progress bar, devices and precision. Scaling from a
laptop CPU to several GPUs (DDP) is a matter of `--devices` / `--accelerator`, not of code."""

from __future__ import annotations

import csv
import importlib.util
import logging
import random
import time
import warnings
from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.pytorch.callbacks import Callback, LearningRateMonitor, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.loggers.logger import rank_zero_experiment

from dnd.checks import check_accelerator, output_folder
from dnd.data.cache import atomic_save
from dnd.models.checkpoint import CheckpointError, load_checkpoint
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


class AtomicCheckpointIO(TorchCheckpointIO):
    """Checkpoints written to a temporary file in their own folder, then renamed over the target.

    Lightning's default goes through fsspec, which stages the file in $TMPDIR; when that is on
    another filesystem the final move is a copy into the live `last.ckpt`, and a kill during the
    copy leaves a truncated file where the good one was. A same-folder rename is atomic."""

    def save_checkpoint(self, checkpoint, path, storage_options=None) -> None:
        atomic_save(checkpoint, Path(path))


class ResumeState(Callback):
    """What Lightning leaves out of checkpoints but an exact resume needs, put back when a resumed
    run starts training (`on_train_start`, after the sanity check: where the uninterrupted run
    stood when it wrote the checkpoint):
    - the global random states (torch, CUDA, numpy, Python): TokenGT's eigenvector sign flips and
      the denoising noise would otherwise draw other numbers than in an uninterrupted run;
    - the training loader's position inside the epoch (`ResumableLoader.state_dict`). Lightning
      has its own hook for that, but it sets up the loader before restoring the checkpoint when
      `configure_optimizers` asks for `estimated_stepping_batches`, and then never applies it."""

    def __init__(self) -> None:
        self._pending: dict | None = None
        self._trainer = None

    def setup(self, trainer, pl_module, stage: str) -> None:
        self._trainer = trainer

    def _train_loader(self):
        loader = getattr(self._trainer, "train_dataloader", None) if self._trainer is not None else None
        return loader if callable(getattr(loader, "load_state_dict", None)) else None

    def state_dict(self) -> dict:
        version, mt, gauss = random.getstate()
        np_state = np.random.get_state()
        loader = self._train_loader()
        return {"train_loader": loader.state_dict() if loader is not None else None,
                "torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
                "python": [version, list(mt), gauss],
                "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:]]}

    def load_state_dict(self, state: dict) -> None:
        self._pending = state

    def on_train_start(self, trainer, pl_module) -> None:
        state, self._pending = self._pending, None
        if not state:
            return
        torch.set_rng_state(state["torch"])
        if state["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda"])
        version, mt, gauss = state["python"]
        random.setstate((version, tuple(mt), gauss))
        name, keys, *rest = state["numpy"]
        np.random.set_state((name, keys.numpy().astype(np.uint32), *rest))
        loader = self._train_loader()
        if loader is not None and state.get("train_loader"):
            loader.load_state_dict(state["train_loader"])


def _set_aside_old_log(out: Path) -> None:
    """A fresh run in a used folder keeps the old CSV log under a dated name, never deletes it."""
    old = out / "logs" / "metrics.csv"
    if old.is_file():
        old.rename(old.with_name(f"metrics.{time.strftime('%Y%m%d-%H%M%S')}.csv"))


def periodic_checkpoints(ckpt_dir: Path, every_n_steps: int) -> ModelCheckpoint:
    """last.ckpt kept current for --resume: every N steps (keeping each step checkpoint) when N > 0,
    else after every epoch (keeping only the latest epoch file: finetuning runs are many and
    short, and a kill must not cost more than one epoch)."""
    if every_n_steps > 0:
        return ModelCheckpoint(dirpath=ckpt_dir, filename="step{step}", save_last=True, save_top_k=-1,
                               every_n_train_steps=every_n_steps, auto_insert_metric_name=False)
    return ModelCheckpoint(dirpath=ckpt_dir, filename="epoch{epoch}", save_last=True, save_top_k=1,
                           every_n_epochs=1, auto_insert_metric_name=False)


def build_trainer(cfg: TrainerConfig, out_dir: str | Path, monitor: str | None = None,
                  mode: str = "min", extra_callbacks: tuple = (), resume: bool = False) -> L.Trainer:
    """Trainer writing to `out_dir`: logs/ (CSV, TensorBoard when installed) and checkpoints/
    (last.ckpt always; best.ckpt by `monitor` when given). `resume`: the CSV log continues."""
    check_accelerator(cfg.accelerator)
    # Lightning 2.x builds torch's LeafSpec, deprecated in torch 2.13, in every fit: a line about
    # the two libraries' versions that a user can do nothing about. Only that message is silenced.
    warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated",
                            category=FutureWarning)
    out = output_folder(out_dir)
    if not resume:
        _set_aside_old_log(out)
    ckpt_dir = out / "checkpoints"
    # best.ckpt's callback runs before the one writing epochN/last.ckpt, so every resumable
    # checkpoint already holds this epoch's best-model decision: a kill between the two writes
    # cannot make the resumed run forget an epoch that was the best (it re-runs and re-decides it)
    callbacks = []
    if monitor:
        callbacks.append(ModelCheckpoint(dirpath=ckpt_dir, filename="best", monitor=monitor, mode=mode,
                                         save_top_k=1, auto_insert_metric_name=False))
    callbacks.append(periodic_checkpoints(ckpt_dir, cfg.checkpoint_every_n_steps))
    loggers = [ContinuingCSVLogger(out, name="logs", version="")]
    if importlib.util.find_spec("tensorboard") is not None:
        loggers.append(TensorBoardLogger(out, name="tensorboard", version=""))
    callbacks += [LearningRateMonitor(logging_interval="step"), ResumeState()]
    return L.Trainer(
        default_root_dir=out, max_epochs=cfg.max_epochs, max_steps=cfg.max_steps,
        accelerator=cfg.accelerator, devices=_devices(cfg.devices), strategy=cfg.strategy,
        precision=cfg.precision, logger=loggers, callbacks=[*callbacks, *extra_callbacks],
        plugins=[AtomicCheckpointIO()],
        log_every_n_steps=cfg.log_every_n_steps, gradient_clip_val=cfg.gradient_clip_val,
        enable_progress_bar=cfg.progress, enable_model_summary=False, deterministic=False,
    )


def trim_log(out: Path, ckpt: dict) -> None:
    """Drop the CSV log rows written after the checkpoint a run resumes from: the resumed run logs
    those steps again, and keeping both would leave duplicate rows in metrics.csv."""
    log_file = out / "logs" / "metrics.csv"
    if not log_file.is_file():
        return
    import pandas as pd

    table = pd.read_csv(log_file)
    keep = table[table["step"] < int(ckpt.get("global_step", 0))] if "step" in table else table
    if len(keep) < len(table):
        tmp = log_file.with_name(log_file.name + ".tmp")
        keep.to_csv(tmp, index=False)
        tmp.replace(log_file)


def resume_path(out_dir: str | Path, resume: bool, log=print) -> str | None:
    """Checkpoint to continue from (`trainer.fit(..., ckpt_path=...)`), or None for a fresh run.

    An unreadable last.ckpt (a disk that filled up, a copy cut short) is set aside as
    last.ckpt.corrupt and the newest loadable checkpoint beside it is used instead, saying so."""
    if not resume:
        return None
    folder = Path(out_dir) / "checkpoints"
    last = folder / "last.ckpt"
    candidates = sorted((p for p in folder.glob("*.ckpt") if p.name != last.name),
                        key=lambda p: p.stat().st_mtime, reverse=True) if folder.is_dir() else []
    if last.is_file():
        try:
            trim_log(Path(out_dir), load_checkpoint(last, required=("state_dict", "loops")))
            return str(last)
        except CheckpointError as err:
            last.replace(last.with_name("last.ckpt.corrupt"))
            log(f"resume: {err}; set aside as last.ckpt.corrupt")
    for path in candidates:
        try:
            ckpt = load_checkpoint(path, required=("state_dict", "loops"))
        except CheckpointError:
            log(f"resume: {path} is not loadable either; skipped")
            continue
        log(f"resume: continuing from {path} instead")
        trim_log(Path(out_dir), ckpt)
        return str(path)
    if last.with_name("last.ckpt.corrupt").exists() or candidates:
        log(f"resume: no loadable checkpoint in {folder}; starting from the beginning")
    return None
