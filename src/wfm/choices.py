"""Closed choices as ``Literal`` types: the CLI rejects a bad value before anything is built (jsonargparse reads
the type), and :func:`check_choice` gives Python callers the same one-line error from the same type."""

from __future__ import annotations

from typing import Any, get_args


def choices(literal: Any) -> tuple[Any, ...]:
    """The values of a ``Literal[...]`` type (flattening unions of literals)."""
    out: list[Any] = []
    for arg in get_args(literal):
        out.extend(choices(arg) if get_args(arg) else [arg])
    return tuple(out)


def check_choice(name: str, value: Any, literal: Any) -> Any:
    """``value`` if it is one of ``literal``'s values, else ``ValueError: <name> must be one of (...), got v``."""
    allowed = choices(literal)
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
    return value
