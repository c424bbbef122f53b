"""Field checks for the config dataclasses: type from the annotation, range from a short declaration.

A config that fails a check cannot exist: `checked(self, **rules)` runs in `__post_init__`, so a
config built from flags, a file or Python is checked the same way, before any model loads.
Stdlib only.
"""

from __future__ import annotations

import math
import re
import types
import typing
from dataclasses import fields, is_dataclass
from typing import Any, Callable

from likra.errors import ConfigError

Rule = Callable[[Any], str | None]  # value -> what is wrong with it, or None


def _type_ok(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is Any:
        return True
    if origin is tuple:
        args = typing.get_args(hint)
        inner = args[0] if args else Any
        return isinstance(value, tuple) and all(_type_ok(v, inner) for v in value)
    if hint is float:  # an int is a fine float (TOML `lr = 1`), a bool is not
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if is_dataclass(hint):
        return isinstance(value, hint)
    return isinstance(value, hint) if isinstance(hint, type) else True


def _type_name(hint: Any) -> str:
    text = str(hint).replace("typing.", "").replace("<class '", "").replace("'>", "")
    return text.replace("NoneType", "None")


def checked(obj: Any, **rules: Rule) -> None:
    """Check every field's type against its annotation, then the given range rules.

    Raises ConfigError naming `SECTION.field` (the config-file key) with the value and the rule.
    """
    section = getattr(obj, "SECTION", type(obj).__name__)
    hints = typing.get_type_hints(type(obj))
    for f in fields(obj):
        value = getattr(obj, f.name)
        if not _type_ok(value, hints[f.name]):
            raise ConfigError(f"{section}.{f.name}: expected {_type_name(hints[f.name])}, got {value!r}",
                              field=f"{section}.{f.name}")
        problem = rules[f.name](value) if f.name in rules else None
        if problem:
            raise ConfigError(f"{section}.{f.name}: {problem}, got {value!r}", field=f"{section}.{f.name}")


# ---- rules: each returns what is wrong, or None --------------------------------------------------
def _finite(rule: Rule) -> Rule:
    return lambda v: "must be a finite number" if not math.isfinite(v) else rule(v)


def at_least(low: float) -> Rule:
    return _finite(lambda v: None if v >= low else f"must be >= {low:g}")


def above(low: float) -> Rule:
    return _finite(lambda v: None if v > low else f"must be > {low:g}")


def in_range(low: float, high: float) -> Rule:
    """low <= v < high."""
    return _finite(lambda v: None if low <= v < high else f"must be in [{low:g}, {high:g})")


def one_of(*options: str) -> Rule:
    return lambda v: None if v in options else f"must be one of {', '.join(options)}"


def optional(rule: Rule) -> Rule:
    return lambda v: None if v is None else rule(v)


def each(rule: Rule) -> Rule:
    def check(values):
        if not values:
            return "must not be empty"
        problems = [p for p in map(rule, values) if p]
        return problems[0] if problems else None
    return check


def nonempty(v: str) -> str | None:
    return None if v.strip() else "must not be empty"


def matches(pattern: str, what: str) -> Rule:
    return lambda v: None if re.fullmatch(pattern, v) else f"must be {what}"
