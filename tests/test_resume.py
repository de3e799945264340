"""Nothing lost: checkpoints are written atomically in their own folder, `--resume` falls back to
the newest loadable checkpoint, and a run killed with SIGKILL after a checkpoint and resumed ends
with the same weights, metrics and log rows as a run that was never interrupted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from dnd.data.cache import atomic_save
from dnd.data.loader import EpochShuffle
from dnd.models.checkpoint import load_checkpoint
from dnd.training.trainer import resume_path
from finetune_fixtures import train_tiny
from pretrain_helpers import write_teacher_ckpt

SRC = Path(__file__).resolve().parents[1] / "src"

# One command line per stage, on the embedded data, small enough for a few seconds per epoch.
STAGES = {
    "finetune": ["finetune", "--task", "ogbg-molesol", "--preset", "tiny", "--max-train", "48",
                 "--batch-size", "16", "--max-epochs", "4", "--warmup-epochs", "1"],
    "denoise": ["denoise", "--preset", "tiny", "--limit", "48", "--batch-size", "16", "--max-epochs", "4",
                "--checkpoint-every-n-steps", "0"],
    "distill": ["distill", "--teacher", "{teacher}", "--cached", "--preset", "tiny", "--limit", "48",
                "--batch-size", "16", "--max-epochs", "4", "--checkpoint-every-n-steps", "0"],
}


def _cli(argv: list[str], out: Path) -> subprocess.Popen:
    env = os.environ | {"PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "dnd.cli", *argv, "--no-progress", "--out", str(out)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _finish(proc: subprocess.Popen) -> None:
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]


def _kill_after(proc: subprocess.Popen, marker: Path, timeout: float = 300) -> None:
    start = time.monotonic()
    while not marker.exists():
        assert proc.poll() is None, "the run ended before the checkpoint to kill after"
        assert time.monotonic() - start < timeout
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def _weights(out: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(out / "checkpoints" / "last.ckpt")["state_dict"]


def _log(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "logs" / "metrics.csv")


@pytest.mark.slow  # about 45 s per stage on 2 cores: three CLI runs in subprocesses
@pytest.mark.parametrize("stage", list(STAGES))
def test_sigkill_then_resume_equals_uninterrupted_run(stage, tmp_path):
    teacher = write_teacher_ckpt(tmp_path / "teacher.ckpt")
    argv = [a.format(teacher=teacher) for a in STAGES[stage]]
    sub = "seed0" if stage == "finetune" else "."  # dnd finetune runs each seed in its own folder
    _finish(_cli(argv, tmp_path / "whole"))
    proc = _cli(argv, tmp_path / "killed")
    whole, killed = tmp_path / "whole" / sub, tmp_path / "killed" / sub
    _kill_after(proc, killed / "checkpoints" / "epoch1.ckpt")
    assert not (killed / "checkpoints" / "epoch3.ckpt").exists()  # really interrupted
    _finish(_cli([*argv, "--resume"], tmp_path / "killed"))

    a, b = _weights(whole), _weights(killed)
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(b[key], a[key], rtol=1e-5, atol=1e-6, msg=key)
    la, lb = _log(whole), _log(killed)[_log(whole).columns]
    assert not lb.duplicated().any()                                   # no repeated rows
    # every row of the resumed log is a row of the uninterrupted one; the one row that can be
    # missing is the epoch-mean training loss of the epoch whose checkpoint the kill followed
    # (Lightning logs it after saving that checkpoint), never a validation or step row
    merged = la.round(6).merge(lb.round(6), how="outer", indicator=True)
    assert (merged["_merge"] != "right_only").all(), merged
    missing = merged[merged["_merge"] == "left_only"]
    assert len(missing) <= 1 and missing.filter(like="loss_epoch").notna().any(axis=1).all(), missing
    val = [c for c in la.columns if c.startswith("val")]
    pd.testing.assert_frame_equal(lb.dropna(subset=val[:1]).reset_index(drop=True)[val],
                                  la.dropna(subset=val[:1]).reset_index(drop=True)[val], rtol=1e-4, atol=1e-6)
    if stage == "finetune":
        ma = json.loads((whole / "metrics.json").read_text())
        mb = json.loads((killed / "metrics.json").read_text())
        for key in ("valid", "test", "best_epoch"):
            assert mb[key] == pytest.approx(ma[key], rel=1e-5), key


@pytest.mark.slow  # about 45 s on 2 cores
def test_sigkill_mid_epoch_then_resume_equals_uninterrupted_run(tmp_path):
    """Step checkpoints inside an epoch: the resumed run sees the rest of that epoch's order."""
    argv = [*STAGES["denoise"][:-1], "2"]          # --checkpoint-every-n-steps 2: steps 2, 4 are mid-epoch
    _finish(_cli(argv, tmp_path / "whole"))
    proc = _cli(argv, tmp_path / "killed")
    _kill_after(proc, tmp_path / "killed" / "checkpoints" / "step4.ckpt")
    _finish(_cli([*argv, "--resume"], tmp_path / "killed"))
    a, b = _weights(tmp_path / "whole"), _weights(tmp_path / "killed")
    for key in a:
        torch.testing.assert_close(b[key], a[key], rtol=1e-5, atol=1e-6, msg=key)
    la, lb = _log(tmp_path / "whole"), _log(tmp_path / "killed")
    assert not lb.duplicated().any()
    val = la.dropna(subset=["val/loss"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(lb.dropna(subset=["val/loss"]).reset_index(drop=True)[val.columns], val,
                                  rtol=1e-4, atol=1e-6)  # every epoch validated, the interrupted one too


def test_epoch_shuffle_depends_only_on_seed_and_epoch():
    a, b = EpochShuffle(20, seed=3), EpochShuffle(20, seed=3)
    first, second = list(a), list(a)                 # a plain loop moves on to the next epoch
    assert first != second and sorted(first) == list(range(20))
    b.set_epoch(1)                                   # a resumed run jumps straight to epoch 1
    assert list(b) == second
    assert list(EpochShuffle(20, seed=4)) != first
    c = EpochShuffle(20, seed=3)
    c.resume_at(1, 7)                                # a mid-epoch checkpoint of epoch 1, 7 seen
    c.set_epoch(1)
    assert list(c) == second[7:]
    assert list(c) == _epoch(3, 2)                   # the resume position applies to that epoch only


def _epoch(seed: int, epoch: int) -> list[int]:
    s = EpochShuffle(20, seed)
    s.set_epoch(epoch)
    return list(s)


def test_checkpoints_never_touch_tmpdir(tmp_path, monkeypatch):
    """Lightning used to stage checkpoints in $TMPDIR (then copy across filesystems); with a
    TMPDIR that does not exist the run still writes every checkpoint, in its own folder."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no-such-tmpdir"))
    out = tmp_path / "run"
    train_tiny(out, epochs=2)
    names = sorted(p.name for p in (out / "checkpoints").iterdir())
    assert "last.ckpt" in names and "epoch1.ckpt" in names and not [n for n in names if n.endswith(".tmp")]


def test_resume_falls_back_from_a_corrupt_last_checkpoint(tmp_path):
    out = tmp_path / "run"
    train_tiny(out, epochs=2)
    last = out / "checkpoints" / "last.ckpt"
    last.write_bytes(last.read_bytes()[:1000])                        # cut short, as by a kill mid-copy
    messages: list[str] = []
    chosen = resume_path(out, True, log=messages.append)
    assert chosen == str(out / "checkpoints" / "epoch1.ckpt")
    assert "not a readable checkpoint" in messages[0] and "continuing from" in messages[-1]
    assert (out / "checkpoints" / "last.ckpt.corrupt").is_file()
    assert resume_path(out, False) is None


def test_resume_without_any_loadable_checkpoint_says_so(tmp_path):
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "last.ckpt").write_bytes(b"garbage")
    messages: list[str] = []
    assert resume_path(tmp_path, True, log=messages.append) is None
    assert "starting from the beginning" in messages[-1]


def test_orphan_temp_files_of_killed_writers_are_removed(tmp_path):
    target = tmp_path / "blob.pt"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    import socket

    orphan = tmp_path / f"blob.pt.{socket.gethostname()}.{dead.pid}.abc.tmp"
    live = tmp_path / f"blob.pt.{socket.gethostname()}.{os.getpid()}.xyz.tmp"  # a concurrent writer
    orphan.write_bytes(b"half")
    live.write_bytes(b"in progress")
    atomic_save({"x": torch.ones(2)}, target)
    assert not orphan.exists() and live.exists()
    assert torch.equal(torch.load(target, weights_only=True)["x"], torch.ones(2))
