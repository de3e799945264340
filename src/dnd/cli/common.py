"""What the verbs share besides the generated options (`dnd.cli.options`): the 3D corpus group,
early checks of a training run, the task-selection options, and the command line's conventions.

- One name per setting in every verb, `dnd run` YAML and the dataclass field (`dnd.cli.options`);
  `--data-root` (task data folder), `--cache-dir` (featurized cache), `--split-seed` (random task
  splits) vs `--seed` (training and corpus sampling), `--accelerator` (cpu, gpu, auto, or a
  device such as cuda:1).
- A user error (bad file, bad option combination, unreadable checkpoint: a `dnd.errors.UserError`)
  ends the command with one line naming the file or option and exit code 2, never a traceback.

Nothing here (or in any verb module at import time) imports torch: `dnd --help` and
`dnd VERB --help` must answer at once. Each verb imports the library inside its `run`.
"""

from __future__ import annotations

import argparse
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, Iterator

from dnd.cli.options import add_config_arguments, config_from_args
from dnd.data.config import DEFAULT_MAX_ATOMS, CorpusConfig
from dnd.errors import UsageError


@contextmanager
def user_errors(*kinds: type[BaseException]) -> Iterator[None]:
    """Turn the listed exception types, raised by code outside dnd's `UserError` hierarchy for
    input the user can fix (a missing file, a malformed table), into `UsageError`s."""
    try:
        yield
    except kinds as err:
        raise UsageError(err.args[0] if err.args else str(err)) from err


def add_corpus_arguments(parser: argparse.ArgumentParser) -> None:
    """The 3D corpus options (`CorpusConfig`) of denoise, distill, infomax, teacher-features and
    attention: the same values select the same molecules and the same validation split in every
    stage (`dnd.data.corpus`). Its seed is the verb's --seed."""
    add_config_arguments(parser, CorpusConfig(), "data", skip=("seed",))


def corpus_config_from_args(args: argparse.Namespace, seed: int) -> CorpusConfig:
    corpus = replace(config_from_args(args, CorpusConfig(), skip=("seed",)), seed=seed)
    if corpus.source != "embedded" and not corpus.path:
        raise UsageError(f"--source {corpus.source} needs --path FILE")
    return corpus


def add_run_arguments(parser: argparse.ArgumentParser, out_help: str) -> None:
    """--out and --resume of every training verb (where the run goes, not how it trains)."""
    parser.add_argument("--out", required=True, help=out_help)
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoints/last.ckpt if present")


def check_run_options(accelerator: str, out: str) -> None:
    """Options every training command can reject before reading data: the accelerator and a
    `--out` that is a file. Minutes of data loading must not precede these errors."""
    from dnd.checks import check_accelerator, output_folder

    check_accelerator(accelerator)
    output_folder(out)


# ---------------------------------------------------------------- tasks and molecules

CSV_ONLY = ("target_columns", "task_type", "split")


def add_max_atoms_argument(parser) -> None:
    """--max-atoms of a task (a `load_task` option) or of predict/embed input (`atom_limit`)."""
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
    if args.max_atoms is not None:
        opts["max_atoms"] = args.max_atoms
    if getattr(args, "path", None) is not None:
        opts["path"] = args.path
    if args.smiles_column is not None:
        opts["smiles_column"] = args.smiles_column
    if is_csv_path(name):
        opts.update({k: getattr(args, k) for k in CSV_ONLY if getattr(args, k) is not None})
    elif args.target_columns is not None:
        opts["target_column"] = args.target_columns
    return opts
