"""`dnd quickstart`: the whole pipeline on the embedded data (`dnd.experiment.quickstart`)."""

from __future__ import annotations

import argparse

from dnd.cli import options
from dnd.experiment.config import QuickstartConfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="dnd-quickstart", help="output folder")
    options.add_config_arguments(parser, QuickstartConfig(), "quickstart")


def run(args: argparse.Namespace) -> int:
    from dnd.experiment.quickstart import run_quickstart

    run_quickstart(options.config_from_args(args, QuickstartConfig()), args.out)
    return 0
