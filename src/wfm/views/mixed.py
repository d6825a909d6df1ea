"""Mixed masking: one of several geometries per batch, drawn uniformly."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from wfm.views.bands import FrequencyMask, TimeMask
from wfm.views.masks import MaskGeometry, Masks
from wfm.views.random import RandomMask
from wfm.views.region import RegionMask


class MixedMask(MaskGeometry):
    """Draws each batch's masks from one of ``parts``, chosen uniformly per batch.

    Args:
        num_targets, min_context: of the default parts (ignored when ``parts`` is given).
        parts: the geometries to draw from (default: the paper's four, region, frequency, time and random
            masking, with ``num_targets`` targets and ``min_context``).
    """

    name = "mixed"

    def __init__(self, num_targets: int = 4, min_context: int = 10,
                 parts: Sequence[MaskGeometry] | None = None) -> None:
        super().__init__(num_targets, None, min_context)
        if parts is None:
            kw = dict(num_targets=num_targets, min_context=min_context)
            parts = (RegionMask(**kw), FrequencyMask(**kw), TimeMask(**kw), RandomMask(min_context=min_context))
        if not parts or not all(isinstance(p, MaskGeometry) for p in parts):
            raise ValueError(f"MixedMask parts must be a non-empty list of mask geometries, got {parts!r}")
        self._parts = tuple(parts)

    def parts(self) -> tuple[MaskGeometry, ...]:
        return tuple(q for p in self._parts for q in p.parts())

    def check(self, grid_size: Sequence[int]) -> None:
        for part in self._parts:
            part.check(grid_size)

    def __call__(self, batch_size: int, grid_size: Sequence[int], rng: np.random.Generator) -> Masks:
        part = self._parts[int(rng.integers(len(self._parts)))]
        return part(batch_size, grid_size, rng)
