"""`dnd attention`: per-head correlation of TokenGT attention with 3D distance
(`dnd.analysis.attention`), on held-out molecules of the corpus."""

from __future__ import annotations

import argparse
from pathlib import Path

from dnd.cli.common import add_corpus_arguments, corpus_config_from_args
from dnd.cli.options import help_of
from dnd.training.config import PretrainConfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--student", action="append", required=True, metavar="LABEL=CKPT",
                        help="student checkpoint (or random:<preset>[:<JSON overrides>]) to analyse; repeat")
    add_corpus_arguments(parser)
    parser.add_argument("--val-fraction", type=float, default=PretrainConfig().val_fraction,
                        help=help_of(PretrainConfig, "val_fraction"))
    parser.add_argument("--seed", type=int, default=0, help="seed of the corpus sample and split (the students')")
    parser.add_argument("--molecules", type=int, default=200,
                        help="held-out molecules to average over (the first of the validation split)")
    parser.add_argument("--out", required=True, help="PNG to write (a CSV of per-head values goes beside it)")


def run(args: argparse.Namespace) -> int:
    from dnd.analysis import attention
    from dnd.data.corpus import held_out, load_corpus

    students = dict(s.split("=", 1) for s in args.student)
    records = held_out(load_corpus(corpus_config_from_args(args, args.seed)), args.molecules, args.val_fraction, args.seed)
    print(f"{len(records)} held-out molecules")
    table = attention.compare_students(students, records, args.out, Path(args.out).with_suffix(".csv"))
    print(table.groupby("student", sort=False)["abs_r"].agg(["mean", "max"]).to_string())
    return 0
