"""`dnd distill`: distill the frozen teacher into a 2D student (`dnd.training.distill`)."""

from __future__ import annotations

import argparse

from dnd.cli.common import add_pretrain_arguments, check_run_options, corpus_config_from_args, pretrain_config_from_args
from dnd.objectives.config import TEACHER_POOLS, VARIANTS, DistillObjective
from dnd.training.config import CACHE_DTYPES, DistillRunConfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = DistillRunConfig()
    t = parser.add_argument_group("teacher and objective")
    t.add_argument("--teacher", required=True, help="teacher checkpoint from `dnd denoise` (last.ckpt)")
    t.add_argument("--variant", choices=VARIANTS, default=d.objective.variant,
                   help="node: D&D-NODE (eq. 7); graph: D&D-GRAPH (eq. 6)")
    t.add_argument("--teacher-pool", choices=TEACHER_POOLS, default=d.objective.teacher_pool,
                   help="GRAPH target: mean over all conformer atoms (paper) or over heavy (graph) atoms")
    t.add_argument("--cached", action="store_true",
                   help="precompute teacher features once (memory-mapped) instead of running the teacher per batch")
    t.add_argument("--feature-cache", help="teacher feature cache folder (default OUT/teacher_cache)")
    t.add_argument("--cache-dtype", choices=CACHE_DTYPES, default=d.cache_dtype)
    add_pretrain_arguments(parser)


def config_from_args(args: argparse.Namespace) -> DistillRunConfig:
    base = pretrain_config_from_args(args)
    return DistillRunConfig(**vars(base),
                            objective=DistillObjective(args.variant, args.teacher_pool),
                            cached=args.cached, feature_cache=args.feature_cache, cache_dtype=args.cache_dtype)


def run(args: argparse.Namespace) -> int:
    from dnd.data.corpus import load_corpus
    from dnd.training.distill import run_distill

    check_run_options(args)
    cfg = config_from_args(args)
    corpus = corpus_config_from_args(args)
    student = run_distill(cfg, load_corpus(corpus), args.teacher, args.out, resume=args.resume, corpus=corpus)
    print(f"student checkpoint: {student}")
    return 0
