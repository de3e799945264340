"""`dnd run CONFIG.yaml`: a whole experiment (`dnd.experiment.run`)."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from dnd.errors import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="experiment YAML (see configs/)")
    parser.add_argument("--workers", type=int, help="finetuning processes in parallel (overrides the config)")
    parser.add_argument("--results-dir", help="where tables/plots go (default: the config's, 'results')")
    parser.add_argument("--work-dir", help="where checkpoints/logs go (default: the config's, 'runs')")
    parser.add_argument("--check", action="store_true", help="parse the config and print the plan, run nothing")


def run(args: argparse.Namespace) -> int:
    from dnd.experiment.config import check_experiment_files, load_config
    from dnd.experiment.stages import stage_configs

    # a missing file, unknown setting, wrong type or unset ${VAR} is named in one line, before any work
    cfg = load_config(args.config)
    overrides = {k: v for k, v in (("workers", args.workers), ("results_dir", args.results_dir),
                                   ("work_dir", args.work_dir)) if v is not None}
    cfg = replace(cfg, **overrides)
    try:
        stage_configs(cfg)
    except (UsageError, ValueError) as err:
        raise UsageError(f"{args.config}: {err}") from None
    check_experiment_files(cfg, args.config)
    if args.check:
        from dnd.experiment.run import plan

        print(plan(cfg))
        return 0
    from dnd.experiment.run import run_experiment

    run_experiment(cfg, Path(args.config).read_text())
    return 0
