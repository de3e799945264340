"""Throughput of one denoising training step: our Lightning `DenoiseModule` versus a bare
`TorchMD_ET` forward + backward (+ a linear vector head and AdamW) on the same batches, in the
same process. Prints molecules/s for both and the ratio; the target is at most 10% overhead.

Both sides get identical pre-collated batches, so data loading is excluded from both. Ours is
timed through `lightning.Trainer.fit` (logging, schedulers and callbacks included), as a user runs
it. The two are run alternately, `--repeats` times each, and the median step time is reported,
which keeps a shared machine's load swings from favouring one side.

    python benchmarks/denoise_speed.py --source qm9 --path QM9.csv.xz --sample 2000 --preset cpu-small
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import lightning as L
import torch
from torchmdnet.models.torchmd_et import TorchMD_ET

from dnd.data.loader import make_loader
from dnd.data.config import CORPUS_SOURCES, CorpusConfig
from dnd.data.corpus import load_corpus
from dnd.models.config import TEACHER_PRESETS, TeacherConfig
from dnd.training.config import OptimConfig, denoise_preset
from dnd.training.denoise import DenoiseModule


class _Batches:
    """A fixed list of batches that Lightning iterates like a DataLoader."""

    def __init__(self, batches):
        self.batches = batches

    def __iter__(self):
        return iter(self.batches)

    def __len__(self):
        return len(self.batches)


class _StepTimer(L.Callback):
    def __init__(self):
        self.starts: list[float] = []

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        self.starts.append(time.perf_counter())

    def on_train_end(self, trainer, module):
        self.starts.append(time.perf_counter())


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_ours(batches, teacher: TeacherConfig, device: str, seed: int) -> list[float]:
    torch.manual_seed(seed)
    module = DenoiseModule(teacher=teacher, optim=OptimConfig(lr=1e-4), seed=seed)
    timer = _StepTimer()
    with tempfile.TemporaryDirectory() as tmp:
        trainer = L.Trainer(default_root_dir=tmp, max_epochs=1, accelerator="gpu" if device.startswith("cuda") else "cpu",
                            devices=1, logger=L.pytorch.loggers.CSVLogger(tmp), callbacks=[timer],
                            enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                            log_every_n_steps=10)
        trainer.fit(module, _Batches(batches))
    _sync(device)
    return [b - a for a, b in zip(timer.starts, timer.starts[1:])]


def time_bare(batches, c: TeacherConfig, device: str, seed: int, sigma: float = 0.04) -> list[float]:
    torch.manual_seed(seed)
    net = TorchMD_ET(hidden_channels=c.hidden_channels, num_layers=c.num_layers, num_rbf=c.num_rbf,
                     rbf_type=c.rbf_type, trainable_rbf=c.trainable_rbf, activation=c.activation,
                     attn_activation=c.attn_activation, neighbor_embedding=c.neighbor_embedding,
                     num_heads=c.num_heads, distance_influence=c.distance_influence,
                     cutoff_lower=c.cutoff_lower, cutoff_upper=c.cutoff_upper, max_z=c.max_z,
                     max_num_neighbors=c.max_num_neighbors).to(device)
    head = torch.nn.Linear(c.hidden_channels, 1, bias=False).to(device)
    opt = torch.optim.AdamW([*net.parameters(), *head.parameters()], lr=1e-4)
    times = []
    for batch in batches:
        start = time.perf_counter()
        batch = batch.to(device)
        eps = torch.randn_like(batch.pos)
        _, vec, *_ = net(batch.z, batch.pos + sigma * eps, batch.z_batch)
        loss = torch.mean((head(vec).squeeze(-1) - eps) ** 2)
        opt.zero_grad()
        loss.backward()
        opt.step()
        loss.item()  # like Lightning's logging, wait for the step to finish
        _sync(device)
        times.append(time.perf_counter() - start)
    return times


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--source", default="qm9", choices=CORPUS_SOURCES)
    p.add_argument("--path", help="data file (e.g. the qm9pack CSV)")
    p.add_argument("--limit", type=int, help="read at most this many molecules")
    p.add_argument("--sample", type=int, default=2000, help="random subset of this many (seeded)")
    p.add_argument("--cache-dir")
    p.add_argument("--preset", default="cpu-small", choices=tuple(TEACHER_PRESETS))
    p.add_argument("--batch-size", type=int, help="default: the preset's")
    p.add_argument("--steps", type=int, default=20, help="timed steps per run")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps at the start of each run")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = p.parse_args(argv)

    torch.set_num_threads(args.threads)
    cfg = denoise_preset(args.preset)
    batch_size = args.batch_size or cfg.batch_size
    records = load_corpus(CorpusConfig(args.source, args.path, args.limit, args.sample, 0, cache_dir=args.cache_dir))
    loader = make_loader(records, batch_size, shuffle=True, seed=0, drop_last=True)
    batches = [b for b, _ in zip(loader, range(args.warmup + args.steps))]
    if len(batches) < args.warmup + args.steps:
        raise SystemExit(f"only {len(batches)} batches of {batch_size}; lower --steps or give more molecules")
    if args.device.startswith("cuda"):
        batches = [b.to(args.device) for b in batches]
    mols = sum(b.num_graphs for b in batches[args.warmup:])
    atoms = sum(b.z.numel() for b in batches[args.warmup:]) / mols

    ours, bare = [], []
    for r in range(args.repeats):
        bare.append(sum(time_bare(batches, cfg.teacher, args.device, r)[args.warmup:]))
        ours.append(sum(time_ours(batches, cfg.teacher, args.device, r)[args.warmup:]))
    t_ours, t_bare = statistics.median(ours), statistics.median(bare)
    print(f"device {args.device} ({args.threads} threads), preset {args.preset}: {cfg.teacher}")
    print(f"batches of {batch_size}, {args.steps} timed steps x {args.repeats} repeats, {atoms:.1f} atoms/molecule")
    print(f"bare TorchMD_ET + linear head : {mols / t_bare:8.1f} molecules/s  (runs: {[round(mols / t, 1) for t in bare]})")
    print(f"dnd DenoiseModule (Lightning) : {mols / t_ours:8.1f} molecules/s  (runs: {[round(mols / t, 1) for t in ours]})")
    print(f"ratio ours/bare throughput    : {t_bare / t_ours:.3f}  (overhead {100 * (t_ours / t_bare - 1):+.1f}%)")


if __name__ == "__main__":
    main()
