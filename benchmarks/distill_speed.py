"""Distillation throughput: molecules per second of a training step with a live teacher versus
cached teacher features (`dnd distill --cached`), on the same batches, in the same process.

Each step is data loading + student forward/backward + optimiser step; the live mode adds the
frozen teacher's forward pass, the cached mode reads the teacher's features from the memory-mapped
cache instead. The one-off cost of writing the cache is reported too, with the number of epochs
after which caching has paid for itself.

    python benchmarks/distill_speed.py --teacher runs/denoise-cpu-small/checkpoints/last.ckpt \
        --source qm9 --path ../shared/data/qm9/qm9pack_qm9_coords_props.csv.xz --sample 1024
Without --teacher an untrained teacher of --teacher-preset is used (speed does not depend on
the weights).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from dnd.data.loader import make_loader
from dnd.models.registry import encoder_preset
from dnd.models.config import teacher_preset
from dnd.objectives.config import DistillObjective
from dnd.training.config import OptimConfig
from dnd.models.teacher import Teacher, load_teacher
from dnd.data.config import CORPUS_SOURCES, CorpusConfig
from dnd.data.corpus import load_corpus
from dnd.training.distill import DistillModule
from dnd.training.teacher_cache import CachedTeacherDataset, TeacherFeatureCache, write_teacher_cache


def throughput(module: DistillModule, loader, steps: int, warmup: int,
               device: torch.device = torch.device("cpu"), bf16: bool = False) -> float:
    """Molecules per second over `steps` timed training steps (after `warmup` untimed ones);
    a step includes moving the batch to `device`, and ends when the device has finished it."""
    opt = torch.optim.AdamW([p for p in module.parameters() if p.requires_grad], lr=1e-4)
    module.train()
    batches = iter(loader)
    n_mol, elapsed = 0, 0.0
    for i in range(warmup + steps):
        t0 = time.perf_counter()
        try:
            batch = next(batches)
        except StopIteration:
            batches = iter(loader)
            batch = next(batches)
        batch = batch.to(device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            loss = module.compute_loss(batch)["loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if i >= warmup:
            elapsed += time.perf_counter() - t0
            n_mol += batch.num_graphs
    return n_mol / elapsed


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--teacher", help="teacher checkpoint (default: untrained --teacher-preset)")
    p.add_argument("--teacher-preset", default="cpu-small")
    p.add_argument("--encoder", default="tokengt")
    p.add_argument("--preset", default="cpu-small")
    p.add_argument("--variant", choices=("node", "graph"), default="node")
    p.add_argument("--source", choices=CORPUS_SOURCES, default="embedded")
    p.add_argument("--path")
    p.add_argument("--limit", type=int, help="read at most this many molecules (the first ones)")
    p.add_argument("--sample", type=int, default=1024, help="then a seeded random subset of this many")
    p.add_argument("--cache-dir", help="featurized-record cache folder")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--steps", type=int, default=15)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's choice)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--bf16", action="store_true", help="bf16 autocast, as --precision bf16-mixed")
    p.add_argument("--json", help="append the result as one JSON line to this file")
    args = p.parse_args()
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    records = load_corpus(CorpusConfig(args.source, args.path, args.limit, args.sample, 0, cache_dir=args.cache_dir))
    teacher = load_teacher(args.teacher) if args.teacher else Teacher(teacher_preset(args.teacher_preset)).freeze()
    module = DistillModule(args.encoder, encoder_preset(args.encoder, args.preset), teacher.hidden_dim,
                           DistillObjective(args.variant), OptimConfig(), teacher=teacher).to(device)
    live = throughput(module, make_loader(records, args.batch_size, shuffle=True), args.steps, args.warmup,
                      device, args.bf16)

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        cache = write_teacher_cache(teacher, records, Path(tmp) / "cache", device=device, log=lambda m: None)
        build_s = time.perf_counter() - t0
        dataset = CachedTeacherDataset(records, TeacherFeatureCache(cache))
        module.teacher = None  # the cached mode must not touch the 3D model
        cached = throughput(module, make_loader(dataset, args.batch_size, shuffle=True), args.steps, args.warmup,
                            device, args.bf16)

    # epochs after which building the cache has paid for itself
    per_epoch_saving = len(records) / live - len(records) / cached
    result = {"molecules": len(records), "batch_size": args.batch_size, "encoder": f"{args.encoder}/{args.preset}",
              "teacher_dim": teacher.hidden_dim, "teacher_layers": teacher.config.num_layers,
              "variant": args.variant, "threads": torch.get_num_threads(), "device": str(device),
              "bf16": args.bf16,
              "live_mol_per_s": round(live, 1), "cached_mol_per_s": round(cached, 1),
              "speedup": round(cached / live, 2), "cache_build_s": round(build_s, 2),
              "cache_build_mol_per_s": round(len(records) / build_s, 1),
              "break_even_epochs": round(build_s / per_epoch_saving, 2) if per_epoch_saving > 0 else None}
    print(f"live teacher : {live:8.1f} molecules/s")
    print(f"cached       : {cached:8.1f} molecules/s  ({result['speedup']}x)")
    print(f"cache build  : {build_s:8.2f} s for {len(records)} molecules; pays off after "
          f"{result['break_even_epochs']} epochs")
    print(json.dumps(result))
    if args.json:
        with open(args.json, "a") as f:
            f.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
