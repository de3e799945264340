"""Coordinate denoising objective, Lightning training, checkpoints and the `dnd denoise` CLI."""

import argparse

import lightning as L
import pandas as pd
import pytest
import torch

from conformers import paired_records
from dnd.data.loader import make_loader
from dnd.models.config import teacher_preset
from dnd.models.teacher import NoiseHead, Teacher, featurizer_version, load_teacher
from dnd.objectives.denoise import denoising_loss, denoising_step, perturb
from dnd.models.checkpoint import CheckpointError
from dnd.cli.denoise import add_arguments, config_from_args
from dnd.data.corpus import sample_records, split_records
from dnd.training.config import PAPER_LR_FLOOR, PAPER_PEAK_LR, OptimConfig, denoise_preset
from dnd.training.denoise import DenoiseModule, run_denoise


@pytest.fixture(scope="module")
def records():
    return paired_records()


@pytest.fixture(scope="module")
def batch(records):
    return next(iter(make_loader(records, batch_size=len(records))))


def test_perturb_adds_sigma_times_drawn_noise():
    pos = torch.randn(50, 3, generator=torch.Generator().manual_seed(0))
    noisy, eps = perturb(pos, 0.04, torch.Generator().manual_seed(5))
    torch.testing.assert_close(noisy, pos + 0.04 * eps)
    torch.testing.assert_close(eps, torch.randn(50, 3, generator=torch.Generator().manual_seed(5)))
    gen = torch.Generator().manual_seed(5)
    first, second = perturb(pos, 0.04, gen)[1], perturb(pos, 0.04, gen)[1]
    assert not torch.allclose(first, second)  # fresh noise on every draw
    with pytest.raises(ValueError, match="positive"):
        perturb(pos, 0.0)


def test_step_target_is_the_noise_the_teacher_saw(batch):
    """The regression target equals (noisy - clean) / sigma for the coordinates fed to the teacher."""
    seen = {}

    class Spy(Teacher):
        def forward(self, b, pos=None):
            seen["pos"] = pos
            return super().forward(b, pos)

    torch.manual_seed(0)
    teacher = Spy(teacher_preset("tiny"))
    head = NoiseHead(teacher.hidden_dim)
    loss, pred, eps = denoising_step(teacher, head, batch, 0.1, torch.Generator().manual_seed(3))
    torch.testing.assert_close(eps, (seen["pos"] - batch.pos) / 0.1, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(loss, torch.mean((pred - eps) ** 2))
    # a zero prediction scores the noise variance, about 1
    assert abs(denoising_loss(torch.zeros_like(eps), eps).item() - 1.0) < 0.15


def test_overfitting_a_tiny_set_halves_the_loss(records):
    """Fixed molecules and fixed perturbations (the generator is re-seeded every step): a model
    that trains at all memorises them. With noise drawn afresh the loss floor is far above zero
    (rigid-body parts of eps cannot be predicted), which the real runs document instead."""
    batch = next(iter(make_loader(records[:4], batch_size=4)))
    torch.manual_seed(0)
    teacher = Teacher(teacher_preset("tiny"))
    head = NoiseHead(teacher.hidden_dim)
    opt = torch.optim.AdamW([*teacher.parameters(), *head.parameters()], lr=5e-3)
    gen = torch.Generator()
    losses = []
    for _ in range(60):
        gen.manual_seed(0)
        loss = denoising_step(teacher, head, batch, 0.04, gen)[0]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    start, end = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert end <= 0.5 * start, (start, end)


def test_split_is_seeded_and_disjoint(records):
    train, val = split_records(records, 0.25, seed=0)
    assert len(val) == 3 and len(train) == 9
    assert {r.smiles for r in train}.isdisjoint(r.smiles for r in val)
    assert [r.smiles for r in split_records(records, 0.25, seed=0)[1]] == [r.smiles for r in val]
    assert [r.smiles for r in split_records(records, 0.25, seed=1)[1]] != [r.smiles for r in val]


def test_sample_is_seeded_subset(records):
    picked = sample_records(records, 5, seed=0)
    assert len(picked) == 5 and len({r.smiles for r in picked}) == 5
    assert [r.smiles for r in picked] == [r.smiles for r in sample_records(records, 5, seed=0)]
    assert [r.smiles for r in picked] != [r.smiles for r in records[:5]]
    assert len(sample_records(records, None, seed=0)) == len(records)


def _tiny_config(tmp_max_steps: int):
    cfg = denoise_preset("tiny")
    cfg.trainer.max_steps = tmp_max_steps
    cfg.trainer.max_epochs = 100
    cfg.trainer.progress = False
    cfg.trainer.checkpoint_every_n_steps = 4
    cfg.trainer.log_every_n_steps = 1
    cfg.batch_size = 4
    cfg.val_fraction = 0.25
    return cfg


@pytest.fixture(scope="module")
def run_dir(records, tmp_path_factory):
    out = tmp_path_factory.mktemp("denoise")
    ckpt = run_denoise(_tiny_config(5), records, out)
    return out, ckpt


def test_run_writes_logs_and_checkpoints(run_dir):
    out, ckpt = run_dir
    assert ckpt == out / "checkpoints" / "last.ckpt" and ckpt.is_file()
    assert (out / "checkpoints" / "step4.ckpt").is_file()
    metrics = pd.read_csv(out / "logs" / "metrics.csv")
    assert metrics["train/loss_step"].notna().sum() == 5
    assert metrics["val/loss"].notna().any()
    saved = torch.load(ckpt, map_location="cpu", weights_only=True)
    assert saved["global_step"] == 5
    assert saved["hyper_parameters"]["teacher"] == teacher_preset("tiny").to_dict()
    assert isinstance(saved["hyper_parameters"]["featurizer_version"], str)
    assert "noise_rng_state" in saved


def test_resume_continues_from_last_checkpoint(run_dir, records):
    out, _ = run_dir
    def train_losses():
        m = pd.read_csv(out / "logs" / "metrics.csv")
        return m.loc[m["train/loss_step"].notna()].set_index("step")["train/loss_step"]

    before = train_losses()
    cfg = _tiny_config(8)
    cfg.trainer.seed = 1  # a fresh start would now begin from other weights and log other losses
    ckpt = run_denoise(cfg, records, out, resume=True)
    assert torch.load(ckpt, map_location="cpu", weights_only=True)["global_step"] == 8
    after = train_losses()
    assert {5, 6, 7} <= set(after.index)
    early = after[after.index < 5]  # the CSV logger may drop or keep the first run's rows, not redo them
    assert early.empty or early.equals(before)


def test_checkpoint_round_trip_gives_identical_outputs(records, batch, tmp_path):
    torch.manual_seed(0)
    module = DenoiseModule(teacher=teacher_preset("tiny"), optim=OptimConfig(lr=1e-3),
                           featurizer_version=featurizer_version())
    trainer = L.Trainer(max_steps=3, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False)
    trainer.fit(module, make_loader(records, 4, shuffle=True))
    path = tmp_path / "teacher.ckpt"
    trainer.save_checkpoint(path)
    module.teacher.eval()
    with torch.no_grad():
        expected = module.teacher.encode(batch)
    loaded = load_teacher(path)
    assert not loaded.training and not any(p.requires_grad for p in loaded.parameters())
    assert loaded.config == module.teacher.config and loaded.featurizer_version == featurizer_version()
    assert torch.equal(loaded.encode(batch), expected)


def test_corrupt_or_foreign_checkpoint_raises_checkpoint_error(tmp_path):
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"\x80\x02 definitely not a checkpoint")
    with pytest.raises(CheckpointError, match="bad.ckpt"):
        load_teacher(bad)
    foreign = tmp_path / "foreign.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": {"encoder_name": "pna"}}, foreign)
    with pytest.raises(CheckpointError, match="teacher config"):
        load_teacher(foreign)
    with pytest.raises(CheckpointError, match="not found"):
        load_teacher(tmp_path / "missing.ckpt")


