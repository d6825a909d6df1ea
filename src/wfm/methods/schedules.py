"""Per-optimizer-step schedules as pure functions of the step, so resuming a run needs no replay."""

from __future__ import annotations

import math


def _progress(step: int, total: int) -> float:
    return min(max(step, 0), max(total, 1)) / max(total, 1)


def warmup_cosine(step: int, total: int, warmup: int, start: float, peak: float, final: float) -> float:
    """Linear warm-up from ``start`` to ``peak`` over ``warmup`` steps, then cosine decay to ``final`` at ``total``."""
    if step < warmup:
        return start + (peak - start) * step / warmup
    t = _progress(step - warmup, total - warmup)
    return final + (peak - final) * 0.5 * (1.0 + math.cos(math.pi * t))


def cosine(step: int, total: int, start: float, end: float) -> float:
    """Half-cosine from ``start`` (step 0) to ``end`` (step ``total``); used to raise weight decay 0.04 -> 0.4."""
    t = _progress(step, total)
    return end + (start - end) * 0.5 * (1.0 + math.cos(math.pi * t))


def linear(step: int, total: int, start: float, end: float) -> float:
    """Straight line from ``start`` (step 0) to ``end`` (step ``total``); the EMA momentum 0.996 -> 1.0."""
    return start + (end - start) * _progress(step, total)
