"""`dnd models`: the pretrained models shipped with the package (use them as `dnd:NAME`)."""

from __future__ import annotations

import argparse

from dnd.errors import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", help="print this model's card")


def run(args: argparse.Namespace) -> int:
    from dnd.models.shipped import PREFIX, available, shipped_dir, summary

    models = available()
    if args.name:
        name = args.name[len(PREFIX):] if args.name.startswith(PREFIX) else args.name
        card = shipped_dir() / f"{name}.md"
        if name not in models or not card.is_file():
            raise UsageError(f"no shipped model {args.name!r}; shipped: {', '.join(models) or '(none)'}")
        print(card.read_text(encoding="utf-8"))
        return 0
    for name, path in models.items():
        print(f"{PREFIX + name:28s} {path.stat().st_size / 1e6:5.1f} MB  {summary(name)}")
    print(f"\n{len(models)} models in {shipped_dir()}; `dnd models NAME` prints a model card")
    return 0
