"""A teacher-feature cache shared by concurrent runs: runs on different corpora never read each
other's (partial or different) features, and each gets exactly what it would get alone."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from pretrain_helpers import records, write_teacher_ckpt

from dnd.models.checkpoint import load_checkpoint
from dnd.teachers import TeacherSpec, build_teacher
from dnd.teachers.cache import ensure_features

SRC = Path(__file__).resolve().parents[1] / "src"


def _features(cache) -> np.ndarray:
    return np.concatenate([cache.node(i).numpy() for i in range(len(cache))])


def _cache(teacher_path: Path, recs, root: Path):
    teacher = build_teacher(TeacherSpec(str(teacher_path)), batch_size=4)
    return ensure_features(teacher, recs, root, chunk_size=5, log=lambda m: None)


def _worker(args):
    teacher_path, corpus, shared, rounds = args
    torch.set_num_threads(1)
    recs = records()[corpus]
    out = []
    for _ in range(rounds):  # build, then reuse while the other process builds its own
        out.append(_features(_cache(teacher_path, recs, shared)))
    return out


def test_two_processes_on_different_corpora_share_one_cache(tmp_path):
    teacher_path = write_teacher_ckpt(tmp_path / "teacher.ckpt")
    corpora = [slice(0, 12), slice(4, 20)]
    solo = [_features(_cache(teacher_path, records()[c], tmp_path / f"solo{k}")) for k, c in enumerate(corpora)]
    shared = tmp_path / "shared"
    with multiprocessing.get_context("fork").Pool(2) as pool:
        results = pool.map(_worker, [(teacher_path, c, shared, 3) for c in corpora])
    for got, want in zip(results, solo):
        for features in got:
            np.testing.assert_array_equal(features, want)
    folders = sorted(p.name for p in shared.iterdir() if not p.name.startswith("."))
    assert len(folders) == 3 and folders[0] == "chunks"  # the shared chunks, one folder per corpus
    assert not [p for p in shared.iterdir() if p.name.startswith(".")]           # no temp folders left


def test_killed_build_leaves_no_half_cache_and_is_cleaned_up(tmp_path):
    """A build folder of a dead process is neither read as a cache nor left behind."""
    teacher_path = write_teacher_ckpt(tmp_path / "teacher.ckpt")
    recs = records()[:8]
    cache = _cache(teacher_path, recs, tmp_path / "c")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    orphan = cache.path.parent / f".{cache.path.name}.tmp-{dead.pid}"
    orphan.mkdir()
    (orphan / "node.npy").write_bytes(b"half")
    import shutil

    shutil.rmtree(cache.path)
    again = _cache(teacher_path, recs, tmp_path / "c")
    assert not orphan.exists() and again.path == cache.path
    np.testing.assert_array_equal(_features(again), _features(_cache(teacher_path, recs, tmp_path / "other")))


def _distill(teacher: Path, limit: int, out: Path, cache: Path) -> subprocess.Popen:
    env = os.environ | {"PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "dnd.cli", "distill", "--teacher", str(teacher), "--cached",
                             "--feature-cache", str(cache), "--preset", "tiny", "--limit", str(limit),
                             "--batch-size", "16", "--max-epochs", "2", "--no-progress", "--out", str(out)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow  # about 60 s on 2 cores: four distillations in subprocesses
def test_concurrent_distillations_sharing_a_cache_equal_their_solo_runs(tmp_path):
    teacher = write_teacher_ckpt(tmp_path / "teacher.ckpt")
    limits = (40, 56)
    solo = [_distill(teacher, n, tmp_path / f"solo{n}", tmp_path / f"cache{n}") for n in limits]
    for p in solo:
        assert p.wait(600) == 0, p.stderr.read()[-2000:]
    together = [_distill(teacher, n, tmp_path / f"shared{n}", tmp_path / "shared-cache") for n in limits]
    for p in together:
        assert p.wait(600) == 0, p.stderr.read()[-2000:]
    for n in limits:
        a = load_checkpoint(tmp_path / f"solo{n}" / "student.ckpt")["state_dict"]
        b = load_checkpoint(tmp_path / f"shared{n}" / "student.ckpt")["state_dict"]
        for key in a:
            torch.testing.assert_close(b[key], a[key], rtol=0, atol=0, msg=key)
