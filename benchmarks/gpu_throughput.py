"""Training throughput at bf16 of the teacher and the 2D students, with peak memory and model
FLOP utilisation (MFU), on one device. Called by `benchmarks/gpu_check.sh`; runs on CPU too
(`--device cpu --steps 2`), which is how its logic is tested without a GPU.

    python benchmarks/gpu_throughput.py --device cuda --card "$(nvidia-smi --query-gpu=name \
        --format=csv,noheader | head -1)" --models teacher:paper tokengt:paper dmpnn:paper

Each model trains for `--warmup` + `--steps` steps on pre-collated batches of the embedded QM9
subset already on the device (so data loading is excluded), under
`torch.autocast(device, bfloat16)`, which is what Lightning's `--precision bf16-mixed` does:
- teacher: the denoising step of `dnd denoise` (TorchMD_ET + noise head, fresh noise per step);
- students (any encoder in `dnd.models.registry`): encoder -> mean pool -> linear head, MSE on a
  QM9 property, i.e. the shape of a finetuning step; the same for every encoder, so they compare.
molecules/s is over the timed steps (the device synchronised before reading the clock). Model
FLOPs are those `torch.utils.flop_counter` counts for one training step (matrix products and
attention, forward and backward) over the same batches, outside the timing; MFU = FLOPs/s over
the card's dense bf16 peak (`PEAK_BF16_TFLOPS`, matched in the card name, or `--peak-tflops`).
An encoder the registry does not have is reported as
skipped; a model that fails is reported with its error and makes the exit status 1.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import sys
import time
import traceback

import torch
from torch.utils.flop_counter import FlopCounterMode
from torch_geometric.nn import global_mean_pool

from dnd.data.embedded import qm9_paired, qm9_property_columns
from dnd.data.loader import make_loader
from dnd.models.registry import ENCODERS, PRESETS, build_encoder, encoder_preset
from dnd.models.teacher import NoiseHead, Teacher
from dnd.models.config import teacher_preset
from dnd.objectives.denoise import denoising_step

# Dense (no sparsity) bf16 tensor-core peaks from the vendors' data sheets, TFLOP/s.
PEAK_BF16_TFLOPS = {"H200": 989.0, "H100 SXM": 989.0, "H100 80GB HBM3": 989.0,
                    "H100 PCIe": 756.0, "H100 NVL": 835.0, "A100": 312.0}


def peak_tflops(card: str | None) -> float | None:
    """Dense bf16 peak of the first `PEAK_BF16_TFLOPS` key found in `card` (longest first)."""
    if not card:
        return None
    for key in sorted(PEAK_BF16_TFLOPS, key=len, reverse=True):
        if key in card:
            return PEAK_BF16_TFLOPS[key]
    return None


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def teacher_step(preset: str, device: torch.device, seen: dict):
    """(step(batch) -> loss, parameters) for the denoising objective of teacher `preset`; fills
    `seen` with the dtypes of the distances and noise (float32 under bf16: tests/test_bf16.py
    checks it on CPU, this on the device)."""
    teacher = Teacher(teacher_preset(preset)).to(device)
    head = NoiseHead(teacher.hidden_dim).to(device)
    gen = torch.Generator(device=device).manual_seed(0)
    teacher.net.distance.register_forward_hook(
        lambda m, args, out: seen.update(distance_dtype=str(out[1].dtype)))

    def step(batch):
        loss, pred, eps = denoising_step(teacher, head, batch, 0.04, gen)
        seen.update(noise_dtype=str(eps.dtype), prediction_dtype=str(pred.dtype))
        return loss

    return step, [*teacher.parameters(), *head.parameters()]


def student_step(name: str, preset: str, records, device: torch.device):
    """(step(batch) -> loss, parameters): encoder, mean pool, linear head, MSE on the gap."""
    encoder = build_encoder(name, encoder_preset(name, preset), records).to(device)
    head = torch.nn.Linear(encoder.hidden_dim, 1).to(device)
    target = qm9_property_columns().index("HOMO_LUMO_gap_au")

    def step(batch):
        pooled = global_mean_pool(encoder.encode(batch), batch.batch, batch.num_graphs)
        y = batch.y[:, target:target + 1]
        return torch.nn.functional.mse_loss(head(pooled).float(), (y - 0.25) * 20)

    return step, [*encoder.parameters(), *head.parameters()]


def measure(step, params, batches, device: torch.device, warmup: int) -> dict:
    opt = torch.optim.AdamW([p for p in params if p.requires_grad], lr=1e-4)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16)

    def train_step(batch):
        with autocast:
            loss = step(batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    for batch in batches[:warmup]:
        train_step(batch)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    timed = batches[warmup:]
    sync(device)
    start = time.perf_counter()
    for batch in timed:
        loss = train_step(batch)
    sync(device)
    seconds = time.perf_counter() - start
    counter = FlopCounterMode(display=False)
    with counter:
        for batch in timed:
            train_step(batch)
    mols = sum(b.num_graphs for b in timed)
    peak = (torch.cuda.max_memory_allocated(device) if device.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    return {"molecules_per_s": mols / seconds, "step_ms": 1e3 * seconds / len(timed),
            "flops_per_molecule": counter.get_total_flops() / mols,
            "achieved_tflops": counter.get_total_flops() / seconds / 1e12,
            "peak_memory_gb": peak / 1e9,
            "peak_memory_kind": "max CUDA allocated" if device.type == "cuda" else "process max RSS",
            "final_loss": float(loss.detach())}


def run_model(spec: str, records, args, device: torch.device) -> dict:
    kind, _, preset = spec.partition(":")
    if not preset:  # "paper" where the encoder has it, else its first preset
        preset = "paper" if kind == "teacher" or "paper" in PRESETS.get(kind, {"paper": 0}) \
            else next(iter(PRESETS[kind]))
    result = {"model": kind, "preset": preset, "device": str(device), "card": args.card}
    seen: dict = {}
    if kind == "teacher":
        step, params = teacher_step(preset, device, seen)
        batch_size = args.teacher_batch_size
    elif kind not in ENCODERS:
        return result | {"status": "skipped", "reason": f"encoder {kind!r} is not in this build's "
                                                        f"registry ({', '.join(sorted(ENCODERS))})"}
    elif preset not in PRESETS[kind]:
        return result | {"status": "skipped", "reason": f"{kind} has no preset {preset!r} "
                                                        f"({', '.join(PRESETS[kind])})"}
    else:
        step, params = student_step(kind, preset, records, device)
        batch_size = args.student_batch_size
    loader = make_loader(records, batch_size, shuffle=True, seed=0, drop_last=True)
    batches = [b.to(device) for b, _ in zip(loader, range(args.warmup + args.steps))]
    if len(batches) < args.warmup + args.steps:
        raise SystemExit(f"only {len(batches)} batches of {batch_size}: lower --steps")
    result |= {"batch_size": batch_size, "steps": args.steps, "status": "ok",
               "parameters": sum(p.numel() for p in params)}
    result |= measure(step, params, batches, device, args.warmup) | seen
    peak = args.peak_tflops or peak_tflops(args.card)
    result["mfu"] = result["achieved_tflops"] / peak if peak else None
    result["peak_bf16_tflops"] = peak
    return result


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["teacher:paper", "tokengt:paper", "dmpnn"],
                   help="teacher[:PRESET] or ENCODER[:PRESET] (default preset: paper, else the first)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--card", help="GPU name (nvidia-smi), for the bf16 peak")
    p.add_argument("--peak-tflops", type=float, help="dense bf16 peak, overrides the card table")
    p.add_argument("--steps", type=int, default=30, help="timed steps per model")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--teacher-batch-size", type=int, default=70, help="the paper's (Table 5a)")
    p.add_argument("--student-batch-size", type=int, default=256)
    p.add_argument("--molecules", type=int, default=3000, help="of the embedded QM9 subset")
    p.add_argument("--json", help="append one JSON line per model to this file")
    args = p.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not args.card:  # gpu_check.sh passes "" without nvidia-smi
        args.card = torch.cuda.get_device_name(device)
    records = qm9_paired(args.molecules)
    failed = False
    for spec in args.models:
        try:
            result = run_model(spec, records, args, device)
        except Exception as e:  # noqa: BLE001 - report it and go on to the next model
            traceback.print_exc()
            result = {"model": spec, "status": "failed", "error": f"{type(e).__name__}: {e}"}
            failed = True
        if "distance_dtype" in result:
            print(f"{spec}: under bf16 autocast distances are {result['distance_dtype']}, noise "
                  f"{result['noise_dtype']}, predicted noise {result['prediction_dtype']}")
        if result["status"] == "ok":
            mfu = f"{100 * result['mfu']:.1f}%" if result["mfu"] is not None else "n/a (no peak)"
            print(f"{spec:16s} {result['molecules_per_s']:9.1f} mol/s  batch {result['batch_size']:4d}  "
                  f"{result['step_ms']:8.1f} ms/step  peak {result['peak_memory_gb']:.2f} GB "
                  f"({result['peak_memory_kind']})  {result['flops_per_molecule'] / 1e9:.2f} GFLOP/mol  "
                  f"{result['achieved_tflops']:.3f} TFLOP/s  MFU {mfu}")
        else:
            print(f"{spec:16s} {result['status']}: {result.get('reason') or result.get('error')}")
        if args.json:
            with open(args.json, "a") as f:
                f.write(json.dumps(result) + "\n")
        if device.type == "cuda":
            torch.cuda.empty_cache()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
