"""`dnd infomax`: the 3DInfomax baseline (`dnd.training.infomax`)."""

from __future__ import annotations

import argparse

from dnd.cli import options
from dnd.cli.common import add_corpus_arguments, add_run_arguments, check_run_options, corpus_config_from_args
from dnd.training.config import InfomaxRunConfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_run_arguments(parser, "run folder: logs/, checkpoints/, student.ckpt")
    add_corpus_arguments(parser)
    options.add_config_arguments(parser, InfomaxRunConfig(), "student, 3D network, objective, optimiser and trainer")


def config_from_args(args: argparse.Namespace) -> InfomaxRunConfig:
    return options.config_from_args(args, InfomaxRunConfig())


def run(args: argparse.Namespace) -> int:
    from dnd.data.corpus import load_corpus
    from dnd.training.infomax import run_infomax

    cfg = config_from_args(args)
    check_run_options(cfg.trainer.accelerator, args.out)
    corpus = corpus_config_from_args(args, cfg.trainer.seed)
    student = run_infomax(cfg, load_corpus(corpus), args.out, resume=args.resume, corpus=corpus)
    print(f"student checkpoint: {student}")
    return 0
