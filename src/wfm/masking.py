"""Mask generators on the (frequency x time) patch grid: region, frequency, time, random, and mixed.

A mask removes a grid position on every sampled channel. Each call returns, per sample, the context (the
positions the context encoder sees) and ``M`` target masks (the positions whose target-encoder
representations the predictor must produce). Context and targets never overlap, and the context always keeps
at least ``min_context`` positions: if a draw leaves fewer, target positions are handed back to the context
(this is what caps frequency/time masking at 80 % on the 7 x 7 grid, as in the paper's Table III).

All sampling uses a caller-supplied ``numpy.random.Generator`` so a method can derive it from
``(seed, global_step, rank)``: the mask sequence is then reproducible and exact on resume.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

STRATEGIES = ("region", "frequency", "time", "random")


def mask_to_indices(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(..., N) bool masks -> (..., K) positions and (..., K) validity, K = largest count (padding index 0)."""
    counts = mask.sum(-1)
    k = max(int(counts.max()) if mask.numel() else 0, 1)
    # stable sort puts the True positions first, in increasing grid order
    order = torch.sort((~mask).to(torch.uint8), dim=-1, stable=True).indices[..., :k]
    valid = torch.arange(k, device=mask.device) < counts[..., None]
    return torch.where(valid, order, torch.zeros_like(order)), valid


@dataclass
class Masks:
    """A batch of masks over a grid of ``N`` positions.

    Attributes:
        context: (B, N) bool, positions visible to the context encoder.
        targets: (B, M, N) bool, positions of each target block.
        strategy: geometry that produced them.
    """

    context: torch.Tensor
    targets: torch.Tensor
    strategy: str

    def to(self, device: torch.device | str) -> Masks:
        return Masks(self.context.to(device), self.targets.to(device), self.strategy)

    def mask_ratio(self) -> torch.Tensor:
        """(B,) share of grid positions hidden from the context."""
        return 1.0 - self.context.float().mean(-1)


