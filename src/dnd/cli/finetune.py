"""`dnd finetune`: finetune a pretrained or random 2D encoder on a property task
(`dnd.training.finetune`), one run per readout and seed, then a mean ± std table."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from dnd.cli import options
from dnd.cli.common import add_run_arguments, add_task_option_arguments, check_run_options, task_options
from dnd.models.config import READOUTS
from dnd.training.config import ENCODER_FINETUNE_DEFAULTS, FinetuneConfig, finetune_defaults


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = FinetuneConfig()
    g = parser.add_argument_group("task")
    g.add_argument("--task", required=True, help="OGB name (ogbg-molesol), curated (bp, mp, ri, logp), qm9-<target> or a CSV")
    g.add_argument("--data-root", default=None, help="folder with the task's data (OGB layout, CSVs)")
    g.add_argument("--split-seed", type=int, default=0, help="seed of random splits (curated sets, CSVs)")
    g.add_argument("--cache-dir", default=None, help="folder to cache the featurized task in")
    add_task_option_arguments(g)
    g = parser.add_argument_group("runs")
    # a list here (one run set per readout), one value in the config
    g.add_argument("--readout", nargs="+", default=None, choices=READOUTS,
                   help=f"{options.help_of(FinetuneConfig, 'readout')} (default: the encoder's, {d.readout} or "
                   f"{ENCODER_FINETUNE_DEFAULTS['dmpnn']['readout']} for a D-MPNN)")
    g.add_argument("--seeds", type=int, nargs="+", default=None, help="one run per seed, then a mean ± std table")
    add_run_arguments(parser, "output folder")
    dmpnn = ", ".join(f"{k} {v}" for k, v in ENCODER_FINETUNE_DEFAULTS["dmpnn"].items())
    options.add_config_arguments(parser, d, f"model, optimisation and trainer (defaults: the paper's Table 5c; "
                                 f"a D-MPNN's follow chemprop: {dmpnn})", skip=("readout",))


def config_from_args(args: argparse.Namespace, readout: str | None = None) -> FinetuneConfig:
    """The settings given, over the defaults of the encoder finetuned: --init's, else --encoder's."""
    encoder = getattr(args, "encoder", FinetuneConfig().encoder)
    if getattr(args, "init", None):
        from dnd.training.finetune import init_encoder_name

        encoder = init_encoder_name(args.init)
    cfg = options.config_from_args(args, finetune_defaults(encoder), skip=("readout",))
    return replace(cfg, readout=readout or cfg.readout)


def run(args: argparse.Namespace) -> int:
    from dnd.data.tasks import load_task
    from dnd.evaluation.summary import write_summary
    from dnd.training.finetune import run_seeds

    base = config_from_args(args)
    check_run_options(base.trainer.accelerator, args.out)
    task = load_task(args.task, root=args.data_root, seed=args.split_seed, cache_dir=args.cache_dir,
                     **task_options(args.task, args))
    print(f"task {task.spec.name}: {task.spec.task_type}, metric {task.spec.metric}, "
          f"splits {task.sizes()}")
    if task.report is not None and task.report.n_bad:  # rows the loader could not use: named, never silent
        print(task.report.summary(), file=sys.stderr)
    seeds = args.seeds if args.seeds is not None else [base.trainer.seed]
    readouts = args.readout or [base.readout]
    out = Path(args.out)
    results = []
    for readout in readouts:
        run_dir = out / readout if len(readouts) > 1 else out
        results += run_seeds(replace(base, readout=readout), task, run_dir, seeds, resume=args.resume)
    paths = write_summary(results, out)
    print(paths["markdown"].read_text(), end="")
    print(f"per-run results: {paths['runs']}; summary: {paths['csv']}, {paths['markdown']}")
    return 0
