"""Type checking of config dataclasses filled from YAML, before anything runs.

YAML turns whatever is written into *some* value: `seeds: zero` is a string, `tasks: ogbg-molesol`
a string (that a later `for task in tasks` walks character by character), `lr: 1e-3` a string
too (PyYAML needs a dot: 1.0e-3). Every field is therefore checked against its annotation, and a
mismatch is a `UsageError` naming the setting, the value and the expected type.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

from dnd.errors import UsageError


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