class MaskGenerator:
    """Draws context/target masks of one geometry (or one geometry per batch for ``mixed``).

    Args:
        strategy: ``region`` | ``frequency`` | ``time`` | ``random`` | ``mixed``.
        num_targets: ``M``, number of target blocks or bands (random masking uses one target).
        target_scale: (min, max) share of the grid covered by one region block.
        aspect_ratio: (min, max) height/width ratio of a region block (drawn log-uniformly).
        band_fraction: share of the frequency (time) axis covered by one band, at least one row (column).
        ratio: share of positions masked by ``random``.
        context_scale: (min, max) share of the grid of the context block the targets are cut from. None means
            (0.85, 1.0) for region and (1.0, 1.0) for the others — the latter reproduces the paper's
            effective mask ratios M/7 on the 7 x 7 grid (Table III).
        min_context: fewest positions the context keeps.
        mixed_strategies: geometries ``mixed`` draws from, one per batch.
    """

    def __init__(
        self,
        strategy: str = "region",
        num_targets: int = 4,
        target_scale: Sequence[float] = (0.15, 0.2),
        aspect_ratio: Sequence[float] = (0.75, 1.5),
        band_fraction: float = 1 / 7,
        ratio: float = 0.75,
        context_scale: Sequence[float] | None = None,
        min_context: int = 10,
        mixed_strategies: Sequence[str] = STRATEGIES,
    ) -> None:
        if strategy not in (*STRATEGIES, "mixed"):
            raise ValueError(f"masking strategy must be one of {(*STRATEGIES, 'mixed')}, got {strategy!r}")
        if num_targets < 1:
            raise ValueError(f"masking num_targets must be >= 1, got {num_targets}")
        self.strategy = strategy
        self.num_targets = int(num_targets)
        self.target_scale = self._range("target_scale", target_scale)
        self.aspect_ratio = self._range("aspect_ratio", aspect_ratio, upper=math.inf)
        if not 0 < band_fraction <= 1:
            raise ValueError(f"masking band_fraction must be in (0, 1], got {band_fraction}")
        self.band_fraction = float(band_fraction)
        if not 0 < ratio < 1:
            raise ValueError(f"masking ratio must be in (0, 1), got {ratio}")
        self.ratio = float(ratio)
        self.context_scale = None if context_scale is None else self._range("context_scale", context_scale)
        if min_context < 1:
            raise ValueError(f"masking min_context must be >= 1, got {min_context}")
        self.min_context = int(min_context)
        bad = [s for s in mixed_strategies if s not in STRATEGIES]
        if bad or not mixed_strategies:
            raise ValueError(f"mixed_strategies must be a non-empty subset of {STRATEGIES}, got {mixed_strategies}")
        self.mixed_strategies = tuple(mixed_strategies)

    @staticmethod
    def _range(name: str, value: Sequence[float], upper: float = 1.0) -> tuple[float, float]:
        lo, hi = (float(v) for v in value)
        if not (0 < lo <= hi <= upper):
            raise ValueError(f"masking {name} must satisfy 0 < min <= max <= {upper}, got {tuple(value)}")
        return lo, hi

    def check(self, grid_size: Sequence[int]) -> None:
        """Raise a clear ValueError if these parameters cannot produce masks on ``grid_size``."""
        gh, gw = grid_size
        n = gh * gw
        if self.min_context >= n:
            raise ValueError(f"masking min_context={self.min_context} leaves nothing to predict on a {gh}x{gw} grid")
        strategies = self.mixed_strategies if self.strategy == "mixed" else (self.strategy,)
        for s in strategies:
            if s in ("frequency", "time"):
                axis = gh if s == "frequency" else gw
                width = self._band_width(axis)
                if self.num_targets * width > axis:
                    raise ValueError(
                        f"{s} masking: {self.num_targets} bands of {width} don't fit on an axis of {axis} "
                        f"grid positions (grid {gh}x{gw}); lower num_targets or band_fraction"
                    )
            if s == "random" and round(self.ratio * n) < 1:
                raise ValueError(f"random masking ratio={self.ratio} masks no position on a {gh}x{gw} grid")

    def _band_width(self, axis: int) -> int:
        return max(1, round(self.band_fraction * axis))

    def _context_scale(self, strategy: str) -> tuple[float, float]:
        if self.context_scale is not None:
            return self.context_scale
        return (0.85, 1.0) if strategy == "region" else (1.0, 1.0)

    def __call__(self, batch_size: int, grid_size: Sequence[int], rng: np.random.Generator) -> Masks:
        """Draw masks for ``batch_size`` samples on a ``(grid_h, grid_w)`` grid."""
        gh, gw = (int(g) for g in grid_size)
        strategy = self.strategy
        if strategy == "mixed":
            strategy = self.mixed_strategies[int(rng.integers(len(self.mixed_strategies)))]
        m = 1 if strategy == "random" else self.num_targets
        context = np.zeros((batch_size, gh, gw), dtype=bool)
        targets = np.zeros((batch_size, m, gh, gw), dtype=bool)
        for b in range(batch_size):
            context[b], targets[b] = self._sample_one(strategy, gh, gw, rng)
        n = gh * gw
        return Masks(
            torch.from_numpy(context.reshape(batch_size, n)),
            torch.from_numpy(targets.reshape(batch_size, m, n)),
            strategy,
        )

    # --- one sample -------------------------------------------------------------------------------------------
    def _block(self, gh: int, gw: int, scale: float, aspect: float, rng: np.random.Generator) -> np.ndarray:
        area = scale * gh * gw
        h = int(np.clip(round(math.sqrt(area * aspect)), 1, gh))
        w = int(np.clip(round(math.sqrt(area / aspect)), 1, gw))
        # inclusive upper bound: a block may touch the last row and column of the grid
        top = int(rng.integers(0, gh - h + 1))
        left = int(rng.integers(0, gw - w + 1))
        out = np.zeros((gh, gw), dtype=bool)
        out[top : top + h, left : left + w] = True
        return out

    def _bands(self, axis: int, rng: np.random.Generator) -> list[tuple[int, int]]:
        """M non-overlapping runs of ``width`` on an axis, uniformly over all such placements."""
        width = self._band_width(axis)
        m = self.num_targets
        free = axis - m * width  # positions left over once the bands are placed
        # choose how the leftover space is split around the bands (stars and bars), uniformly
        cuts = np.sort(rng.choice(free + m, size=m, replace=False))
        starts = cuts - np.arange(m) + np.arange(m) * width
        order = rng.permutation(m)  # targets in random order, not sorted by position
        return [(int(starts[i]), int(starts[i]) + width) for i in order]

    def _targets(self, strategy: str, gh: int, gw: int, rng: np.random.Generator) -> np.ndarray:
        if strategy == "region":
            lo, hi = self.aspect_ratio
            out = []
            for _ in range(self.num_targets):
                scale = rng.uniform(*self.target_scale)
                aspect = math.exp(rng.uniform(math.log(lo), math.log(hi)))
                out.append(self._block(gh, gw, scale, aspect, rng))
            return np.stack(out)
        if strategy == "frequency":
            out = np.zeros((self.num_targets, gh, gw), dtype=bool)
            for i, (a, b) in enumerate(self._bands(gh, rng)):
                out[i, a:b, :] = True
            return out
        if strategy == "time":
            out = np.zeros((self.num_targets, gh, gw), dtype=bool)
            for i, (a, b) in enumerate(self._bands(gw, rng)):
                out[i, :, a:b] = True
            return out
        # random: one target of round(ratio * N) individual positions
        n = gh * gw
        flat = np.zeros(n, dtype=bool)
        flat[rng.permutation(n)[: round(self.ratio * n)]] = True
        return flat.reshape(1, gh, gw)

    def _sample_one(self, strategy: str, gh: int, gw: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        cs = self._context_scale(strategy)
        for _ in range(20):
            targets = self._targets(strategy, gh, gw, rng)
            block = self._block(gh, gw, rng.uniform(*cs), 1.0, rng)
            context = block & ~targets.any(0)
            if context.sum() >= self.min_context:
                return context, targets
        # Too few visible positions after 20 draws (or by construction, e.g. 6 of 7 bands): hand random target
        # positions back to the context. Termination is guaranteed because check() ensures min_context < N.
        hidden = np.flatnonzero(~context.reshape(-1))
        need = self.min_context - int(context.sum())
        back = rng.choice(hidden, size=need, replace=False)
        context = context.reshape(-1).copy()
        context[back] = True
        context = context.reshape(gh, gw)
        return context, targets & ~context
