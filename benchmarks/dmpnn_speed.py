"""Training speed of the D-MPNN in dnd's loop against chemprop's own loop, in one process.

Same model (chemprop's BondMessagePassing, defaults), same data (ESOL's OGB training and
validation splits), same batch size, same number of epochs, one thread, validation every epoch
in both. chemprop's dataset is featurized once up front (`dataset.cache = True`, what its CLI
does by default), as dnd's records are. Runs alternate (chemprop, dnd, chemprop, dnd, ...) so a
change in machine load hits both; the ratio of their molecules/s is the result. dnd's time also
includes what `run_finetune` does beyond fitting (checkpoints every epoch, reloading the best one,
scoring valid and test), so the ratio is conservative for dnd.

    python benchmarks/dmpnn_speed.py --data-root ../shared/data --epochs 5 --repeats 2
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
import warnings
from pathlib import Path

import torch


def chemprop_fit(task, batch_size: int, epochs: int, seed: int) -> float:
    import lightning as L
    from chemprop import data, featurizers, models, nn

    def dataset(records):
        points = [data.MoleculeDatapoint.from_smi(r.smiles, r.y.view(-1).numpy()) for r in records]
        ds = data.MoleculeDataset(points, featurizers.SimpleMoleculeMolGraphFeaturizer(
            atom_featurizer=featurizers.MultiHotAtomFeaturizer.v2()))
        ds.cache = True
        return ds

    L.seed_everything(seed, verbose=False)
    train, val = dataset(task.train), dataset(task.valid)
    scaler = train.normalize_targets()
    val.normalize_targets(scaler)
    model = models.MPNN(nn.BondMessagePassing(), nn.NormAggregation(),
                        nn.RegressionFFN(output_transform=nn.UnscaleTransform.from_standard_scaler(scaler)))
    trainer = L.Trainer(max_epochs=epochs, accelerator="cpu", devices=1, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    start = time.perf_counter()
    trainer.fit(model, data.build_dataloader(train, batch_size=batch_size, num_workers=0, seed=seed),
                data.build_dataloader(val, batch_size=batch_size, num_workers=0, shuffle=False))
    return time.perf_counter() - start


def dnd_fit(task, batch_size: int, epochs: int, seed: int) -> float:
    from dnd.training.config import FinetuneConfig, TrainerConfig
    from dnd.training.finetune import run_finetune
    cfg = FinetuneConfig(encoder="dmpnn", preset="chemprop", readout="norm", batch_size=batch_size,
                         lr=1e-3, warmup_epochs=1,
                         trainer=TrainerConfig(max_epochs=epochs, seed=seed, progress=False,
                                               accelerator="cpu"))
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        run_finetune(cfg, task, Path(out))
        return time.perf_counter() - start


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", required=True)
    ap.add_argument("--task", default="ogbg-molesol")
    ap.add_argument("--batch-size", type=int, default=50)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)
    from dnd.data.tasks import load_task
    task = load_task(args.task, root=args.data_root)
    n = (len(task.train) + len(task.valid)) * args.epochs
    rows = []
    for r in range(args.repeats):
        for name, fit in (("chemprop", chemprop_fit), ("dnd", dnd_fit)):
            seconds = fit(task, args.batch_size, args.epochs, r)
            rows.append((name, seconds))
            print(f"repeat {r}: {name:8s} {seconds:6.1f} s, {n / seconds:6.0f} molecules/s", flush=True)
    mean = {k: sum(s for name, s in rows if name == k) / args.repeats for k in ("chemprop", "dnd")}
    print(f"\n{args.task}: {len(task.train)} train + {len(task.valid)} valid molecules x {args.epochs} epochs, "
          f"batch {args.batch_size}, 1 thread")
    print(f"chemprop loop {n / mean['chemprop']:.0f} molecules/s, dnd loop {n / mean['dnd']:.0f} molecules/s, "
          f"ratio dnd/chemprop = {mean['chemprop'] / mean['dnd']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