def test_cli_preset_and_overrides():
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    cfg = config_from_args(parser.parse_args(["--out", "x", "--preset", "paper"]))
    assert cfg.batch_size == 70 and cfg.trainer.max_epochs == 30 and cfg.optim.warmup_steps == 10_000
    assert cfg.optim.lr == PAPER_PEAK_LR and cfg.sigma == 0.04
    assert cfg.optim.lr * cfg.optim.warmup_start_ratio == pytest.approx(PAPER_LR_FLOOR)
    cfg = config_from_args(parser.parse_args(["--out", "x", "--preset", "tiny", "--max-epochs", "7", "--sigma", "0.1",
                                              "--hidden-channels", "48", "--lr", "2e-3"]))
    assert (cfg.trainer.max_epochs, cfg.sigma, cfg.teacher.hidden_channels, cfg.optim.lr) == (7, 0.1, 48, 2e-3)
    assert cfg.teacher.num_layers == teacher_preset("tiny").num_layers


def test_resumed_run_keeps_its_csv_history(tmp_path):
    """Lightning's CSV logger deletes metrics.csv on restart; ours continues it, and a fresh run
    in a used folder sets the old log aside instead of deleting it."""
    from dnd.training.config import TrainerConfig
    from dnd.training.trainer import build_trainer

    out = tmp_path / "run"
    logs = out / "logs"
    logs.mkdir(parents=True)
    (logs / "metrics.csv").write_text("epoch,step,train_loss\n0,9,0.5\n")
    trainer = build_trainer(TrainerConfig(progress=False), out, resume=True)
    writer = trainer.loggers[0].experiment
    writer.log_metrics({"train_loss": 0.25, "epoch": 1}, step=19)
    writer.save()
    rows = (logs / "metrics.csv").read_text().splitlines()
    assert rows[0] == "epoch,step,train_loss" and rows[1] == "0,9,0.5" and rows[2].startswith("1,19,0.25")

    build_trainer(TrainerConfig(progress=False), out, resume=False)
    assert not (logs / "metrics.csv").exists()
    kept = list(logs.glob("metrics.*.csv"))
    assert len(kept) == 1 and "0,9,0.5" in kept[0].read_text()
