"""Training speed of the D-MPNN in dnd's loops against chemprop's own loop, in one process.

Same model (chemprop's BondMessagePassing, defaults), same molecules, same batch size, same number
of epochs, one thread, validation every epoch in both. chemprop's dataset is featurized once up
front (`dataset.cache = True`, what its CLI does by default), as dnd's records are. Runs alternate
(chemprop, dnd, chemprop, dnd, ...) so a change in machine load hits both; the ratio of their
molecules/s is the result.

`--mode finetune` (default): dnd's `run_finetune` on a task's OGB training and validation splits
(ESOL), against chemprop training on the same splits. dnd's time also includes what
`run_finetune` does beyond fitting (checkpoints every epoch, reloading the best one, scoring valid
and test), so the ratio is conservative for dnd.

`--mode distill`: dnd's `run_distill` (D&D-NODE, `--cached` teacher features, the cache built once
before timing) on a paired corpus (`--records`, default the embedded QM9 molecules), against
chemprop training the same model on the same training/validation molecules with one regression
target per molecule (its heavy-atom count: chemprop cannot distill, so this times its loop, not a
task). dnd's time includes writing its checkpoints and student.ckpt.

    python benchmarks/dmpnn_speed.py --data-root ../shared/data --epochs 5 --repeats 2
    python benchmarks/dmpnn_speed.py --mode distill --records data-work/moses-60k/records-first-8.pt \
        --limit 2000 --batch-size 64 --epochs 3 --repeats 2
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


def distill_setup(records_path: str | None, limit: int, batch_size: int, work: Path):
    """(molecules, dnd_distill_fit): the training/validation molecules of a D&D-NODE run in the
    shape `chemprop_fit` reads (target: heavy-atom count), and a timed `run_distill` on them. The
    teacher-feature cache is built once here, outside the timing. The seed stays 0 in every
    repeat: it also picks the validation molecules, and another split would rebuild the cache
    inside the timed run."""
    from types import SimpleNamespace

    from dnd.data.config import CorpusConfig
    from dnd.data.corpus import load_corpus, split_records
    from dnd.training.config import DistillRunConfig, StudentSpec, TrainerConfig
    from dnd.training.distill import run_distill
    corpus = CorpusConfig(source="records", path=records_path, limit=limit) if records_path else \
        CorpusConfig(source="embedded", limit=limit)
    records = load_corpus(corpus)
    teacher = "dnd:teacher-druglike"

    def config(epochs: int) -> DistillRunConfig:
        return DistillRunConfig(student=StudentSpec(encoder="dmpnn", preset="chemprop"), cached=True,
                                feature_cache=str(work / "features"), batch_size=batch_size,
                                trainer=TrainerConfig(max_epochs=epochs, seed=0, progress=False,
                                                      accelerator="cpu", checkpoint_every_n_steps=0))

    def dnd_distill_fit(_molecules, _batch_size: int, epochs: int, repeat: int) -> float:
        start = time.perf_counter()
        run_distill(config(epochs), records, teacher, work / f"run{repeat}")
        return time.perf_counter() - start

    run_distill(config(1), records, teacher, work / "warm")            # builds the feature cache
    train, valid = split_records(records, config(1).val_fraction, 0)
    as_task = [[SimpleNamespace(smiles=r.smiles, y=torch.tensor([float(r.num_nodes)])) for r in part]
               for part in (train, valid)]
    return SimpleNamespace(train=as_task[0], valid=as_task[1]), dnd_distill_fit


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", choices=("finetune", "distill"), default="finetune")
    ap.add_argument("--data-root", help="finetune: folder with the OGB layouts")
    ap.add_argument("--task", default="ogbg-molesol")
    ap.add_argument("--records", help="distill: paired records .pt (default: embedded QM9)")
    ap.add_argument("--limit", type=int, default=2000, help="distill: first N molecules")
    ap.add_argument("--batch-size", type=int, default=50)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp:
        if args.mode == "finetune":
            from dnd.data.tasks import load_task
            if not args.data_root:
                ap.error("--mode finetune needs --data-root")
            task = load_task(args.task, root=args.data_root)
            what, ours = args.task, dnd_fit
        else:
            task, ours = distill_setup(args.records, args.limit, args.batch_size, Path(tmp))
            what = f"distill D&D-NODE on {args.records or 'embedded QM9'}"
        n = (len(task.train) + len(task.valid)) * args.epochs
        rows = []
        for r in range(args.repeats):
            for name, fit in (("chemprop", chemprop_fit), ("dnd", ours)):
                seconds = fit(task, args.batch_size, args.epochs, r)
                rows.append((name, seconds))
                print(f"repeat {r}: {name:8s} {seconds:6.1f} s, {n / seconds:6.0f} molecules/s", flush=True)
    mean = {k: sum(s for name, s in rows if name == k) / args.repeats for k in ("chemprop", "dnd")}
    print(f"\n{what}: {len(task.train)} train + {len(task.valid)} valid molecules x {args.epochs} epochs, "
          f"batch {args.batch_size}, 1 thread")
    print(f"chemprop loop {n / mean['chemprop']:.0f} molecules/s, dnd loop {n / mean['dnd']:.0f} molecules/s, "
          f"ratio dnd/chemprop = {mean['chemprop'] / mean['dnd']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
