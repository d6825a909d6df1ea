"""Random masking (MAE's): each sample hides a random share of the individual grid positions."""

from __future__ import annotations

import numpy as np
import torch

from wfm.views.masks import MaskGeometry, Masks


class RandomMask(MaskGeometry):
    """One target of the positions left out of a random ``1 - ratio`` share that stays visible, drawn as the
    argsort of uniform noise (MAE's ``random_masking``: the positions of the smallest noise are kept). At
    least one position stays visible and one hidden; the context is every other position.

    Args:
        ratio: share of positions hidden.
        min_context: fewest positions the context keeps (as :class:`~wfm.views.masks.MaskGeometry`).
    """

    name = "random"

    def __init__(self, ratio: float = 0.75, min_context: int = 10) -> None:
        super().__init__(num_targets=1, min_context=min_context)
        if not 0 < ratio < 1:
            raise ValueError(f"masking ratio must be in (0, 1), got {ratio}")
        self.ratio = float(ratio)

    def num_visible(self, n: int) -> int:
        return min(max(int(round(n * (1.0 - self.ratio))), 1), n - 1)

    def check_grid(self, gh: int, gw: int) -> None:
        if gh * gw < 2:
            raise ValueError(f"random masking needs at least 2 grid positions, got a {gh}x{gw} grid")

    def __call__(self, batch_size: int, grid_size, rng: np.random.Generator) -> Masks:
        gh, gw = (int(g) for g in grid_size)
        n = gh * gw
        noise = torch.from_numpy(rng.random((batch_size, n)))
        keep = torch.argsort(noise, dim=1)[:, : self.num_visible(n)]
        context = torch.zeros(batch_size, n, dtype=torch.bool)
        context.scatter_(1, keep, True)
        ctx, tgt = self.keep_min_context(context.numpy(), (~context).numpy()[:, None, :], rng)
        return Masks(torch.from_numpy(ctx), torch.from_numpy(tgt), self.name)
