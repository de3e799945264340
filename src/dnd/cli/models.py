"""`dnd models`: the pretrained models shipped with the package (use them as `dnd:NAME`;
`dnd.models.shipped`)."""

from __future__ import annotations

import argparse

from dnd.errors import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", help="print this model's card")


def run(args: argparse.Namespace) -> int:
    from dnd.models.shipped import card, listing

    if not args.name:
        print(listing())
        return 0
    try:
        print(card(args.name))
    except FileNotFoundError as err:
        raise UsageError(str(err)) from None
    return 0
