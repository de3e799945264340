"""`dnd distill`: distill a frozen teacher into a 2D student (`dnd.training.distill`)."""

from __future__ import annotations

import argparse
from dataclasses import replace

from dnd.cli import options
from dnd.cli.common import add_corpus_arguments, add_run_arguments, check_run_options, corpus_config_from_args
from dnd.errors import UsageError
from dnd.training.config import DistillRunConfig


def add_teacher_arguments(parser: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    """--teacher and the options that pick and shape it: shared by distill and teacher-features."""
    t = parser.add_argument_group("teacher")
    t.add_argument("--teacher", required=True,
                   help="ani2x (ANI-2x hidden layers), xtb (GFN2-xTB), a `dnd denoise` checkpoint, or dnd:NAME")
    t.add_argument("--control", action="store_true",
                   help="the teacher's control instead: untrained TorchMD-NET / re-initialised ANI nets / "
                   "xTB targets permuted across molecules (seeded by --seed)")
    t.add_argument("--ani2x-member", default="0", help="ANI-2x ensemble member 0-7, or 'ensemble' (all 8, concatenated)")
    t.add_argument("--ani2x-layer", type=int, default=-1, help="ANI-2x hidden layer (0-2; -1: the last)")
    t.add_argument("--ani2x-dir", help="folder holding torchani's Neurochem/ ANI-2x files "
                   "(default $TORCHANI_DATA_DIR; torchani downloads them where absent)")
    t.add_argument("--feature-cache", help="teacher feature cache folder (default OUT/teacher_features); share it between runs")
    return t


def teacher_spec_from_args(args: argparse.Namespace, seed: int):
    from dnd.teachers.base import TeacherSpec

    member = args.ani2x_member
    if member != "ensemble":
        try:
            member = int(member)
        except ValueError:
            raise UsageError(f"--ani2x-member {member!r}: give 0..7 or 'ensemble'") from None
    return TeacherSpec(name=args.teacher, control=args.control, member=None if member == "ensemble" else member,
                       layer=args.ani2x_layer, seed=seed)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    t = add_teacher_arguments(parser)
    t.add_argument("--exclude-tasks", nargs="+", default=[], metavar="TASK",
                   help="remove corpus molecules found in these tasks (any split; canonical SMILES, no stereo, "
                   "largest fragment) and report the counts; task data from --data-root")
    t.add_argument("--data-root", help="task data folder for --exclude-tasks")
    add_run_arguments(parser, "run folder: logs/, checkpoints/, student.ckpt")
    add_corpus_arguments(parser)
    # --feature-cache is a teacher option (shared with teacher-features)
    options.add_config_arguments(parser, DistillRunConfig(), "student, objective, optimiser and trainer",
                                 skip=("feature_cache",))


def config_from_args(args: argparse.Namespace) -> DistillRunConfig:
    cfg = options.config_from_args(args, DistillRunConfig(), skip=("feature_cache",))
    return replace(cfg, feature_cache=args.feature_cache)


def run(args: argparse.Namespace) -> int:
    import json

    from dnd.data.corpus import load_corpus
    from dnd.data.overlap import find_overlap, task_smiles
    from dnd.training.distill import run_distill

    cfg = config_from_args(args)
    check_run_options(cfg.trainer.accelerator, args.out)
    spec = teacher_spec_from_args(args, cfg.trainer.seed)
    corpus = corpus_config_from_args(args, cfg.trainer.seed)
    records = load_corpus(corpus)
    exclude, extra = set(), {}
    if args.exclude_tasks:
        exclude, counts = find_overlap([r.smiles for r in records], task_smiles(args.exclude_tasks, args.data_root))
        extra["overlap"] = counts
        print(f"overlap with evaluation tasks: {len(exclude)} corpus molecules removed; per task and split: "
              f"{json.dumps(counts)}")
    student = run_distill(cfg, records, spec, args.out, resume=args.resume, corpus=corpus,
                          exclude=exclude, extra=extra, ani2x_dir=args.ani2x_dir)
    print(f"student checkpoint: {student}")
    return 0
