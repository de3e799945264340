"""Pretrained models shipped inside the package, named `dnd:NAME` wherever a checkpoint is taken.

Each model is `dnd/shipped/NAME.ckpt` (a checkpoint in the format the stage that made it writes)
beside its model card `NAME.md`, whose first line is the one-line summary `dnd models` prints.
Shipping them saves every user the pretraining; the cards say how each was made, on what, and
how it did downstream.
"""

from __future__ import annotations

import os
from pathlib import Path

PREFIX = "dnd:"


def shipped_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "shipped"


def available() -> dict[str, Path]:
    """NAME -> checkpoint path of every shipped model."""
    return {p.stem: p for p in sorted(shipped_dir().glob("*.ckpt"))}


def summary(name: str) -> str:
    card = shipped_dir() / f"{name}.md"
    if not card.is_file():
        return ""
    first = card.read_text(encoding="utf-8").splitlines()[0]
    return first.lstrip("# ").strip()


def resolve(ref: str | os.PathLike) -> Path:
    """`dnd:NAME` -> the shipped checkpoint; anything else is a path, returned as is.
    FileNotFoundError naming the shipped models when NAME is not one of them."""
    text = str(ref)
    if not text.startswith(PREFIX):
        return Path(ref)
    name = text[len(PREFIX):]
    models = available()
    if name not in models:
        raise FileNotFoundError(f"{text}: no shipped model of that name; shipped: "
                                f"{', '.join(PREFIX + n for n in models) or '(none)'} (see `dnd models`)")
    return models[name]
