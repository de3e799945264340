"""The 3D teacher: symmetry of its outputs, batching, frozen mode, presets."""

import pytest
import torch

from conformers import paired_record, paired_records, random_rotation
from dnd.data.loader import make_loader
from dnd.models.config import TeacherConfig, teacher_preset
from dnd.models.teacher import NoiseHead, Teacher

# Tolerances are relative to the largest output magnitude. The test applies a random rotation and a
# translation of a few Å, so coordinates of ~5-10 Å are rounded differently: float32 (unit roundoff
# 6e-8) perturbs distances by ~1e-6 relative, and we measured max output deviations of 1e-6 to
# 5e-6 relative after 2-6 attention layers; 5e-5 leaves 10x headroom. float64 (unit roundoff
# 1.1e-16) gave ~3e-15; 1e-11 leaves a wide margin. A model that broke the symmetry would be off by
# O(1) relative (the rotation moves outputs by their own size), far outside either bound.
RTOL = {torch.float32: 5e-5, torch.float64: 1e-11}


@pytest.fixture(scope="module")
def batch():
    return next(iter(make_loader(paired_records(), batch_size=12)))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_features_invariant_and_noise_equivariant(batch, dtype):
    torch.manual_seed(0)
    teacher = Teacher(teacher_preset("tiny")).to(dtype)
    head = NoiseHead(teacher.hidden_dim).to(dtype)
    gen = torch.Generator().manual_seed(1)
    rot = random_rotation(gen, dtype)
    shift = (3.0 * torch.randn(3, generator=gen, dtype=torch.float64)).to(dtype)
    pos = batch.pos.to(dtype)

    x, vec = teacher(batch, pos=pos)
    x_t, vec_t = teacher(batch, pos=pos @ rot.T + shift)
    noise, noise_t = head(x, vec), head(x_t, vec_t)

    tol = RTOL[dtype]
    assert (x - x_t).abs().max() <= tol * x.abs().max()
    assert (noise @ rot.T - noise_t).abs().max() <= tol * noise.abs().max()
    # the check has teeth: the prediction does move under rotation
    assert (noise - noise_t).abs().max() > 1e-2 * noise.abs().max()
    assert noise.shape == (batch.z.numel(), 3)


def test_encode_per_molecule_independent_of_batching(batch):
    """Atoms of different molecules never interact, and a lone record (no z_batch) works."""
    torch.manual_seed(0)
    teacher = Teacher(teacher_preset("tiny"))
    together = teacher.encode(batch)
    assert together.shape == (batch.z.numel(), teacher.hidden_dim)
    alone = teacher.encode(paired_record("c1ccccc1O", seed=1))  # record 1 of paired_records()
    start, stop = batch.z_ptr[1].item(), batch.z_ptr[2].item()
    torch.testing.assert_close(together[start:stop], alone, rtol=1e-5, atol=1e-5)


def test_a_compact_molecule_with_hydrogens_alone_keeps_every_neighbour(batch):
    """Testosterone with H has 1,591 atom pairs within 5 Å (self-loops included), over
    torchmd-net's default budget of 32 per atom (1,568): alone in a batch it failed the run. It
    must encode alone, identically to its encoding beside other molecules."""
    torch.manual_seed(0)
    teacher = Teacher(teacher_preset("tiny"))
    steroid = paired_record("CC12CCC3C(CCC4=CC(=O)CCC34C)C1CCC2O", seed=0)
    within = (torch.cdist(steroid.pos, steroid.pos) < teacher.config.cutoff_upper).sum()
    assert within > 32 * steroid.z.numel()  # the case that overflowed
    alone = teacher.encode(steroid)
    mixed = next(iter(make_loader([paired_record("CCO"), steroid], batch_size=2)))
    start = mixed.z_ptr[1].item()
    torch.testing.assert_close(teacher.encode(mixed)[start:], alone, rtol=1e-5, atol=1e-5)


def test_frozen_encode_has_no_grad_and_leaves_parameters(batch):
    torch.manual_seed(0)
    teacher = Teacher(teacher_preset("tiny")).freeze()
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    parent = torch.nn.ModuleDict({"teacher": teacher, "probe": torch.nn.Linear(teacher.hidden_dim, 1)})
    parent.train()  # a distillation module switching itself to training mode
    assert not teacher.training
    opt = torch.optim.SGD(parent.parameters(), lr=1.0)
    feats = teacher.encode(batch)
    assert not feats.requires_grad and feats.grad_fn is None
    parent["probe"](feats).sum().backward()
    opt.step()
    assert all(p.grad is None for p in teacher.parameters())
    for k, v in teacher.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_presets_match_paper_table():
    paper = teacher_preset("paper")
    assert (paper.num_layers, paper.num_heads, paper.hidden_channels, paper.num_rbf, paper.cutoff_upper) == \
        (8, 8, 768, 64, 5.0)
    small, tiny = teacher_preset("cpu-small"), teacher_preset("tiny")
    assert tiny.hidden_channels < small.hidden_channels < paper.hidden_channels
    paper.num_layers = 1  # presets hand out copies
    assert teacher_preset("paper").num_layers == 8
    with pytest.raises(ValueError, match="unknown teacher preset"):
        teacher_preset("huge")


def test_config_validation():
    cfg = teacher_preset("tiny")
    assert TeacherConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown teacher config keys: bogus"):
        TeacherConfig.from_dict(cfg.to_dict() | {"bogus": 1})
    with pytest.raises(ValueError, match="divisible"):
        TeacherConfig(hidden_channels=30, num_heads=4)


def test_atomic_number_beyond_embedding_is_reported(batch):
    teacher = Teacher(TeacherConfig(hidden_channels=16, num_layers=1, num_heads=2, num_rbf=8, max_z=9))
    with pytest.raises(ValueError, match="exceeds the teacher's max_z=9"):
        teacher.encode(batch)


def test_importing_the_teacher_prints_no_warp_banner():
    """torchmd-net initialises NVIDIA warp on import; its 5-line banner is silenced at the source,
    and so is the native "no CUDA driver" line it writes on every GPU-less machine (this one)."""
    import subprocess
    import sys
    from pathlib import Path

    src = Path(__file__).resolve().parents[1] / "src"
    out = subprocess.run([sys.executable, "-c", "import dnd.models.teacher"], capture_output=True, text=True,
                         env={"PYTHONPATH": str(src), "PATH": "", "OMP_NUM_THREADS": "1"}, check=True)
    assert "initialized" not in out.stdout + out.stderr
    assert "Warp" not in out.stdout + out.stderr


def test_quiet_warp_passes_other_native_lines_on(monkeypatch, capfd):
    """Only the known driver line is dropped: anything else warp's native code writes to fd 2
    during init still reaches the user."""
    import os

    import warp

    from dnd.models import teacher

    def fake_init():
        os.write(2, f"Warp CUDA warning: {teacher.WARP_NO_DRIVER}.\nWarp error: something real\n".encode())

    monkeypatch.setattr(warp, "init", fake_init)
    teacher._quiet_warp()
    err = capfd.readouterr().err
    assert "something real" in err and teacher.WARP_NO_DRIVER not in err
