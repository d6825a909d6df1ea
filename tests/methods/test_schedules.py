"""wfm.methods.schedules: warmup-cosine, cosine and linear values at the start, the warmup end and the last step."""

from __future__ import annotations

import math

import pytest

from wfm.methods import schedules


def test_schedule_values_at_start_warmup_end_and_last_step() -> None:
    total, warm = 100, 5
    assert schedules.warmup_cosine(0, total, warm, 2e-4, 1e-3, 1e-6) == pytest.approx(2e-4)
    assert schedules.warmup_cosine(warm, total, warm, 2e-4, 1e-3, 1e-6) == pytest.approx(1e-3)
    assert schedules.warmup_cosine(total, total, warm, 2e-4, 1e-3, 1e-6) == pytest.approx(1e-6)
    assert schedules.cosine(0, total, 0.04, 0.4) == pytest.approx(0.04)
    assert schedules.cosine(total // 2, total, 0.04, 0.4) == pytest.approx(0.22)
    assert schedules.cosine(total, total, 0.04, 0.4) == pytest.approx(0.4)
    assert schedules.linear(0, total, 0.996, 1.0) == pytest.approx(0.996)
    assert schedules.linear(total, total, 0.996, 1.0) == pytest.approx(1.0)
    mid = schedules.warmup_cosine(warm + (total - warm) // 2, total, warm, 0, 1.0, 0.0)
    assert mid == pytest.approx(0.5 + 0.5 * math.cos(math.pi * 47 / 95))
