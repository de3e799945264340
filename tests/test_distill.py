"""D&D distillation: teacher stays frozen, NODE targets are the right atoms, cached == live, and the
student checkpoint rebuilds through the registry."""

from __future__ import annotations

import copy

import pandas as pd
import pytest
import torch
from pretrain_helpers import fast_settings, records, single_thread, write_teacher_ckpt  # noqa: F401
from torch import nn

from dnd.cli import main as cli_main
from dnd.data.loader import make_loader
from dnd.models.checkpoint import load_encoder
from dnd.models.registry import encoder_preset
from dnd.models.teacher import load_teacher
from dnd.objectives.config import DistillObjective
from dnd.objectives.distill import teacher_targets
from dnd.models.checkpoint import load_checkpoint
from dnd.training.config import DistillRunConfig, OptimConfig, PretrainConfig
from dnd.training.distill import DistillModule, run_distill
from dnd.training.pretrain import fit_student
from dnd.teachers import TeacherSpec, build_teacher
from dnd.teachers.cache import TargetNorm, ensure_features, feature_folder
from dnd.training.distill import FeatureDataset

VARIANTS = [DistillObjective("node"), DistillObjective("graph", "all"), DistillObjective("graph", "heavy")]


@pytest.fixture(scope="module")
def teacher_ckpt(tmp_path_factory):
    return write_teacher_ckpt(tmp_path_factory.mktemp("teacher") / "teacher.ckpt")


@pytest.fixture(scope="module")
def teacher(teacher_ckpt):
    return load_teacher(teacher_ckpt)


@pytest.fixture(scope="module")
def recs():
    return records()


class OracleStudent(nn.Module):
    """Outputs, for graph node v of each molecule, the teacher's features of that molecule's v-th
    heavy atom, computed molecule by molecule without batching (`record.oracle`)."""

    hidden_dim = 32

    def encode(self, batch):
        return batch.oracle


def with_oracle(recs, teacher):
    out = []
    for r in recs:
        r = copy.copy(r)
        alone = next(iter(make_loader([r], 1)))
        feats = teacher.encode(alone)
        r.oracle = feats[r.z > 1]  # heavy atoms in conformer order = graph nodes in order
        out.append(r)
    return out


def tiny_student() -> dict:
    return encoder_preset("tokengt", "tiny")


def oracle_module(teacher) -> DistillModule:
    module = DistillModule("tokengt", tiny_student(), teacher.hidden_dim, DistillObjective(), OptimConfig(), teacher=teacher)
    module.student = OracleStudent()
    return module


def batch_losses(module, loader, cfg):
    module.objective = cfg
    return torch.stack([module.compute_loss(b)["loss"] for b in loader])


def test_oracle_student_scores_zero_and_atom_shuffle_breaks_it(recs, teacher):
    oracle = with_oracle(recs, teacher)
    distill = oracle_module(teacher)
    loader = make_loader(oracle, 5)
    # exact atom-by-atom targets: zero loss for NODE, and for GRAPH when the teacher pools graph atoms
    assert batch_losses(distill, loader, DistillObjective("node")).max() < 1e-10
    assert batch_losses(distill, loader, DistillObjective("graph", "heavy")).max() < 1e-10
    # the paper's GRAPH target averages hydrogens too, which the oracle does not see
    all_pool = batch_losses(distill, loader, DistillObjective("graph", "all"))
    assert all_pool.min() > 1e-4

    # same molecules, conformer atoms listed in another order (z, pos, atom_is_node together):
    # the teacher's features per atom are unchanged, but node v now meets another atom
    g = torch.Generator().manual_seed(0)
    shuffled = []
    for r in oracle:
        r = copy.copy(r)
        perm = torch.randperm(r.z.numel(), generator=g)
        r.z, r.pos, r.atom_is_node = r.z[perm], r.pos[perm], r.atom_is_node[perm]
        shuffled.append(r)
    loader = make_loader(shuffled, 5)
    assert batch_losses(distill, loader, DistillObjective("node")).min() > 1e-3
    # a permutation-invariant target is, correctly, unaffected
    torch.testing.assert_close(batch_losses(distill, loader, DistillObjective("graph", "all")), all_pool,
                               rtol=1e-4, atol=1e-6)


def test_node_targets_follow_atom_is_node(recs, teacher):
    batch = next(iter(make_loader(recs[:4], 4)))
    feats = teacher.encode(batch)
    t = teacher_targets(feats, batch)
    assert t.node.shape == (batch.num_nodes, teacher.hidden_dim)
    # hydrogens are excluded: row count = graph nodes, elements agree with the 2D side
    assert torch.equal(batch.z[batch.atom_is_node], batch.x[:, 0] + 1)
    for g in range(batch.num_graphs):
        torch.testing.assert_close(t.pooled_all[g], feats[batch.z_batch == g].mean(0))


