"""`dnd finetune`: finetune a pretrained or random 2D encoder on a property task
(`dnd.training.finetune`), one run per readout and seed, then a mean ± std table."""

from __future__ import annotations

import argparse
from pathlib import Path

from dnd.cli.common import (add_task_option_arguments, add_trainer_arguments, check_run_options, deprecated_alias,
                            json_argument, task_options, trainer_config_from_args)
from dnd.models.config import READOUTS, HeadConfig
from dnd.models.registry import ENCODERS
from dnd.training.config import FinetuneConfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = FinetuneConfig()
    g = parser.add_argument_group("task")
    g.add_argument("--task", required=True, help="OGB name (ogbg-molesol), curated (bp, mp, ri, logp), qm9-<target> or a CSV")
    g.add_argument("--data-root", default=None, help="folder with the task's data (OGB layout, CSVs)")
    g.add_argument("--split-seed", type=int, default=0, help="seed of random splits (curated sets, CSVs)")
    g.add_argument("--cache-dir", default=None, help="folder to cache the featurized task in")
    deprecated_alias(g, "--task-cache", "--cache-dir", "cache_dir")
    add_task_option_arguments(g)
    g.add_argument("--train-fraction", type=float, default=d.train_fraction,
                   help="finetune on a seeded random fraction of the training split (valid/test untouched)")
    g.add_argument("--max-train", type=int, default=None,
                   help="cap on training molecules after --train-fraction (CPU-scale runs)")
    g.add_argument("--raw-targets", action="store_true",
                   help="regression: L1 on raw labels instead of train-standardised ones")
    g = parser.add_argument_group("model")
    g.add_argument("--init", default=None, help="student checkpoint (distill/infomax); omit for RandInit")
    g.add_argument("--encoder", default=d.encoder, help=f"RandInit encoder: {', '.join(sorted(ENCODERS))}")
    g.add_argument("--preset", default=d.preset, help="RandInit encoder preset: paper, cpu-small, tiny")
    g.add_argument("--encoder-config", type=json_argument, default={},
                   help='RandInit: JSON overrides of the preset, as the students\' (e.g. \'{"num_layers": 6}\')')
    g.add_argument("--readout", nargs="+", default=[d.readout], choices=READOUTS,
                   help="readout(s): mp (mean), vn (virtual node), norm (chemprop's sum/100), mmms "
                   "(min/max/mean/sum, 3DInfomax's PNA readout); several give one run set each")
    g.add_argument("--method", default=None, help="label in the result tables (default: RandInit or the --init run name)")
    g.add_argument("--head-hidden", type=int, default=d.head.hidden_dim, help="head hidden size (0: the readout's width)")
    g.add_argument("--head-layers", type=int, default=d.head.num_layers)
    g.add_argument("--head-dropout", type=float, default=d.head.dropout)
    g = parser.add_argument_group("optimisation (paper Table 5c)")
    g.add_argument("--lr", type=float, default=d.lr)
    g.add_argument("--weight-decay", type=float, default=d.weight_decay)
    g.add_argument("--layer-decay", type=float, default=d.layer_decay, help="lr multiplier per encoder layer below the head")
    g.add_argument("--warmup-epochs", type=float, default=d.warmup_epochs)
    g.add_argument("--min-lr-ratio", type=float, default=d.min_lr_ratio)
    g.add_argument("--batch-size", type=int, default=d.batch_size)
    g.add_argument("--num-workers", type=int, default=d.num_workers)
    g.add_argument("--seeds", type=int, nargs="+", default=None, help="one run per seed, then a mean ± std table")
    g.add_argument("--out", required=True, help="output folder")
    add_trainer_arguments(parser, max_epochs=d.trainer.max_epochs, checkpoint_every_n_steps=0)


def config_from_args(args: argparse.Namespace, readout: str) -> FinetuneConfig:
    return FinetuneConfig(
        init=args.init, encoder=args.encoder, preset=args.preset, overrides=dict(args.encoder_config),
        readout=readout, method=args.method,
        head=HeadConfig(hidden_dim=args.head_hidden, num_layers=args.head_layers, dropout=args.head_dropout),
        lr=args.lr, weight_decay=args.weight_decay, layer_decay=args.layer_decay,
        warmup_epochs=args.warmup_epochs, min_lr_ratio=args.min_lr_ratio, batch_size=args.batch_size,
        train_fraction=args.train_fraction, max_train=args.max_train, standardize_targets=not args.raw_targets,
        num_workers=args.num_workers, trainer=trainer_config_from_args(args))


def run(args: argparse.Namespace) -> int:
    from dnd.data.tasks import load_task
    from dnd.evaluation.summary import write_summary
    from dnd.training.finetune import run_seeds

    check_run_options(args)
    task = load_task(args.task, root=args.data_root, seed=args.split_seed, cache_dir=args.cache_dir,
                     **task_options(args.task, args))
    print(f"task {task.spec.name}: {task.spec.task_type}, metric {task.spec.metric}, "
          f"splits {task.sizes()}")
    seeds = args.seeds if args.seeds is not None else [args.seed]
    out = Path(args.out)
    results = []
    for readout in args.readout:
        cfg = config_from_args(args, readout)
        run_dir = out / readout if len(args.readout) > 1 else out
        results += run_seeds(cfg, task, run_dir, seeds, resume=args.resume)
    paths = write_summary(results, out)
    print(paths["markdown"].read_text(), end="")
    print(f"per-run results: {paths['runs']}; summary: {paths['csv']}, {paths['markdown']}")
    return 0
