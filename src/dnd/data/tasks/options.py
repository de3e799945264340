"""The task-selection options every command that loads a task shares (`dnd data task`,
`dnd finetune`; `dnd run` takes the same keys under `task_options:`), so a CSV's SMILES column,
targets, task type and split are named the same way everywhere and never guessed differently."""

from __future__ import annotations

import argparse
from typing import Any

from dnd.data.featurize import add_max_atoms_argument
from dnd.data.tasks.csv_task import is_csv_path

CSV_ONLY = ("target_columns", "task_type", "split")


def add_task_option_arguments(group: argparse._ActionsContainer) -> None:
    """--smiles-column, --target-columns, --task-type, --split (defaults: the loader's)."""
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
