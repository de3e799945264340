"""`dnd teacher-features`: compute a teacher's (ani2x, xtb, a denoiser checkpoint) features of a
corpus ahead of distillation, in resumable chunks; `--shard I/N` runs one task of a cluster job array, and a
final run without `--shard` (or `dnd distill` itself) assembles them (`dnd.teachers.cache`)."""

from __future__ import annotations

import argparse

from dnd.cli.common import add_corpus_arguments, corpus_config_from_args
from dnd.cli.distill import add_teacher_arguments, teacher_spec_from_args
from dnd.errors import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    t = add_teacher_arguments(parser)
    t.add_argument("--shard", help="I/N: compute chunks k with k mod N == I only (job arrays); no assembly")
    t.add_argument("--chunk-size", type=int, default=500, help="molecules per resumable chunk")
    parser.add_argument("--seed", type=int, default=0, help="corpus sample and control seed")
    add_corpus_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from dnd.data.conformer_corpus import parse_shard
    from dnd.data.corpus import load_corpus
    from dnd.teachers import build_teacher
    from dnd.teachers.cache import assemble, build_chunks, feature_folder

    if not args.feature_cache:
        raise UsageError("--feature-cache DIR is required (the folder `dnd distill --feature-cache` will read)")
    try:
        shard = parse_shard(args.shard) if args.shard else (0, 1)
    except ValueError as err:
        raise UsageError(str(err)) from None
    records = load_corpus(corpus_config_from_args(args, args.seed))
    teacher = build_teacher(teacher_spec_from_args(args, args.seed), args.ani2x_dir)
    folder = feature_folder(args.feature_cache, teacher, records)
    print(f"{teacher.describe()}; {len(records)} molecules -> {folder}")
    build_chunks(teacher, records, folder, shard, args.chunk_size)
    if not args.shard:
        assemble(teacher, records, folder, args.chunk_size)
    return 0
