"""Typed configs of every training stage (denoise, distill, infomax, finetune) and of the
pieces they share (trainer, optimiser, student). Plain dataclasses without torch, so the command
line builds its options (choices, defaults) without loading the deep-learning stack, and
`dnd run` fills them from YAML with `dnd.experiment.config.apply_overrides`.

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

from dataclasses import dataclass, field
from typing import Any

from dnd.models.config import HeadConfig, TeacherConfig, teacher_preset
from dnd.objectives.config import DistillObjective, InfomaxObjective
from dnd.teachers.base import CACHE_DTYPES  # noqa: F401  (storage types of the teacher caches)

PAPER_PEAK_LR = 4e-4  # Zaidi et al., TorchMD-NET on PCQM4Mv2 (see module docstring)
PAPER_LR_FLOOR = 1e-7  # Table 5a's "1e-7": warmup start and cosine floor


@dataclass
class TrainerConfig:
    max_epochs: int = 10
    max_steps: int = -1
    accelerator: str = "auto"
    devices: str | int = "auto"
    strategy: str = "auto"
    precision: str = "32-true"
    checkpoint_every_n_steps: int = 500
    log_every_n_steps: int = 10
    gradient_clip_val: float | None = None
    seed: int = 0
    progress: bool = True


@dataclass
class OptimConfig:
    lr: float = 5e-4
    weight_decay: float = 0.0
    warmup_steps: int = 0
    # learning rate at the end of the cosine, as a fraction of the peak
    min_lr_ratio: float = 0.0
    # warmup starts at this fraction of the peak (Table 5a's 1e-7 start, for example)
    warmup_start_ratio: float = 0.0
    beta1: float = 0.9
    beta2: float = 0.999


@dataclass
class DenoiseConfig:
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    sigma: float = 0.04
    batch_size: int = 70
    val_fraction: float = 0.05
    num_workers: int = 0


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

    encoder: str = "tokengt"
    preset: str = "cpu-small"
    overrides: dict[str, Any] = field(default_factory=dict)


@dataclass
class PretrainConfig:
    """Settings common to distillation and 3DInfomax."""

    student: StudentSpec = field(default_factory=StudentSpec)
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(lr=5e-4, warmup_steps=200, min_lr_ratio=0.01))
    trainer: TrainerConfig = field(default_factory=lambda: TrainerConfig(max_epochs=10))
    batch_size: int = 64
    val_fraction: float = 0.05
    num_workers: int = 0


@dataclass
class DistillRunConfig(PretrainConfig):
    objective: DistillObjective = field(default_factory=DistillObjective)
    cached: bool = False
    feature_cache: str | None = None   # cache folder; None: OUT/teacher_features
    cache_dtype: str = "float32"
    cache_batch_size: int = 128        # molecules per forward pass of a denoiser filling the cache


@dataclass
class InfomaxRunConfig(PretrainConfig):
    objective: InfomaxObjective = field(default_factory=InfomaxObjective)
    net3d_preset: str = "cpu-small"     # architecture of the untrained 3D network
    teacher_init: str | None = None     # denoise checkpoint to start the 3D network from instead


@dataclass
class FinetuneConfig:
    init: str | None = None            # student checkpoint (distill / infomax); None = RandInit
    encoder: str = "tokengt"           # RandInit only: registry name, ...
    preset: str = "paper"              # ... preset ...
    # ... and per-key overrides of the preset: the pretrained students' (StudentSpec.overrides),
    # so that every method of a comparison has the same architecture
    overrides: dict[str, Any] = field(default_factory=dict)
    readout: str = "mp"                # "mp" | "vn"
    method: str | None = None          # label in result tables (default: from --init)
    head: HeadConfig = field(default_factory=HeadConfig)
    lr: float = 5e-4
    weight_decay: float = 0.05
    layer_decay: float = 0.65
    warmup_epochs: float = 5.0
    min_lr_ratio: float = 0.0
    batch_size: int = 128
    train_fraction: float = 1.0        # seeded subsample of the training split (label efficiency)
    max_train: int | None = None       # cap on training molecules after the fraction (CPU-scale runs)
    standardize_targets: bool = True   # regression: L1 on z-scores (see dnd.training.finetune)
    num_workers: int = 0
    trainer: TrainerConfig = field(default_factory=lambda: TrainerConfig(
        max_epochs=100, checkpoint_every_n_steps=0))
