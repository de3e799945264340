"""Command-line options generated from the typed configs, as torchmd-net reads its YAML and
command line into one namespace: one flag per setting, named after its dataclass field
(`max_epochs` -> `--max-epochs`), with the help and choices of the field's `setting`.

Nested configs (trainer, optim, objective, student, teacher) are flattened: their fields are
flags of the verb itself, so a setting is spelled the same in flags (`--max-epochs`), in `dnd run`
YAML (`trainer: {max_epochs: 3}`) and in code (`cfg.trainer.max_epochs`). A nested config whose
field has a `prefix` (FinetuneConfig.head) prefixes its flags (`--head-num-layers`). Two settings
of one verb with the same flag are an error when the parser is built, never a silent override.

Flags default to "not given" and `config_from_args` applies the given ones to the verb's base
config with `apply_overrides`, the function that reads `dnd run` YAML, so flags and YAML cannot
differ in names, types or checks. Nothing here imports torch.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import types
import typing
from typing import Any, Iterator

from dnd.config_check import apply_overrides, field_types

SEP = "."  # argparse dest of a nested setting: its path, "trainer.max_epochs"


def json_argument(text: str):
    """argparse type of dict settings (JSON on the command line, e.g. --overrides)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise argparse.ArgumentTypeError(f"not valid JSON: {err}") from None


def help_of(cls: type, name: str) -> str:
    """The help text of setting `name` of config class `cls` (for a flag a verb writes itself)."""
    return next(f for f in dataclasses.fields(cls) if f.name == name).metadata["help"]


def settings(config: Any, skip: tuple[str, ...] = (), path: str = "", prefix: str = ""
             ) -> Iterator[tuple[str, str, dataclasses.Field, Any, Any]]:
    """(flag name, dest path, field, annotation, current value) of every leaf setting of dataclass
    `config`, nested configs flattened; names in `skip` (field names or dest paths) left out."""
    hints = field_types(type(config))
    for f in dataclasses.fields(config):
        dest = f"{path}{f.name}"
        if f.name in skip or dest in skip:
            continue
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            yield from settings(value, skip, dest + SEP, prefix + f.metadata.get("prefix", ""))
        else:
            yield prefix + f.name, dest, f, hints[f.name], value


def _argument_type(tp: Any) -> dict[str, Any]:
    """argparse keywords for annotation `tp`: bool a --flag/--no-flag pair, list nargs='+', dict
    JSON, Optional[X] and X | Y the first non-None type."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        tp = next(a for a in typing.get_args(tp) if a is not type(None))
        origin = typing.get_origin(tp)
    if tp is bool:
        return {"action": argparse.BooleanOptionalAction}
    if origin in (list, tuple):
        (item,) = typing.get_args(tp)[:1] or (str,)
        return {"nargs": "+", "type": item}
    if origin is dict or tp is dict:
        return {"type": json_argument, "metavar": "JSON"}
    return {"type": tp}


def add_config_arguments(parser: argparse.ArgumentParser, config: Any, title: str,
                         skip: tuple[str, ...] = (), default_note: str | None = None) -> None:
    """One flag per setting of `config` (see the module docstring), in an argument group `title`.
    `--help` shows each default from `config`, or `default_note` instead (e.g. "the preset's")."""
    group = parser.add_argument_group(title)
    taken = {o for a in parser._actions for o in a.option_strings}
    for name, dest, f, tp, value in settings(config, skip):
        flag = "--" + name.replace("_", "-")
        if flag in taken:
            raise ValueError(f"{flag} would name two settings of {parser.prog}; give one a prefix or skip it")
        taken.add(flag)
        shown = default_note or (json.dumps(value) if isinstance(value, (dict, list)) else value)
        text = f.metadata.get("help", "") + ("" if shown is None else f" (default: {shown})")
        kind = _argument_type(tp)
        if "action" not in kind and not f.metadata.get("choices"):  # choices show themselves
            kind.setdefault("metavar", name.upper())
        group.add_argument(flag, dest=dest, default=argparse.SUPPRESS, choices=f.metadata.get("choices"),
                           help=text.replace("%", "%%"), **kind)


def overrides_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The settings given on the command line as the nested mapping `apply_overrides` takes."""
    out: dict[str, Any] = {}
    for dest, value in vars(args).items():
        *sections, name = dest.split(SEP)
        node = out
        for section in sections:
            node = node.setdefault(section, {})
        node[name] = value
    return out


def config_from_args(args: argparse.Namespace, base: Any, skip: tuple[str, ...] = ()) -> Any:
    """`base` with the settings given on the command line applied (those in `skip` excepted)."""
    known = {dest.split(SEP)[0] for _, dest, *_ in settings(base, skip)}
    given = {k: v for k, v in overrides_from_args(args).items() if k in known}
    return apply_overrides(base, given, "command line")
