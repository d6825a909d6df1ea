"""A toy built-in task, added through the registry alone: this module plus one ``register(SPEC)`` call.

``tone``: single-channel power grids ``(1, n, n)`` of noise plus one horizontal line (a tone) in one of three
bands; the label ``tone`` is the band (``index % 3``, balanced). Sample ``i`` depends only on ``(seed, i)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from wfm.data.synthetic import SyntheticSpec

CLASS_NAMES = ("low", "mid", "high")
STREAM = 901  # distinct from every built-in stream


def generate(start: int, stop: int, seed: int = 0, *, n: int = 16, snr_db: float = 10.0):
    x = np.empty((stop - start, 1, n, n), np.float32)
    labels = np.arange(start, stop) % len(CLASS_NAMES)
    for j, i in enumerate(range(start, stop)):
        rng = np.random.default_rng([seed, STREAM, i])
        power = rng.exponential(1.0, (n, n))
        row = (labels[j] * n) // len(CLASS_NAMES) + int(rng.integers(n // len(CLASS_NAMES)))
        power[row] += 10 ** (snr_db / 10)
        x[j, 0] = power
    return x, {"tone": labels.astype(np.int64)}


def fields(options: Mapping[str, Any]) -> dict[str, Any]:
    return {"raw_shape": (int(options["n"]), int(options["n"]))}


SPEC = SyntheticSpec(
    "tone", "spectrogram", 1, (16, 16), True, {"tone": "classification"}, {"tone": CLASS_NAMES}, {},
    "Toy task: a tone in one of three bands over exponential noise.",
    generate, {"n": 16, "snr_db": 10.0}, downstream=True, resolve=fields)
