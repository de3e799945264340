"""`dnd infomax`: the 3DInfomax baseline (`dnd.training.infomax`)."""

from __future__ import annotations

import argparse

from dnd.cli.common import add_pretrain_arguments, check_run_options, corpus_config_from_args, pretrain_config_from_args
from dnd.models.config import TEACHER_PRESETS
from dnd.objectives.config import InfomaxObjective
from dnd.training.config import InfomaxRunConfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = InfomaxRunConfig()
    g = parser.add_argument_group("3D network and objective")
    g.add_argument("--net3d-preset", choices=sorted(TEACHER_PRESETS), default=d.net3d_preset,
                   help="architecture of the (untrained) 3D network: the teacher's presets")
    g.add_argument("--teacher-init", help="start the 3D network from this denoised teacher checkpoint")
    g.add_argument("--tau", type=float, default=d.objective.tau, help="NT-Xent temperature")
    g.add_argument("--symmetric", action="store_true", help="also contrast 3D->2D (3DInfomax: one direction)")
    g.add_argument("--metric-dim", type=int, default=d.objective.metric_dim, help="projection output width")
    add_pretrain_arguments(parser)


def config_from_args(args: argparse.Namespace) -> InfomaxRunConfig:
    base = pretrain_config_from_args(args)
    objective = InfomaxObjective(tau=args.tau, symmetric=args.symmetric, metric_dim=args.metric_dim)
    return InfomaxRunConfig(**vars(base), objective=objective,
                            net3d_preset=args.net3d_preset, teacher_init=args.teacher_init)


def run(args: argparse.Namespace) -> int:
    from dnd.data.corpus import load_corpus
    from dnd.training.infomax import run_infomax

    check_run_options(args)
    cfg = config_from_args(args)
    corpus = corpus_config_from_args(args)
    student = run_infomax(cfg, load_corpus(corpus), args.out, resume=args.resume, corpus=corpus)
    print(f"student checkpoint: {student}")
    return 0
