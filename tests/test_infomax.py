"""3DInfomax baseline: NT-Xent against hand computation, and a short joint run."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from pretrain_helpers import fast_settings, records, single_thread, write_teacher_ckpt  # noqa: F401

from dnd.models.checkpoint import load_encoder
from dnd.objectives.config import InfomaxObjective
from dnd.objectives.infomax import ProjectionHead, contrastive_accuracy, nt_xent
from dnd.models.checkpoint import load_checkpoint, submodule_state
from dnd.training.config import InfomaxRunConfig, OptimConfig
from dnd.training.infomax import run_infomax

# three molecules, 2-d embeddings chosen so that every cosine is 0, 1/sqrt(2) or 1
Z2D = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], dtype=torch.float64)
Z3D = torch.tensor([[2.0, 0.0], [3.0, 3.0], [0.0, 0.5]], dtype=torch.float64)  # norms differ on purpose


def test_nt_xent_matches_hand_computation():
    # cos(z2d_i, z3d_j):      j=0        j=1         j=2
    #   i=0 (1,0)              1          1/sqrt2     0
    #   i=1 (0,1)              0          1/sqrt2     1
    #   i=2 (1,1)              1/sqrt2    1           1/sqrt2
    # positives are the diagonal: 1, 1/sqrt2, 1/sqrt2. With tau = 0.5, logits are 2 * cos.
    # (tolerance 1e-7: 3DInfomax adds 1e-8 to the product of norms)
    r = math.sqrt(2)  # = 2 / sqrt2
    e = math.exp
    per_row = [
        -(2 - math.log(e(r) + e(0))),       # row 0: negatives j=1 (1/sqrt2), j=2 (0)
        -(r - math.log(e(0) + e(2))),       # row 1: negatives j=0 (0), j=2 (1)
        -(r - math.log(e(r) + e(2))),       # row 2: negatives j=0 (1/sqrt2), j=1 (1)
    ]
    expected = sum(per_row) / 3
    assert nt_xent(Z2D, Z3D, tau=0.5).item() == pytest.approx(expected, rel=1e-7)

    # 3DInfomax's own arithmetic (exp, then divide by the row sum without the positive)
    cos = torch.tensor([[1, 1 / r, 0], [0, 1 / r, 1], [1 / r, 1, 1 / r]], dtype=torch.float64)
    s = torch.exp(cos / 0.5)
    reference = -torch.log(s.diagonal() / (s.sum(1) - s.diagonal())).mean()
    assert nt_xent(Z2D, Z3D, tau=0.5).item() == pytest.approx(reference.item(), rel=1e-7)

    # SimCLR form keeps the positive in the denominator: a plain cross entropy over the row
    assert nt_xent(Z2D, Z3D, 0.5, include_positive=True).item() == pytest.approx(
        F.cross_entropy(cos / 0.5, torch.arange(3)).item(), rel=1e-7)
    # symmetric: the mean of both directions (the 3D->2D direction reads the columns)
    col = -torch.log(s.diagonal() / (s.sum(0) - s.diagonal())).mean()
    assert nt_xent(Z2D, Z3D, 0.5, symmetric=True).item() == pytest.approx(0.5 * (reference + col).item(), rel=1e-7)


def test_nt_xent_temperature_001_is_finite_and_only_direction_matters():
    # exp(1 / 0.01) overflows float32; the log-space computation must not
    z = torch.randn(5, 8)
    loss = nt_xent(z, z * 3.0, tau=0.01)
    assert torch.isfinite(loss)
    # perfect alignment with distinct directions: loss well below zero (positive excluded from denominator)
    assert loss.item() < 0
    swapped = nt_xent(z, z.flip(0), tau=0.01)
    assert swapped.item() > loss.item()
    assert contrastive_accuracy(z, 2 * z).item() == 1.0
    with pytest.raises(ValueError, match="at least 2"):
        nt_xent(z[:1], z[:1])


def test_projection_head_shapes():
    head = ProjectionHead(in_dim=4, out_dim=6, layers=2, aggregators=["min", "max", "mean"])
    x = torch.randn(7, 4)
    index = torch.tensor([0, 0, 1, 1, 1, 2, 2])
    assert head(x, index, 3).shape == (3, 6)
    assert head.mlp[0].in_features == 12 and isinstance(head.mlp[1], torch.nn.BatchNorm1d)
    with pytest.raises(ValueError):
        InfomaxObjective(readout_aggregators=["median"])


def test_infomax_run_trains_jointly_and_saves_student(tmp_path):
    recs = records()
    cfg = InfomaxRunConfig(**fast_settings(epochs=6) | {"optim": OptimConfig(lr=3e-3)},
                           net3d_preset="tiny", objective=InfomaxObjective(tau=0.1, metric_dim=16))
    cfg.batch_size = 3
    student_ckpt = run_infomax(cfg, recs, tmp_path / "run")
    log = pd.read_csv(tmp_path / "run" / "logs" / "metrics.csv")
    train = log.dropna(subset=["train/loss_epoch"])["train/loss_epoch"].tolist()
    assert train[-1] < train[0]  # both networks learn to pair the views
    assert load_encoder(student_ckpt).hidden_dim == 32
    student = load_checkpoint(student_ckpt)
    assert student["hyper_parameters"]["stage"] == "infomax"
    assert all(k.startswith("student.") for k in student["state_dict"])
    last = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.ckpt")["state_dict"]
    assert any(k.startswith("net3d.") for k in last) and any(k.startswith("head2d.") for k in last)


def test_infomax_teacher_init_starts_from_denoised_teacher(tmp_path):
    teacher_ckpt = write_teacher_ckpt(tmp_path / "teacher.ckpt", seed=3)
    # lr 0: the 3D network must still hold exactly the teacher's weights after a step
    cfg = InfomaxRunConfig(**fast_settings(epochs=1) | {"optim": OptimConfig(lr=0.0)},
                           teacher_init=str(teacher_ckpt))
    run_infomax(cfg, records(8), tmp_path / "run")
    ckpt = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.ckpt")
    assert ckpt["hyper_parameters"]["teacher_init"] == str(teacher_ckpt)
    net3d = submodule_state(ckpt["state_dict"], "net3d.")
    teacher = submodule_state(load_checkpoint(teacher_ckpt)["state_dict"], "teacher.")
    assert net3d.keys() == teacher.keys()
    assert all(torch.equal(net3d[k], teacher[k]) for k in teacher)
