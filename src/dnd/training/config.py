"""Typed configs of every training stage (denoise, distill, infomax, finetune) and of the
pieces they share (trainer, optimiser, student). Plain dataclasses without torch, so the command
line builds its options (choices, defaults) without loading the deep-learning stack, and
`dnd run` fills them from YAML and every verb from its flags with the same
`dnd.config_check.apply_overrides`; each field's help is its flag's (`dnd.cli.options`).

Denoising presets (`denoise_preset`, `dnd denoise --preset`):
- ``paper``: Table 5a of the D&D paper: TorchMD_ET with 8 layers, 8 heads, 768 dims, 64 RBF,
  cutoff 5 Å; batch 70, 30 epochs, AdamW, cosine schedule with 10,000 linear warmup steps.
  Table 5a's learning rate 1e-7 cannot be a peak rate for this model; it matches the `lr_min`
  of Zaidi et al.'s official TorchMD-NET PCQM4Mv2 denoising config (repository
  shehzaidi/pre-training-via-denoising, examples/ET-PCQM4MV2.yaml: lr 4e-4, lr_min 1e-7,
  lr_warmup_steps 10000, batch 70, 30 epochs, position_noise_scale 0.04). We therefore take the
  peak learning rate 4e-4 from Zaidi et al. and use 1e-7 both as the warmup start and as the
  floor the cosine decays to.
- ``cpu-small`` / ``cpu-fast``: sized by measurement so that denoising 20k QM9 molecules for 5
  epochs takes under an hour on 2 CPU cores (figures in docs/teacher.md).
- ``tiny``: tests and the quickstart.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from dnd.config_check import setting
from dnd.models.config import READOUTS, TEACHER_PRESETS, HeadConfig, TeacherConfig, teacher_preset
from dnd.models.registry import ENCODERS
from dnd.objectives.config import DistillObjective, InfomaxObjective
from dnd.teachers.base import CACHE_DTYPES

ENCODER_NAMES = tuple(sorted(ENCODERS))

PAPER_PEAK_LR = 4e-4  # Zaidi et al., TorchMD-NET on PCQM4Mv2 (see module docstring)
PAPER_LR_FLOOR = 1e-7  # Table 5a's "1e-7": warmup start and cosine floor


@dataclass
class TrainerConfig:
    max_epochs: int = setting(10, help="maximum epochs")
    max_steps: int = setting(-1, help="stop after this many optimiser steps (-1: no limit)")
    accelerator: str = setting("auto", help="cpu, gpu, auto, or a device such as cuda:1")
    devices: str | int = setting("auto", help="number of devices or 'auto'")
    strategy: str = setting("auto", help="auto, ddp, ...")
    precision: str = setting("32-true", help="32-true, bf16-mixed, 16-mixed")
    checkpoint_every_n_steps: int = setting(500, help="save a checkpoint every N steps (0: after every epoch)")
    log_every_n_steps: int = setting(10, help="log every N steps")
    gradient_clip_val: float | None = setting(None, help="clip gradients to this norm")
    seed: int = setting(0, help="seed of training (and, on the command line, of corpus sampling and splitting)")
    progress: bool = setting(True, help="progress bar (logs are written either way)")


@dataclass
class OptimConfig:
    lr: float = setting(5e-4, help="peak learning rate")
    weight_decay: float = setting(0.0, help="AdamW weight decay")
    warmup_steps: int = setting(0, help="linear warmup steps")
    min_lr_ratio: float = setting(0.0, help="cosine floor as a fraction of the peak")
    warmup_start_ratio: float = setting(0.0, help="warmup starts at this fraction of the peak (Table 5a's 1e-7 start)")
    beta1: float = setting(0.9, help="AdamW beta1")
    beta2: float = setting(0.999, help="AdamW beta2")


@dataclass
class DenoiseConfig:
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    sigma: float = setting(0.04, help="noise scale in Å")
    batch_size: int = setting(70, help="molecules per batch")
    val_fraction: float = setting(0.05, help="held-out validation share of the corpus (seeded by --seed)")
    num_workers: int = setting(0, help="data loader worker processes")


def denoise_preset(name: str) -> DenoiseConfig:
    """A fresh DenoiseConfig for preset `name` (a key of `dnd.models.config.TEACHER_PRESETS`)."""
    teacher = teacher_preset(name)
    if name == "paper":
        ratio = PAPER_LR_FLOOR / PAPER_PEAK_LR
        return DenoiseConfig(teacher, OptimConfig(lr=PAPER_PEAK_LR, warmup_steps=10_000, min_lr_ratio=ratio,
                                                  warmup_start_ratio=ratio),
                             TrainerConfig(max_epochs=30, checkpoint_every_n_steps=5_000), batch_size=70)
    if name in ("cpu-small", "cpu-fast"):
        return DenoiseConfig(teacher, OptimConfig(lr=PAPER_PEAK_LR, warmup_steps=300, min_lr_ratio=0.01),
                             TrainerConfig(max_epochs=5, checkpoint_every_n_steps=500, log_every_n_steps=10),
                             batch_size=32)
    return DenoiseConfig(teacher, OptimConfig(lr=1e-3, warmup_steps=10, min_lr_ratio=0.1),
                         TrainerConfig(max_epochs=2, checkpoint_every_n_steps=100, log_every_n_steps=5),
                         batch_size=16)


@dataclass
class StudentSpec:
    """Which 2D encoder to pretrain: registry name, preset, and per-key overrides of the preset
    (completed into a full config by `dnd.training.pretrain.resolve_student`)."""

    encoder: str = setting("tokengt", help="2D encoder", choices=ENCODER_NAMES)
    preset: str = setting("cpu-small", help="encoder preset: paper, cpu-small, tiny")
    overrides: dict[str, Any] = setting(factory=dict, help='JSON overrides of the preset, e.g. \'{"num_layers": 6}\'')


@dataclass
class PretrainConfig:
    """Settings common to distillation and 3DInfomax."""

    student: StudentSpec = field(default_factory=StudentSpec)
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(lr=5e-4, warmup_steps=200, min_lr_ratio=0.01))
    trainer: TrainerConfig = field(default_factory=lambda: TrainerConfig(max_epochs=10))
    batch_size: int = setting(64, help="molecules per batch")
    val_fraction: float = setting(0.05, help="held-out validation share of the corpus (seeded by --seed)")
    num_workers: int = setting(0, help="data loader worker processes")


@dataclass
class DistillRunConfig(PretrainConfig):
    objective: DistillObjective = field(default_factory=DistillObjective)
    cached: bool = setting(False, help="denoiser: compute its features once into --feature-cache instead of running "
                           "it on every batch (ani2x and xtb are always precomputed)")
    feature_cache: str | None = setting(None, help="teacher feature cache folder (default OUT/teacher_features); "
                                        "share it between runs")
    cache_dtype: str = setting("float32", help="storage type of the teacher feature cache", choices=CACHE_DTYPES)
    cache_batch_size: int = setting(128, help="molecules per forward pass of a denoiser filling the cache")


@dataclass
class InfomaxRunConfig(PretrainConfig):
    objective: InfomaxObjective = field(default_factory=InfomaxObjective)
    net3d_preset: str = setting("cpu-small", help="architecture of the (untrained) 3D network: the teacher's presets",
                                choices=TEACHER_PRESETS)
    teacher_init: str | None = setting(None, help="start the 3D network from this denoised teacher checkpoint")


@dataclass
class FinetuneConfig:
    init: str | None = setting(None, help="student checkpoint (distill/infomax) or dnd:NAME; omit for RandInit")
    encoder: str = setting("tokengt", help="RandInit encoder", choices=ENCODER_NAMES)
    preset: str = setting("paper", help="RandInit encoder preset: paper, cpu-small, tiny")
    # the pretrained students' (StudentSpec.overrides), so every method of a comparison has the
    # same architecture
    overrides: dict[str, Any] = setting(factory=dict, help="RandInit: JSON overrides of the preset, as the "
                                        'students\' (e.g. \'{"num_layers": 6}\')')
    readout: str = setting("mp", help="readout(s): mp (mean), vn (virtual node), norm (chemprop's sum/100), mmms "
                           "(min/max/mean/sum, 3DInfomax's PNA readout); several give one run set each",
                           choices=READOUTS)
    method: str | None = setting(None, help="label in the result tables (default: RandInit or the --init run's method)")
    head: HeadConfig = setting(factory=HeadConfig, help="property head", prefix="head_")
    lr: float = setting(5e-4, help="peak learning rate of the head (layers below: --layer-decay)")
    weight_decay: float = setting(0.05, help="AdamW weight decay")
    layer_decay: float = setting(0.65, help="lr multiplier per encoder layer below the head")
    warmup_epochs: float = setting(5.0, help="linear warmup epochs")
    min_lr_ratio: float = setting(0.0, help="cosine floor as a fraction of the peak")
    batch_size: int = setting(128, help="molecules per batch")
    train_fraction: float = setting(1.0, help="finetune on a seeded random fraction of the training split "
                                    "(valid/test untouched)")
    max_train: int | None = setting(None, help="cap on training molecules after --train-fraction (CPU-scale runs)")
    standardize_targets: bool = setting(True, help="regression: L1 on train-standardised labels (off: raw labels)")
    num_workers: int = setting(0, help="data loader worker processes")
    trainer: TrainerConfig = field(default_factory=lambda: TrainerConfig(
        max_epochs=100, checkpoint_every_n_steps=0))


# Finetuning defaults that follow the encoder, over FinetuneConfig's own (the D&D paper's Table 5c,
# tuned for TokenGT and kept for PNA). A D-MPNN finetunes as chemprop trains one: its norm
# readout, peak lr 1e-3 after two warmup epochs, batch 50; with Table 5c's settings the shipped
# D-MPNN reached 1.433 test RMSE on ESOL in 30 epochs, with these 0.909. The command line,
# `dnd run` and the quickstart all start from `finetune_defaults`.
ENCODER_FINETUNE_DEFAULTS: dict[str, dict[str, Any]] = {
    "dmpnn": {"readout": "norm", "lr": 1e-3, "warmup_epochs": 2.0, "batch_size": 50},
}


def finetune_defaults(encoder: str) -> FinetuneConfig:
    """FinetuneConfig for an `encoder` (registry name) student: its defaults over Table 5c's."""
    return replace(FinetuneConfig(encoder=encoder), **ENCODER_FINETUNE_DEFAULTS.get(encoder, {}))
