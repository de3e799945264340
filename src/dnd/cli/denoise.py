"""`dnd denoise`: pretrain the 3D teacher (`dnd.training.denoise`)."""

from __future__ import annotations

import argparse

from dnd.cli.common import add_corpus_arguments, add_run_arguments, check_run_options, corpus_config_from_args
from dnd.cli import options
from dnd.models.config import TEACHER_PRESETS
from dnd.training.config import DenoiseConfig, denoise_preset


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", choices=tuple(TEACHER_PRESETS), default="cpu-small",
                        help="teacher, optimiser and trainer settings the flags below start from")
    add_run_arguments(parser, "run folder: logs/, checkpoints/, denoise_config.json")
    add_corpus_arguments(parser)
    options.add_config_arguments(parser, DenoiseConfig(), "teacher, optimiser and trainer", default_note="the preset's")


def config_from_args(args: argparse.Namespace) -> DenoiseConfig:
    return options.config_from_args(args, denoise_preset(args.preset))


def run(args: argparse.Namespace) -> int:
    from dnd.data.corpus import load_corpus
    from dnd.training.denoise import run_denoise

    cfg = config_from_args(args)
    check_run_options(cfg.trainer.accelerator, args.out)
    corpus = corpus_config_from_args(args, cfg.trainer.seed)
    records = load_corpus(corpus)
    print(f"denoising on {len(records)} molecules")
    ckpt = run_denoise(cfg, records, args.out, resume=args.resume, corpus=corpus)
    print(f"teacher checkpoint: {ckpt}")
    return 0
