"""A toy mask geometry added the way a contributor adds one: this module only (configs name it by class_path).

Checkerboard masking: the targets are every other grid position (one target), the context the rest.
"""

from __future__ import annotations

import numpy as np

from wfm.views import MaskGeometry


class CheckerMask(MaskGeometry):
    """One target: the grid positions with ``(row + col + offset)`` odd, the offset drawn per sample."""

    name = "checker"

    def __init__(self, min_context: int = 4) -> None:
        super().__init__(num_targets=1, min_context=min_context)

    def check_grid(self, gh: int, gw: int) -> None:
        if gh * gw < 2:
            raise ValueError(f"checker masking needs at least 2 grid positions, got a {gh}x{gw} grid")

    def targets(self, b: int, gh: int, gw: int, rng: np.random.Generator) -> np.ndarray:
        offset = rng.integers(0, 2, (b, 1, 1))
        parity = (np.arange(gh)[:, None] + np.arange(gw)[None, :])[None] + offset
        return (parity % 2 == 1)[:, None]
