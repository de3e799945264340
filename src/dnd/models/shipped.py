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
    """The first line of NAME's model card, without its heading marks ("" without a card)."""
    card = shipped_dir() / f"{name}.md"
    if not card.is_file():
        return ""
    first = card.read_text(encoding="utf-8").splitlines()[0]
    return first.lstrip("# ").strip()


def model_name(ref: str) -> str:
    """NAME of `dnd:NAME` or of NAME itself."""
    return ref[len(PREFIX):] if ref.startswith(PREFIX) else ref


def card(ref: str) -> str:
    """The model card of shipped model `dnd:NAME` (or NAME); FileNotFoundError naming the shipped
    models when there is none."""
    name = model_name(ref)
    path = shipped_dir() / f"{name}.md"
    if name not in available() or not path.is_file():
        raise FileNotFoundError(f"no shipped model {ref!r}; shipped: {', '.join(available()) or '(none)'}")
    return path.read_text(encoding="utf-8")


def listing() -> str:
    """One line per shipped model (name, size, card summary) and a closing hint: `dnd models`."""
    models = available()
    lines = [f"{PREFIX + name:28s} {path.stat().st_size / 1e6:5.1f} MB  {summary(name)}" for name, path in models.items()]
    return "\n".join([*lines, "", f"{len(models)} models in {shipped_dir()}; `dnd models NAME` prints a model card"])


def resolve(ref: str | os.PathLike) -> Path:
    """`dnd:NAME` -> the shipped checkpoint; anything else is a path, returned as is.
    FileNotFoundError naming the shipped models when NAME is not one of them."""
    text = str(ref)
    if not text.startswith(PREFIX):
        return Path(ref)
    name = model_name(text)
    models = available()
    if name not in models:
        raise FileNotFoundError(f"{text}: no shipped model of that name; shipped: "
                                f"{', '.join(PREFIX + n for n in models) or '(none)'} (see `dnd models`)")
    return models[name]
