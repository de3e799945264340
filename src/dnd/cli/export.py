"""`dnd export chemprop STUDENT --out FILE.pt`: a distilled D-MPNN as a chemprop foundation file
(see `dnd.models.chemprop_export`)."""

from __future__ import annotations

import argparse

from dnd.cli.common import user_errors


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("format", choices=("chemprop",), help="target tool")
    parser.add_argument("student", help="D-MPNN student checkpoint from `dnd distill` (student.ckpt), "
                        "or dnd:NAME for a shipped model")
    parser.add_argument("--out", required=True, help="chemprop model file to write (.pt)")
    parser.add_argument("--aggregation", choices=("norm", "mean", "sum"), default="norm",
                        help="graph aggregation chemprop will use (default: chemprop's own, norm)")


def run(args: argparse.Namespace) -> int:
    from dnd.models.checkpoint import CheckpointError
    from dnd.models.chemprop_export import export_chemprop

    with user_errors(CheckpointError):  # dnd:NAME resolves in the checkpoint loader
        out = export_chemprop(args.student, args.out, args.aggregation)
    print(f"chemprop model file: {out}\n"
          f"use it with: chemprop train --from-foundation {out} -i DATA.csv ... "
          "(keep chemprop's default --multi-hot-atom-featurizer-mode V2)")
    return 0
