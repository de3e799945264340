"""Option groups the verbs share, and the command line's conventions.

- One name per concept in every verb: `--data-root` (task data folder), `--cache-dir` (featurized
  cache), `--split-seed` (random task splits) vs `--seed` (training and corpus sampling),
  `--accelerator` (cpu, gpu, auto, or a device such as cuda:1). Old names still work for one
  release and print a deprecation line (`deprecated_alias`).
- Defaults shown in `--help` are the stage config's own defaults (`dnd.training.config`); an
  option whose value a `--preset` decides defaults to "the preset's value".
- A user error (bad file, bad option combination, unreadable checkpoint: a `dnd.errors.UserError`)
  ends the command with one line naming the file or option and exit code 2, never a traceback.

Nothing here (or in any verb module at import time) imports torch: `dnd --help` and
`dnd VERB --help` must answer at once. Each verb imports the library inside its `run`.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import contextmanager
from dataclasses import fields
from typing import Any, Iterator

from dnd.data.config import CORPUS_SOURCES, DEFAULT_MAX_ATOMS, HYDROGENS, CorpusConfig
from dnd.errors import UsageError
from dnd.models.registry import ENCODERS
from dnd.training.config import OptimConfig, PretrainConfig, StudentSpec, TrainerConfig


class _DeprecatedAlias(argparse.Action):
    def __init__(self, option_strings, dest, new: str = "", **kwargs):
        self.new = new
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"{parser.prog}: warning: {option_string} is deprecated and will be removed in the next "
              f"release; use {self.new}", file=sys.stderr)
        setattr(namespace, self.dest, values)


def deprecated_alias(group, old: str, new: str, dest: str, **kwargs) -> None:
    """Accept `old` as a hidden synonym of option `new` (stored in `dest`), with a warning."""
    group.add_argument(old, dest=dest, action=_DeprecatedAlias, new=new, help=argparse.SUPPRESS,
                       default=argparse.SUPPRESS, **kwargs)


@contextmanager
def user_errors(*kinds: type[BaseException]) -> Iterator[None]:
    """Turn the listed exception types, raised by code outside dnd's `UserError` hierarchy for
    input the user can fix (a missing file, a malformed table), into `UsageError`s."""
    try:
        yield
    except kinds as err:
        raise UsageError(err.args[0] if err.args else str(err)) from err


# ---------------------------------------------------------------- corpus

def add_corpus_arguments(parser: argparse.ArgumentParser, val_fraction: float | None = None,
                         num_workers: int | None = None, loader: bool = True) -> None:
    """The 3D corpus options shared by denoise, distill, infomax and attention: the same values
    select the same molecules and the same validation split in every stage (`dnd.data.corpus`)."""
    d = CorpusConfig()
    g = parser.add_argument_group("data")
    g.add_argument("--source", choices=CORPUS_SOURCES, default=d.source,
                   help="3D conformer source; 'embedded' uses the QM9 subset shipped with the package")
    g.add_argument("--path", help="data file for qm9/sdf/pcqm4mv2/smiles sources (sdf: also a folder of "
                   ".sdf/.sdf.gz shards, read in name order), or the merged records file of "
                   "`dnd data conformers --merge` for --source records")
    g.add_argument("--limit", type=int, help="read at most this many molecules (the first ones in the file)")
    g.add_argument("--sample", type=int, help="then keep a seeded random subset of this many (seed: --seed); "
                   "QM9 is ordered by size, so --limit alone gives small molecules only")
    g.add_argument("--cache-dir", help="featurized-record cache folder")
    g.add_argument("--hydrogens", choices=HYDROGENS, default=d.hydrogens,
                   help="conformer atoms the teacher sees: 'none' heavy atoms only (the paper's "
                   "PCQM4Mv2 teacher), 'dft' the source's hydrogens, 'rdkit' also place hydrogens "
                   "a heavy-atom SDF lacks")
    g.add_argument("--num-conformers", type=int, default=d.num_conformers,
                   help="smiles source: RDKit conformers per molecule")
    g.add_argument("--conformer-seed", type=int, default=d.conformer_seed, help="smiles source: embedding seed")
    g.add_argument("--val-fraction", type=float, default=val_fraction,
                   help="held-out validation share of the corpus (seeded by --seed)")
    if loader:
        g.add_argument("--num-workers", type=int, default=num_workers, help="data loader worker processes")
    add_max_atoms_argument(g)


def corpus_config_from_args(args: argparse.Namespace) -> CorpusConfig:
    if args.source != "embedded" and not args.path:
        raise UsageError(f"--source {args.source} needs --path FILE")
    return CorpusConfig(source=args.source, path=args.path, limit=args.limit, sample=args.sample, seed=args.seed,
                        cache_dir=args.cache_dir, hydrogens=args.hydrogens, num_conformers=args.num_conformers,
                        conformer_seed=args.conformer_seed)


# ---------------------------------------------------------------- trainer

def add_trainer_arguments(parser: argparse.ArgumentParser, **defaults) -> None:
    """Adds --epochs, --max-steps, --accelerator, ...; `defaults` overrides TrainerConfig's."""
    d = {f.name: f.default for f in fields(TrainerConfig)} | defaults
    g = parser.add_argument_group("trainer")
    g.add_argument("--epochs", type=int, default=d["max_epochs"], help="maximum epochs")
    g.add_argument("--max-steps", type=int, default=d["max_steps"], help="stop after this many optimiser steps (-1: no limit)")
    g.add_argument("--accelerator", default=d["accelerator"], help="cpu, gpu, auto")
    g.add_argument("--devices", default=d["devices"], help="number of devices or 'auto'")
    g.add_argument("--strategy", default=d["strategy"], help="auto, ddp, ...")
    g.add_argument("--precision", default=d["precision"], help="32-true, bf16-mixed, 16-mixed")
    g.add_argument("--checkpoint-every", type=int, default=d["checkpoint_every_n_steps"], help="save a checkpoint every N steps (0: after every epoch)")
    g.add_argument("--log-every", type=int, default=d["log_every_n_steps"], help="log every N steps")
    g.add_argument("--grad-clip", type=float, default=d["gradient_clip_val"])
    g.add_argument("--seed", type=int, default=d["seed"], help="seed of training (and of corpus sampling and splitting)")
    g.add_argument("--no-progress", action="store_true", help="no progress bar (logs still written)")
    g.add_argument("--resume", action="store_true", help="continue from OUT/checkpoints/last.ckpt if present")


