"""Shared pieces of the distillation and 3DInfomax tests: a tiny denoise-format teacher
checkpoint, small paired records, and fast run configs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conformers import paired_records

from dnd.models.config import teacher_preset
from dnd.training.config import OptimConfig, StudentSpec, TrainerConfig
from dnd.training.denoise import DenoiseModule


@pytest.fixture(scope="module", autouse=True)
def single_thread():
    """One intra-op thread while these tests run: the tiny models' ops gain nothing from threads,
    and on a busy shared CPU OpenMP barriers make them 10-100x slower (measured: a tiny teacher
    forward took 2 s with 2 threads and 8 ms with 1 at load 8 on 2 cores)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def write_teacher_ckpt(path: Path, seed: int = 0) -> Path:
    """A checkpoint in the exact format `dnd denoise` writes (DenoiseModule's state and hparams),
    with random weights: distillation only needs *a* fixed teacher."""
    torch.manual_seed(seed)
    module = DenoiseModule(teacher=teacher_preset("tiny"), optim=OptimConfig(), featurizer_version="test")
    torch.save({"state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams)}, path)
    return path


def records(n: int | None = None):
    return paired_records(n)


def fast_settings(epochs: int = 1, **student_overrides) -> dict:
    """Keyword arguments shared by the run configs of the tests."""
    return dict(student=StudentSpec("tokengt", "tiny", student_overrides),
                optim=OptimConfig(lr=1e-3, warmup_steps=0),
                trainer=TrainerConfig(max_epochs=epochs, accelerator="cpu", devices="1", progress=False,
                                      log_every_n_steps=1, checkpoint_every_n_steps=0),
                batch_size=4, val_fraction=0.25)