def test_teacher_bit_identical_and_student_trained(recs, teacher_ckpt, tmp_path):
    teacher = load_teacher(teacher_ckpt)
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    cfg = PretrainConfig(**fast_settings(epochs=2))
    module = DistillModule("tokengt", tiny_student(), teacher.hidden_dim, DistillObjective("node"),
                           OptimConfig(lr=1e-3), teacher=teacher)
    student_before = copy.deepcopy(module.student.state_dict())
    fit_student(module, recs[:8], recs[8:], cfg, tmp_path)
    after = teacher.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not teacher.training and not any(p.requires_grad for p in teacher.parameters())
    assert all(p.grad is None for p in teacher.parameters())
    assert any(not torch.equal(student_before[k], v) for k, v in module.student.state_dict().items())


def quiet(message: str) -> None:
    pass


@pytest.mark.parametrize("cfg", VARIANTS, ids=["node", "graph-all", "graph-heavy"])
def test_cached_and_live_losses_equal(recs, teacher, teacher_ckpt, tmp_path, cfg):
    denoised = build_teacher(TeacherSpec(str(teacher_ckpt)), batch_size=7)
    cache = ensure_features(denoised, recs, tmp_path / "cache", chunk_size=9, log=quiet)
    module = DistillModule("tokengt", tiny_student(), teacher.hidden_dim, DistillObjective(), OptimConfig(), teacher=teacher).eval()
    live = make_loader(recs, 4)
    raw = TargetNorm("none", cache, recs, range(len(recs)))
    cached = make_loader(FeatureDataset(recs, cache, range(len(recs)), raw), 4)
    with torch.no_grad():
        a = batch_losses(module, live, cfg)
        module_no_teacher = copy.copy(module)
        module_no_teacher.teacher = None  # cached batches must not need the 3D model
        b = batch_losses(module_no_teacher, cached, cfg)
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)


def test_cache_reused_then_rebuilt_for_another_teacher(recs, teacher_ckpt, tmp_path):
    messages = []
    denoised = build_teacher(TeacherSpec(str(teacher_ckpt)))
    first = ensure_features(denoised, recs, tmp_path / "c", log=messages.append)
    ensure_features(denoised, recs, tmp_path / "c", log=messages.append)
    assert "reusing" in messages[-1]
    # other weights (the untrained control of the same config) are another teacher: another folder
    control = build_teacher(TeacherSpec(str(teacher_ckpt), control=True, seed=5))
    assert control.fingerprint() != denoised.fingerprint()
    other = ensure_features(control, recs, tmp_path / "c", log=messages.append)
    assert other.path.parent != first.path.parent and other.meta["teacher"] == control.fingerprint()
    assert not torch.equal(other.node(0), first.node(0))
    # a corpus that differs by one coordinate is a different corpus
    moved = [copy.copy(r) for r in recs]
    moved[3].pos = moved[3].pos + 0.01
    assert feature_folder(tmp_path / "c", denoised, moved) != first.path.parent


def test_run_distill_checkpoints_and_resume(recs, teacher_ckpt, tmp_path):
    # student width 16 vs teacher 32: a projection is trained but never stored as student weights
    cfg = DistillRunConfig(**fast_settings(epochs=1, hidden_dim=16), cached=True)
    out = tmp_path / "run"
    student_ckpt = run_distill(cfg, recs, teacher_ckpt, out)
    student = load_checkpoint(student_ckpt)
    assert student["hyper_parameters"]["encoder_name"] == "tokengt"
    assert all(k.startswith("student.") for k in student["state_dict"])
    last = load_checkpoint(out / "checkpoints" / "last.ckpt")["state_dict"]
    assert "projection.linear.weight" in last and not any(k.startswith("teacher.") for k in last)
    encoder = load_encoder(student_ckpt)
    assert encoder.hidden_dim == 16
    batch = next(iter(make_loader(recs, 6)))
    torch.testing.assert_close(encoder.encode(batch), load_encoder(out / "checkpoints" / "last.ckpt").encode(batch))

    # --resume continues the same run to a second epoch, live teacher this time
    cfg2 = DistillRunConfig(**fast_settings(epochs=2, hidden_dim=16))
    run_distill(cfg2, recs, teacher_ckpt, out, resume=True)
    resumed = load_checkpoint(out / "checkpoints" / "last.ckpt")
    assert resumed["global_step"] == 2 * 3  # 9 training molecules in batches of 4, two epochs
    log = pd.read_csv(out / "logs" / "metrics.csv")  # the resumed run continues the same log
    assert sorted(log.dropna(subset=["val/loss"])["epoch"].astype(int).tolist()) == [0, 1]


def test_distill_cli_on_real_qm9_sdf(shared_file, teacher_ckpt, tmp_path):
    sdf = shared_file("qm9/gdb1k.sdf.gz")
    out = tmp_path / "cli"
    code = cli_main(["distill", "--teacher", str(teacher_ckpt), "--variant", "graph", "--source", "sdf",
                     "--path", str(sdf), "--limit", "24", "--preset", "tiny", "--batch-size", "8",
                     "--max-epochs", "1", "--cached", "--out", str(out), "--no-progress", "--accelerator", "cpu",
                     "--devices", "1", "--val-fraction", "0.25"])
    assert code == 0
    log = pd.read_csv(out / "logs" / "metrics.csv")
    assert log["train/loss_epoch"].notna().any() and log["val/loss"].notna().any()
    assert load_encoder(out / "student.ckpt").hidden_dim == 32