def check_run_options(args: argparse.Namespace) -> None:
    """Options every training command can reject before reading data: the accelerator and a
    `--out` that is a file. Minutes of data loading must not precede these errors."""
    from dnd.checks import check_accelerator, output_folder

    check_accelerator(args.accelerator)
    output_folder(args.out)


def trainer_config_from_args(args: argparse.Namespace) -> TrainerConfig:
    return TrainerConfig(max_epochs=args.epochs, max_steps=args.max_steps, accelerator=args.accelerator,
                         devices=args.devices, strategy=args.strategy, precision=args.precision,
                         checkpoint_every_n_steps=args.checkpoint_every, log_every_n_steps=args.log_every,
                         gradient_clip_val=args.grad_clip, seed=args.seed, progress=not args.no_progress)


# ---------------------------------------------------------------- student pretraining (distill, infomax)

def add_pretrain_arguments(parser: argparse.ArgumentParser) -> None:
    """Data, student, optimiser and trainer groups shared by distill and infomax."""
    d = PretrainConfig()
    add_corpus_arguments(parser, d.val_fraction, d.num_workers)
    s = parser.add_argument_group("student")
    s.add_argument("--encoder", choices=sorted(ENCODERS), default=d.student.encoder)
    s.add_argument("--preset", default=d.student.preset, help="encoder preset: paper, cpu-small, tiny")
    s.add_argument("--encoder-config", type=json_argument, default={},
                   help='JSON overrides of the preset, e.g. \'{"num_layers": 6}\'')
    s.add_argument("--out", required=True, help="run folder: logs/, checkpoints/, student.ckpt")
    o = parser.add_argument_group("optimiser")
    o.add_argument("--batch-size", type=int, default=d.batch_size)
    o.add_argument("--lr", type=float, default=d.optim.lr, help="peak learning rate")
    o.add_argument("--warmup-steps", type=int, default=d.optim.warmup_steps)
    o.add_argument("--min-lr-ratio", type=float, default=d.optim.min_lr_ratio,
                   help="cosine floor as a fraction of the peak")
    o.add_argument("--weight-decay", type=float, default=d.optim.weight_decay)
    add_trainer_arguments(parser, max_epochs=d.trainer.max_epochs)


def json_argument(text: str):
    """argparse type of the JSON options (--encoder-config)."""
    import json

    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise argparse.ArgumentTypeError(f"not valid JSON: {err}") from None


def pretrain_config_from_args(args: argparse.Namespace) -> PretrainConfig:
    optim = OptimConfig(lr=args.lr, warmup_steps=args.warmup_steps, min_lr_ratio=args.min_lr_ratio,
                        weight_decay=args.weight_decay)
    return PretrainConfig(student=StudentSpec(args.encoder, args.preset, dict(args.encoder_config)),
                          optim=optim, trainer=trainer_config_from_args(args), batch_size=args.batch_size,
                          val_fraction=args.val_fraction, num_workers=args.num_workers)


# ---------------------------------------------------------------- tasks and molecules

CSV_ONLY = ("target_columns", "task_type", "split")


def add_max_atoms_argument(parser) -> None:
    """--max-atoms; `dnd.cli.main` applies it (`dnd.data.featurize.set_max_atoms`) before the verb runs."""
    parser.add_argument("--max-atoms", type=int, default=None,
                        help=f"skip molecules with more atoms than this (default {DEFAULT_MAX_ATOMS})")


def add_task_option_arguments(group: argparse._ActionsContainer) -> None:
    """The task-selection options every command that loads a task shares (`dnd data task`,
    `dnd finetune`; `dnd run` takes the same keys under `task_options:`), so a CSV's SMILES column,
    targets, task type and split are named the same way everywhere and never guessed differently:
    --smiles-column, --target-columns, --task-type, --split (defaults: the loader's)."""
    group.add_argument("--smiles-column", default=None, help="CSV column holding SMILES (default: smiles)")
    group.add_argument("--target-columns", default=None,
                       help="comma-separated target columns; required when a CSV has more than one "
                            "column besides SMILES (an ID column must never become a target)")
    group.add_argument("--task-type", choices=("regression", "classification"), default=None,
                       help="CSV tasks (default: classification when every label is 0/1)")
    group.add_argument("--split", choices=("scaffold", "random"), default=None,
                       help="CSV tasks (default: scaffold)")
    add_max_atoms_argument(group)


def task_options(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """`load_task` keyword options from the parsed arguments; only what the user set, so each
    loader keeps its own defaults. Named sets take one target as `target_column`."""
    from dnd.data.tasks.csv_task import is_csv_path

    opts: dict[str, Any] = {}
    if getattr(args, "path", None) is not None:
        opts["path"] = args.path
    if args.smiles_column is not None:
        opts["smiles_column"] = args.smiles_column
    if is_csv_path(name):
        opts.update({k: getattr(args, k) for k in CSV_ONLY if getattr(args, k) is not None})
    elif args.target_columns is not None:
        opts["target_column"] = args.target_columns
    return opts
