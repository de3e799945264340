"""The GPU check (benchmarks/gpu_check.sh, benchmarks/gpu_throughput.py) runs its logic on CPU, so
that the script a GPU session will run once has already run here end to end."""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gpu_throughput = _load("gpu_throughput")


@pytest.mark.parametrize("card, peak", [
    ("NVIDIA H100 80GB HBM3", 989.0), ("NVIDIA H200", 989.0), ("NVIDIA H100 PCIe", 756.0),
    ("NVIDIA A100-SXM4-80GB", 312.0), ("Tesla T4", None), ("", None), (None, None),
])
def test_card_name_gives_its_dense_bf16_peak(card, peak):
    assert gpu_throughput.peak_tflops(card) == peak


def test_throughput_benchmark_runs_on_cpu_and_skips_an_absent_encoder(tmp_path):
    out = tmp_path / "t.jsonl"
    rc = gpu_throughput.main(["--device", "cpu", "--steps", "1", "--warmup", "1",
                              "--models", "teacher:tiny", "tokengt:tiny", "no-such-encoder",
                              "--teacher-batch-size", "4", "--student-batch-size", "8",
                              "--molecules", "32", "--peak-tflops", "1", "--json", str(out)])
    assert rc == 0
    teacher, tokengt, absent = [json.loads(line) for line in out.read_text().splitlines()]
    for r in (teacher, tokengt):
        assert r["status"] == "ok" and r["molecules_per_s"] > 0 and r["flops_per_molecule"] > 0
        assert r["mfu"] == pytest.approx(r["achieved_tflops"] / 1.0)
        assert r["peak_memory_gb"] > 0
    assert teacher["batch_size"] == 4 and tokengt["batch_size"] == 8
    assert teacher["distance_dtype"] == teacher["noise_dtype"] == "torch.float32"
    assert teacher["prediction_dtype"] == "torch.bfloat16"
    assert absent["status"] == "skipped" and "no-such-encoder" in absent["reason"]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("bash") is None or shutil.which("timeout") is None,
                    reason="needs bash and coreutils timeout")
def test_gpu_check_script_runs_to_completion_on_cpu(tmp_path):
    """Tiny models, 2 steps: 2-6 minutes on 2 shared cores. Every step, DDP runs included, must pass."""
    env = dict(os.environ, PYTHON=sys.executable, DEVICE="cpu", STEPS="2",
               MODELS="teacher:tiny tokengt:tiny dmpnn", DISTILL_PRESETS="tiny",
               TIME_SCALE="10")  # the limits are sized for a GPU; a shared CPU is far slower
    out = tmp_path / "check"
    env.pop("PYTHONPATH", None)  # the script puts its own checkout's src/ first
    proc = subprocess.run(["bash", str(REPO / "benchmarks" / "gpu_check.sh"), str(out)],
                          cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=4600)
    summary = (out / "summary.txt").read_text()
    assert proc.returncode == 0, summary
    for name in ("throughput", "denoise", "distill_ddp", "finetune_ddp", "distill_speed"):
        assert f"{name}: ok" in summary, summary
    assert (out / "distill" / "student.ckpt").is_file()
    assert (out / "finetune" / "summary.csv").is_file()
    speed = json.loads((out / "distill_speed.jsonl").read_text().splitlines()[-1])
    assert speed["bf16"] and speed["live_mol_per_s"] > 0 and speed["cached_mol_per_s"] > 0
