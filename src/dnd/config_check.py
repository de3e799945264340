"""The typed configs' shared machinery: `setting` (a dataclass field with its help text and
choices, which the command line turns into a flag: `dnd.cli.options`), `apply_overrides` (a
config with nested settings changed, as `dnd run` YAML and command-line flags both give them) and
type checking of the values, before anything runs.

YAML turns whatever is written into *some* value: `seeds: zero` is a string, `tasks: ogbg-molesol`
a string (that a later `for task in tasks` walks character by character), `lr: 1e-3` a string
too (PyYAML needs a dot: 1.0e-3). Every field is therefore checked against its annotation, and a
mismatch is a `UsageError` naming the setting, the value and the expected type.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import MISSING, field, replace
from typing import Any, Callable, Sequence

from dnd.errors import UsageError


def setting(default: Any = MISSING, *, help: str, choices: Sequence[str] | None = None,
            factory: Callable[[], Any] | None = None, prefix: str = "") -> Any:
    """A config field that describes itself: `help` (and `choices`) are what `dnd VERB --help`
    shows for its flag, so the text lives once, beside the default. `prefix` (nested configs
    only) names their flags `--<prefix><field>` where a bare field name would be ambiguous."""
    metadata = {"help": help, "choices": tuple(choices) if choices else None, "prefix": prefix}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


def apply_overrides(obj: Any, overrides: dict[str, Any], where: str = "config") -> Any:
    """A copy of dataclass `obj` with `overrides` applied; nested dataclasses take nested dicts.
    An unknown key is an error naming it (a typo must not silently fall back to a default), a
    value is checked against its annotation and, for a setting with choices, against those."""
    if not isinstance(overrides, dict):
        raise UsageError(f"{where}: expected a mapping of settings, got {overrides!r}")
    names = {f.name: f for f in dataclasses.fields(obj)}
    types_ = field_types(type(obj))
    changes = {}
    for key, value in overrides.items():
        if key not in names:
            raise UsageError(f"{where}: unknown setting {key!r}; known: {', '.join(names)}")
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current) and isinstance(value, dict):
            value = apply_overrides(current, value, f"{where}.{key}")
        check_value(value, types_[key], f"{where}: {key}")
        choices = names[key].metadata.get("choices")
        if choices and value is not None and value not in choices:
            raise UsageError(f"{where}: {key}: {value!r} is not one of {', '.join(choices)}")
        changes[key] = value
    return replace(obj, **changes)


def _describe(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in typing.get_args(tp))
    if origin in (list, tuple):
        args = typing.get_args(tp)
        return f"a list of {_describe(args[0])}" if args else "a list"
    if origin is dict:
        return "a mapping"
    if tp is type(None):
        return "null"
    return getattr(tp, "__name__", str(tp))


def _matches(value: Any, tp: Any) -> bool:
    if tp is Any:
        return True
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, a) for a in typing.get_args(tp))
    if origin in (list, tuple):
        args = typing.get_args(tp)
        return isinstance(value, (list, tuple)) and all(_matches(v, args[0]) for v in value) if args \
            else isinstance(value, (list, tuple))
    if origin is dict:
        k, v = typing.get_args(tp) or (Any, Any)
        return isinstance(value, dict) and all(_matches(a, k) and _matches(b, v) for a, b in value.items())
    if tp is type(None):
        return value is None
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if dataclasses.is_dataclass(tp):
        return isinstance(value, tp)
    if isinstance(tp, type):
        return isinstance(value, tp)
    return True  # an annotation this checker does not know: trust it


def check_value(value: Any, tp: Any, name: str) -> None:
    """UsageError unless `value` matches annotation `tp`; `name` says where it was set."""
    if _matches(value, tp):
        return
    hint = ""
    if isinstance(value, str) and _matches([value], tp):
        hint = f" (write [{value}] for a one-element list)"
    elif isinstance(value, str) and float in (tp, *typing.get_args(tp)):
        hint = " (YAML reads numbers like 1e-3 as text: write 1.0e-3)"
    raise UsageError(f"{name}: expected {_describe(tp)}, got {value!r} ({type(value).__name__}){hint}")


def field_types(cls: type) -> dict[str, Any]:
    """Resolved annotations of a dataclass (its module uses `from __future__ import annotations`)."""
    return typing.get_type_hints(cls)


def check_types(obj: Any, where: str) -> None:
    """UsageError for the first field of dataclass `obj` (recursively) whose value does not
    match its annotation, e.g. "cfg.yaml: seeds: expected a list of int, got 'zero' (str)"."""
    hints = field_types(type(obj))
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        tp = hints.get(f.name, Any)
        name = f"{where}: {f.name}" if ":" not in where else f"{where}.{f.name}"
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            check_types(value, name)
            continue
        check_value(value, tp, name)
