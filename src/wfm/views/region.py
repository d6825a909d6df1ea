"""Region masking (I-JEPA's multi-block): ``M`` rectangular blocks of the grid, cut from a large context block."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from wfm.views.masks import MaskGeometry, blocks, check_range


class RegionMask(MaskGeometry):
    """``M`` axis-aligned blocks of ``target_scale`` x the grid area each, height/width ``aspect_ratio``
    (drawn log-uniformly), uniformly placed; the context block covers 85-100 % of the grid by default.

    Args:
        num_targets: ``M``.
        target_scale: (min, max) share of the grid covered by one block.
        aspect_ratio: (min, max) height/width ratio of a block.
        context_scale, min_context: as :class:`~wfm.views.masks.MaskGeometry` (default context (0.85, 1.0)).
    """

    name = "region"
    default_context_scale = (0.85, 1.0)

    def __init__(
        self,
        num_targets: int = 4,
        target_scale: Sequence[float] = (0.15, 0.2),
        aspect_ratio: Sequence[float] = (0.75, 1.5),
        context_scale: Sequence[float] | None = None,
        min_context: int = 10,
    ) -> None:
        super().__init__(num_targets, context_scale, min_context)
        self.target_scale = check_range("target_scale", target_scale)
        self.aspect_ratio = check_range("aspect_ratio", aspect_ratio, upper=math.inf)

    def targets(self, b: int, gh: int, gw: int, rng: np.random.Generator) -> np.ndarray:
        m = self.num_targets
        lo, hi = self.aspect_ratio
        scale = rng.uniform(*self.target_scale, (b, m))
        aspect = np.exp(rng.uniform(math.log(lo), math.log(hi), (b, m)))
        return blocks(scale, aspect, gh, gw, rng)
