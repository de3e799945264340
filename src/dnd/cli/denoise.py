"""`dnd denoise`: pretrain the 3D teacher (`dnd.training.denoise`)."""

from __future__ import annotations

import argparse
from dataclasses import fields, replace

from dnd.cli.common import (add_corpus_arguments, add_trainer_arguments, check_run_options, corpus_config_from_args,
                            trainer_config_from_args)
from dnd.models.config import TEACHER_PRESETS
from dnd.training.config import DenoiseConfig, TrainerConfig, denoise_preset


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_corpus_arguments(parser)
    m = parser.add_argument_group("model and objective (left out: the preset's value)")
    m.add_argument("--preset", choices=tuple(TEACHER_PRESETS), default="cpu-small")
    m.add_argument("--out", required=True, help="run folder: logs/, checkpoints/, denoise_config.json")
    m.add_argument("--sigma", type=float, help="noise scale in Å (default 0.04)")
    m.add_argument("--hidden-channels", type=int)
    m.add_argument("--num-layers", type=int)
    m.add_argument("--num-heads", type=int)
    m.add_argument("--num-rbf", type=int)
    m.add_argument("--cutoff", dest="cutoff_upper", type=float, help="upper cutoff in Å")
    o = parser.add_argument_group("optimiser")
    o.add_argument("--batch-size", type=int)
    o.add_argument("--lr", type=float, help="peak learning rate")
    o.add_argument("--warmup-steps", type=int)
    o.add_argument("--weight-decay", type=float)
    add_trainer_arguments(parser, max_epochs=None, checkpoint_every_n_steps=None, log_every_n_steps=None)


def _override(obj, values: dict):
    return replace(obj, **{k: v for k, v in values.items() if v is not None})


def config_from_args(args: argparse.Namespace) -> DenoiseConfig:
    cfg = denoise_preset(args.preset)
    teacher = _override(cfg.teacher, {k: getattr(args, k) for k in
                                      ("hidden_channels", "num_layers", "num_heads", "num_rbf", "cutoff_upper")})
    optim = _override(cfg.optim, {"lr": args.lr, "warmup_steps": args.warmup_steps, "weight_decay": args.weight_decay})
    trainer = _override(cfg.trainer, {f.name: getattr(trainer_config_from_args(args), f.name)
                                      for f in fields(TrainerConfig)})
    return _override(replace(cfg, teacher=teacher, optim=optim, trainer=trainer),
                     {"sigma": args.sigma, "batch_size": args.batch_size, "val_fraction": args.val_fraction,
                      "num_workers": args.num_workers})


def run(args: argparse.Namespace) -> int:
    from dnd.data.corpus import load_corpus
    from dnd.training.denoise import run_denoise

    check_run_options(args)
    cfg = config_from_args(args)
    corpus = corpus_config_from_args(args)
    records = load_corpus(corpus)
    print(f"denoising on {len(records)} molecules")
    ckpt = run_denoise(cfg, records, args.out, resume=args.resume, corpus=corpus)
    print(f"teacher checkpoint: {ckpt}")
    return 0
