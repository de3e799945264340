"""`dnd quickstart`: the whole pipeline on the embedded data (`dnd.experiment.quickstart`)."""

from __future__ import annotations

import argparse

from dnd.experiment.config import QuickstartConfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = QuickstartConfig()
    parser.add_argument("--out", default="dnd-quickstart", help="output folder")
    parser.add_argument("--shipped-epochs", type=int, default=d.shipped_epochs,
                        help="finetuning epochs of the shipped-model path (0 skips it)")
    parser.add_argument("--no-pipeline", dest="pipeline", action="store_false",
                        help="stop after the shipped-model path")
    parser.add_argument("--molecules", type=int, default=d.molecules,
                        help="embedded QM9 molecules to pretrain on (default: all)")
    parser.add_argument("--denoise-epochs", type=int, default=d.denoise_epochs)
    parser.add_argument("--distill-epochs", type=int, default=d.distill_epochs)
    parser.add_argument("--finetune-epochs", type=int, default=d.finetune_epochs)
    parser.add_argument("--seed", type=int, default=d.seed)


def run(args: argparse.Namespace) -> int:
    from dnd.experiment.quickstart import run_quickstart

    cfg = QuickstartConfig(shipped_epochs=args.shipped_epochs, pipeline=args.pipeline,
                           molecules=args.molecules, denoise_epochs=args.denoise_epochs,
                           distill_epochs=args.distill_epochs, finetune_epochs=args.finetune_epochs,
                           seed=args.seed)
    run_quickstart(cfg, args.out)
    return 0
