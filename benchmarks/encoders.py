"""Training throughput of the 2D encoders on real molecules.

For TokenGT and PNA at each preset, times forward + backward (train mode) over batches of real
molecules and reports molecules/s and peak memory, beside a `torch.nn.TransformerEncoder` of the
same width, depth, heads and FFN size run on TokenGT's own padded token sequences (same shapes,
same padding mask): the gap is what tokenisation, identifiers and our attention code cost.
`tokengt-prepared` is TokenGT on records from `TokenGT.prepare` (Laplacian eigenvectors computed
once per molecule, as `dnd finetune` and `dnd predict` run it).

Each configuration runs in a fresh subprocess so that peak memory (CPU: peak RSS growth over the
process's state before the model is built; CUDA: max_memory_allocated) is its own.

    python benchmarks/encoders.py --smiles ESOL_mol.csv.gz --presets cpu-small paper --steps 10
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch import nn

from dnd.data.featurize import FeaturizationError, smiles_to_graph
from dnd.data.loader import make_loader
from dnd.models.registry import build_encoder, encoder_preset
from dnd.models.tokengt import TokenLayout

MODELS = ("tokengt", "tokengt-prepared", "pna", "transformer")


def read_smiles(path: Path, limit: int) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as handle:
        header = handle.readline().rstrip("\n").split(",")
        if "smiles" not in header:
            raise SystemExit(f"{path}: no 'smiles' column in header {header}")
        col = header.index("smiles")
        return [line.rstrip("\n").split(",")[col].strip() for line in handle][:limit]


def graphs(path: Path, limit: int):
    out = []
    for row, smi in enumerate(read_smiles(path, limit), start=2):
        try:
            out.append(smiles_to_graph(smi))
        except FeaturizationError as err:
            print(f"{path}: row {row}: skipped ({err})", file=sys.stderr)
    return out


def peak_bytes(device: torch.device) -> int:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device)
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def run_one(model: str, preset: str, args) -> dict:
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    records = graphs(args.smiles, args.molecules)

    def loader(recs):
        return [b.to(device) for b in make_loader(recs, args.batch_size, shuffle=True, seed=0)]
    if model == "transformer":
        cfg = encoder_preset("tokengt", preset)
        layer = nn.TransformerEncoderLayer(cfg["hidden_dim"], cfg["num_heads"], cfg["ffn_dim"],
                                           dropout=cfg["dropout"], activation="gelu",
                                           batch_first=True, norm_first=True)
        net = nn.TransformerEncoder(layer, cfg["num_layers"], enable_nested_tensor=False).to(device)
        batches = loader(records)
        inputs = []
        for b in batches:
            valid = TokenLayout.of(b).valid
            inputs.append((torch.randn(*valid.shape, cfg["hidden_dim"], device=device), ~valid))
        step = lambda i: net(inputs[i][0], src_key_padding_mask=inputs[i][1]).square().mean()
    else:
        name = model.removesuffix("-prepared")
        net = build_encoder(name, encoder_preset(name, preset), records=records).to(device)
        # -prepared: what dnd finetune does, per-molecule work done once
        batches = loader(net.prepare(records) if model.endswith("-prepared") else records)

        def step(i):
            out = net(batches[i])
            loss = out.node.square().mean()
            return loss + out.graph_token.square().mean() if out.graph_token is not None else loss
    net.train()
    params = sum(p.numel() for p in net.parameters())
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    base = 0 if device.type == "cuda" else peak_bytes(device)
    for i in range(min(args.warmup, len(batches))):
        step(i).backward()
    n_mol, start = 0, time.perf_counter()
    for j in range(args.steps):
        i = j % len(batches)
        net.zero_grad(set_to_none=True)
        step(i).backward()
        n_mol += int(batches[i].num_graphs)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - start
    return dict(model=model, preset=preset, params=params, molecules_per_s=n_mol / seconds,
                peak_mib=(peak_bytes(device) - base) / 2**20, batch_size=args.batch_size,
                steps=args.steps, device=str(device), threads=args.threads)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--smiles", type=Path, required=True, help="CSV(.gz) with a 'smiles' column")
    p.add_argument("--molecules", type=int, default=1024, help="molecules read from the file")
    p.add_argument("--presets", nargs="+", default=["cpu-small", "paper"])
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--steps", type=int, default=10, help="timed forward+backward steps")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu")
    p.add_argument("--one", nargs=2, metavar=("MODEL", "PRESET"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.one:
        print(json.dumps(run_one(*args.one, args)))
        return 0
    passthrough = list(argv if argv is not None else sys.argv[1:])
    print(f"{'model':16s} {'preset':10s} {'params':>9s} {'mol/s':>9s} {'peak MiB':>9s}  device")
    for preset in args.presets:
        for model in args.models:
            proc = subprocess.run([sys.executable, __file__, *passthrough, "--one", model, preset],
                                  capture_output=True, text=True)
            if proc.returncode:
                print(f"{model:16s} {preset:10s} failed: {proc.stderr.strip().splitlines()[-1:]}")
                continue
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            print(f"{model:16s} {preset:10s} {r['params']:9d} {r['molecules_per_s']:9.1f} "
                  f"{r['peak_mib']:9.1f}  {r['device']} x{r['threads']} threads, batch {r['batch_size']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
