"""Step 1 of D&D: pretrain the 3D teacher by coordinate denoising (`dnd denoise`; presets and
their sources in `dnd.training.config`).

Noise is standard normal per atom, scaled by sigma (0.04 Å by default), drawn afresh every step
from a seeded generator whose state travels in the checkpoint, so `--resume` continues the same
noise stream. Validation noise comes from a generator re-seeded at every validation epoch, so
validation losses of different epochs are measured on identical perturbations.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import lightning as L
import torch
from torch_geometric.data import Data

from dnd.data.config import CorpusConfig
from dnd.data.paired import check_corpus_elements
from dnd.data.loader import make_loader
from dnd.models.checkpoint import to_hparams
from dnd.models.config import TeacherConfig
from dnd.models.teacher import NoiseHead, Teacher, featurizer_version
from dnd.objectives.denoise import denoising_step
from dnd.training.config import DenoiseConfig, OptimConfig
from dnd.training.fit import CONFORMER_FIELDS, fit, start_stage, write_stage_config
from dnd.training.optim import adamw_warmup_cosine, decay_groups


class DenoiseModule(L.LightningModule):
    """f3D (`teacher`) + h3D (`noise_head`) trained to predict the added coordinate noise.

    The typed configs are saved as plain hparams (`to_hparams`), so a checkpoint that
    `weights_only=True` loading (and `load_teacher`) reads rebuilds it alone.
    """

    def __init__(self, teacher: TeacherConfig, optim: OptimConfig, sigma: float = 0.04, seed: int = 0,
                 featurizer_version: str | None = None):
        super().__init__()
        self.save_hyperparameters(to_hparams(teacher=teacher, optim=optim, sigma=sigma, seed=seed,
                                             featurizer_version=featurizer_version))
        self.teacher = Teacher(teacher)
        self.noise_head = NoiseHead(teacher.hidden_channels, teacher.activation)
        self.optim_config = optim
        self.sigma = sigma
        self._train_rng: torch.Generator | None = None
        self._restored_rng_state: torch.Tensor | None = None

    def _noise_generator(self, device: torch.device) -> torch.Generator:
        if self._train_rng is None or self._train_rng.device != device:
            self._train_rng = torch.Generator(device=device)
            # distinct but reproducible streams per process under DDP
            self._train_rng.manual_seed(self.hparams.seed * 1_000_003 + self.global_rank)
            if self._restored_rng_state is not None:
                self._train_rng.set_state(self._restored_rng_state)
                self._restored_rng_state = None
        return self._train_rng

    def training_step(self, batch, batch_idx):
        loss, _, _ = denoising_step(self.teacher, self.noise_head, batch, self.sigma,
                                    self._noise_generator(batch.pos.device))
        self.log("train/loss", loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=batch.num_graphs)
        return loss

    def on_validation_epoch_start(self) -> None:
        self._val_rng = torch.Generator(device=self.device)
        self._val_rng.manual_seed(self.hparams.seed * 1_000_003 + 7919 + self.global_rank)

    def validation_step(self, batch, batch_idx):
        loss, _, _ = denoising_step(self.teacher, self.noise_head, batch, self.sigma, self._val_rng)
        self.log("val/loss", loss, on_epoch=True, prog_bar=True, batch_size=batch.num_graphs, sync_dist=True)
        return loss

    def configure_optimizers(self):
        return adamw_warmup_cosine(decay_groups(self), self.optim_config, int(self.trainer.estimated_stepping_batches))

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        if self._train_rng is not None:
            checkpoint["noise_rng_state"] = self._train_rng.get_state()

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self._restored_rng_state = checkpoint.get("noise_rng_state")
        self._train_rng = None


def run_denoise(cfg: DenoiseConfig, records: Sequence[Data], out_dir: str | Path, resume: bool = False,
                corpus: CorpusConfig | None = None) -> Path:
    """Pretrain a teacher on `records` (paired or conformer-only Data with z, pos; selected by
    `corpus`, which OUT/denoise_config.json records); returns the final checkpoint
    (OUT/checkpoints/last.ckpt), loadable with `dnd.models.teacher.load_teacher`."""
    train, val = start_stage(records, cfg, out_dir, "denoise", CONFORMER_FIELDS)
    check_corpus_elements(records, cfg.teacher.max_z)
    write_stage_config(out_dir, "denoise", cfg, corpus, n_train=len(train), n_val=len(val))
    module = DenoiseModule(teacher=cfg.teacher, optim=cfg.optim, sigma=cfg.sigma,
                           seed=cfg.trainer.seed, featurizer_version=featurizer_version())
    train_loader = make_loader(train, cfg.batch_size, shuffle=True, seed=cfg.trainer.seed,
                               num_workers=cfg.num_workers)
    val_loader = make_loader(val, cfg.batch_size, num_workers=cfg.num_workers) if val else None
    fit(module, train_loader, val_loader, cfg.trainer, out_dir, resume)
    return Path(out_dir) / "checkpoints" / "last.ckpt"
