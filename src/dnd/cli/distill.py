"""`dnd distill`: distill a frozen teacher into a 2D student (`dnd.training.distill`)."""

from __future__ import annotations

import argparse

from dnd.cli.common import add_pretrain_arguments, check_run_options, corpus_config_from_args, pretrain_config_from_args
from dnd.errors import UsageError
from dnd.objectives.config import TARGET_NORMS, TEACHER_POOLS, VARIANTS, DistillObjective
from dnd.training.config import CACHE_DTYPES, DistillRunConfig


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


def teacher_spec_from_args(args: argparse.Namespace):
    from dnd.teachers.base import TeacherSpec

    member = args.ani2x_member
    if member != "ensemble":
        try:
            member = int(member)
        except ValueError:
            raise UsageError(f"--ani2x-member {member!r}: give 0..7 or 'ensemble'") from None
    return TeacherSpec(name=args.teacher, control=args.control, member=None if member == "ensemble" else member,
                       layer=args.ani2x_layer, seed=args.seed)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = DistillRunConfig()
    t = add_teacher_arguments(parser)
    t.add_argument("--variant", choices=VARIANTS, default=d.objective.variant,
                   help="node: D&D-NODE (eq. 7); graph: D&D-GRAPH (eq. 6; xTB: its molecule targets); node+graph: both")
    t.add_argument("--teacher-pool", choices=TEACHER_POOLS, default=d.objective.teacher_pool,
                   help="GRAPH target: mean over all conformer atoms (paper) or over heavy (graph) atoms")
    t.add_argument("--target-norm", choices=TARGET_NORMS,
                   help="scaling of teacher targets (default: none for a denoiser, element for ani2x/xtb)")
    t.add_argument("--cached", action="store_true",
                   help="denoiser: compute its features once into --feature-cache instead of running it on every "
                   "batch (ani2x and xtb are always precomputed)")
    t.add_argument("--cache-dtype", choices=CACHE_DTYPES, default=d.cache_dtype)
    t.add_argument("--exclude-tasks", nargs="+", default=[], metavar="TASK",
                   help="remove corpus molecules found in these tasks (any split; canonical SMILES, no stereo, "
                   "largest fragment) and report the counts; task data from --data-root")
    t.add_argument("--data-root", help="task data folder for --exclude-tasks")
    add_pretrain_arguments(parser)


def config_from_args(args: argparse.Namespace) -> DistillRunConfig:
    base = pretrain_config_from_args(args)
    return DistillRunConfig(**vars(base),
                            objective=DistillObjective(args.variant, args.teacher_pool, args.target_norm),
                            cached=args.cached, feature_cache=args.feature_cache, cache_dtype=args.cache_dtype)


def run(args: argparse.Namespace) -> int:
    import json

    from dnd.data.corpus import load_corpus
    from dnd.data.overlap import find_overlap, task_smiles
    from dnd.training.distill import run_distill

    check_run_options(args)
    cfg = config_from_args(args)
    spec = teacher_spec_from_args(args)
    corpus = corpus_config_from_args(args)
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
