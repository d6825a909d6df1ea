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


def check_number(name: str, value: Any, *, gt: float | None = None, ge: float | None = None,
                 lt: float | None = None, le: float | None = None, integer: bool = False) -> Any:
    """``value`` if it is a finite number within the given bounds (and integer-valued where ``integer``), else
    ``ValueError: <name> must be <bounds>, got v`` — checked when a part is built, before it can train on a
    negative learning rate or divide by a zero width."""
    bounds = [f"{op} {b:g}" for op, b in ((">", gt), (">=", ge), ("<", lt), ("<=", le)) if b is not None]
    want = ("an integer" if integer else "a number") + (" " + " and ".join(bounds) if bounds else "")
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if ok:
        v = float(value)
        ok = (v == v and abs(v) != float("inf") and (not integer or v.is_integer())
              and (gt is None or v > gt) and (ge is None or v >= ge) and (lt is None or v < lt)
              and (le is None or v <= le))
    if not ok:
        raise ValueError(f"{name} must be {want}, got {value!r}")
    return value


def check_loader(batch_size: Any, num_workers: Any) -> None:
    """A DataModule's loader options when it is built (not at the first batch, after the model summary)."""
    check_number("batch_size", batch_size, ge=1, integer=True)
    check_number("num_workers", num_workers, ge=0, integer=True)
