"""Distillation throughput: molecules per second of a training step with a live teacher versus
cached teacher features, on the same batches, in the same process.

Each step is data loading + student forward/backward + optimiser step. For a denoiser (a
checkpoint, or without --teacher an untrained --teacher-preset network: speed does not depend on
the weights) the live mode adds the frozen teacher's forward pass and is the reference the
cached mode is compared with; the one-off cost of filling the cache is reported too, with the
number of epochs after which caching has paid for itself. ANI-2x and xTB are always distilled
from their cache (`--teacher ani2x|xtb`; point --feature-cache at the folder of an earlier
`dnd teacher-features` run to time reading, not computing, them): their reference is the
denoiser's cached step, the same student and batches in the same process.

    python benchmarks/distill_speed.py --teacher runs/denoise-cpu-small/checkpoints/last.ckpt \
        --source qm9 --path ../shared/data/qm9/qm9pack_qm9_coords_props.csv.xz --sample 1024
    python benchmarks/distill_speed.py --teacher xtb --encoder dmpnn --preset chemprop --variant node+graph \
        --source sdf --path ../shared/data/moses-conformers/moses-conformers-0.sdf.gz --limit 12000 \
        --feature-cache runs/teacher-features
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

import torch

from dnd.data.config import CORPUS_SOURCES, CorpusConfig
from dnd.data.corpus import load_corpus
from dnd.data.loader import make_loader
from dnd.models.config import teacher_preset
from dnd.models.registry import encoder_preset
from dnd.objectives.config import VARIANTS, DistillObjective
from dnd.teachers import NAMED_TEACHERS, TeacherSpec, build_teacher
from dnd.teachers.cache import TargetNorm, ensure_features
from dnd.training.config import OptimConfig
from dnd.training.denoise import DenoiseModule
from dnd.training.distill import DistillModule, FeatureDataset


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


def cached_throughput(teacher, records, args, device, root: Path) -> tuple[float, float, int]:
    """(molecules/s of cached distillation steps, seconds to fill the cache, molecules the
    teacher could treat) for `teacher`, its features under `root`."""
    t0 = time.perf_counter()
    cache = ensure_features(teacher, records, root, log=lambda m: None)
    build_s = time.perf_counter() - t0
    ok = [i for i in range(len(records)) if cache.ok[i]]
    norm = TargetNorm(teacher.default_norm, cache, records, ok)
    module = DistillModule(args.encoder, encoder_preset(args.encoder, args.preset), cache.dim,
                           DistillObjective(args.variant), OptimConfig(), mol_dim=cache.mol_dim).to(device)
    loader = make_loader(FeatureDataset(records, cache, ok, norm), args.batch_size, shuffle=True)
    return throughput(module, loader, args.steps, args.warmup, device, args.bf16), build_s, len(ok)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--teacher", help="denoise checkpoint, ani2x or xtb (default: untrained --teacher-preset)")
    p.add_argument("--teacher-preset", default="cpu-small")
    p.add_argument("--ani2x-dir", help="ANI-2x parameter folder (default TORCHANI_DATA_DIR)")
    p.add_argument("--feature-cache", help="ani2x/xtb: feature cache folder to reuse (default: a temporary one)")
    p.add_argument("--encoder", default="tokengt")
    p.add_argument("--preset", default="cpu-small")
    p.add_argument("--variant", choices=VARIANTS, default="node")
    p.add_argument("--source", choices=CORPUS_SOURCES, default="embedded")
    p.add_argument("--path")
    p.add_argument("--limit", type=int, help="read at most this many molecules (the first ones)")
    p.add_argument("--sample", type=int, help="then a seeded random subset of this many")
    p.add_argument("--reference-size", type=int, default=512,
                   help="molecules (the first ones) the denoiser reference runs on (throughput does not depend on it)")
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
    named = args.teacher in NAMED_TEACHERS
    with tempfile.TemporaryDirectory() as tmp:
        # the reference: a denoiser, live, then from its cache (an untrained one beside ani2x/xtb)
        ckpt = args.teacher if args.teacher and not named else None
        if ckpt is None:
            ckpt = Path(tmp) / "untrained.ckpt"  # in the format `dnd denoise` writes
            untrained = DenoiseModule(teacher=teacher_preset(args.teacher_preset), optim=OptimConfig())
            torch.save({"state_dict": untrained.state_dict(), "hyper_parameters": dict(untrained.hparams)}, ckpt)
        denoiser = build_teacher(TeacherSpec(str(ckpt)), device=str(device))
        reference = records[:args.reference_size]
        net = denoiser.network()
        module = DistillModule(args.encoder, encoder_preset(args.encoder, args.preset), net.hidden_dim,
                               DistillObjective("node" if args.variant != "graph" else "graph"), OptimConfig(),
                               teacher=net).to(device)
        live = throughput(module, make_loader(reference, args.batch_size, shuffle=True), args.steps, args.warmup,
                          device, args.bf16)
        cached, build_s, _ = cached_throughput(denoiser, reference, args, device, Path(tmp) / "denoiser")
        result = {"molecules": len(records), "reference_molecules": len(reference), "batch_size": args.batch_size, "encoder": f"{args.encoder}/{args.preset}",
                  "denoiser_dim": net.hidden_dim, "denoiser_layers": net.config.num_layers,
                  "variant": args.variant, "threads": torch.get_num_threads(), "device": str(device),
                  "bf16": args.bf16, "live_mol_per_s": round(live, 1), "cached_mol_per_s": round(cached, 1),
                  "speedup": round(cached / live, 2), "cache_build_s": round(build_s, 2),
                  "cache_build_mol_per_s": round(len(reference) / build_s, 1)}
        per_epoch_saving = len(reference) / live - len(reference) / cached
        result["break_even_epochs"] = round(build_s / per_epoch_saving, 2) if per_epoch_saving > 0 else None
        print(f"denoiser live   : {live:8.1f} molecules/s")
        print(f"denoiser cached : {cached:8.1f} molecules/s  ({result['speedup']}x live)")
        print(f"cache build     : {build_s:8.2f} s for {len(reference)} molecules; pays off after "
              f"{result['break_even_epochs']} epochs")
        if named:
            teacher = build_teacher(TeacherSpec(args.teacher), args.ani2x_dir)
            root = Path(args.feature_cache) if args.feature_cache else Path(tmp) / "features"
            rate, build_s, n_ok = cached_throughput(teacher, records, args, device, root)
            result |= {"teacher": args.teacher, "teacher_dim": teacher.atom_dim, "teacher_mol_dim": teacher.mol_dim,
                       "teacher_mol_per_s": round(rate, 1), "teacher_vs_denoiser_cached": round(rate / cached, 2),
                       "teacher_features_s": round(build_s, 2), "teacher_molecules": n_ok}
            print(f"{args.teacher} cached  : {rate:8.1f} molecules/s  ({result['teacher_vs_denoiser_cached']}x the "
                  f"denoiser's cached step; features {'read' if args.feature_cache else 'computed'} in {build_s:.1f} s)")
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(f"peak memory     : {result['peak_rss_mb']} MB (resident, whole process)")
    print(json.dumps(result))
    if args.json:
        with open(args.json, "a") as f:
            f.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
