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
        context_scale: (min, max) share of the grid of the context block the targets are cut from (a block of
            the grid's own aspect ratio, so 1.0 is the whole grid on any grid shape). None means
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
        targets = self._targets(strategy, batch_size, gh, gw, rng)  # (B, M, gh, gw)
        lo, hi = self._context_scale(strategy)
        # the context block has the grid's own shape scaled down (aspect gh/gw), so a scale of 1 is the whole
        # grid on non-square grids too (e.g. the 1 x 64 grid of IQ segments)
        grid_aspect = np.full((batch_size, 1), gh / gw)
        block = _blocks(rng.uniform(lo, hi, (batch_size, 1)), grid_aspect, gh, gw, rng)[:, 0]
        context = block & ~targets.any(1)
        n = gh * gw
        context, targets = self._keep_min_context(context.reshape(batch_size, n), targets.reshape(batch_size, m, n),
                                                  rng)
        return Masks(torch.from_numpy(context), torch.from_numpy(targets), strategy)

    # --- vectorised over the batch: no per-sample Python loop, no rejection sampling ---------------------------
    def _keep_min_context(
        self, context: np.ndarray, targets: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """Hand random hidden positions back to the context of every sample that keeps fewer than
        ``min_context`` (what caps band masking at 80 % on the 7 x 7 grid, Table III); targets lose them."""
        need = self.min_context - context.sum(1)  # (B,)
        if (need <= 0).all():
            return context, targets
        scores = rng.random(context.shape)
        scores[context] = np.inf  # visible positions are not candidates
        rank = np.argsort(np.argsort(scores, axis=1, kind="stable"), axis=1, kind="stable")
        context = context | (rank < need[:, None])
        return context, targets & ~context[:, None, :]

    def _targets(self, strategy: str, b: int, gh: int, gw: int, rng: np.random.Generator) -> np.ndarray:
        """(B, M, gh, gw) target masks of one geometry."""
        m = self.num_targets
        if strategy == "region":
            lo, hi = self.aspect_ratio
            scale = rng.uniform(*self.target_scale, (b, m))
            aspect = np.exp(rng.uniform(math.log(lo), math.log(hi), (b, m)))
            return _blocks(scale, aspect, gh, gw, rng)
        if strategy in ("frequency", "time"):
            axis = gh if strategy == "frequency" else gw
            start, stop = self._bands(b, axis, rng)  # (B, M) each
            pos = np.arange(axis)
            on = (pos >= start[..., None]) & (pos < stop[..., None])  # (B, M, axis)
            if strategy == "frequency":
                return np.broadcast_to(on[..., :, None], (b, m, gh, gw)).copy()
            return np.broadcast_to(on[..., None, :], (b, m, gh, gw)).copy()
        # random: one target of round(ratio * N) individual positions per sample
        n = gh * gw
        rank = np.argsort(np.argsort(rng.random((b, n)), axis=1, kind="stable"), axis=1, kind="stable")
        return (rank < round(self.ratio * n)).reshape(b, 1, gh, gw)

    def _bands(self, b: int, axis: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """M non-overlapping runs of ``width`` per sample, uniformly over all placements: (start, stop) (B, M)."""
        width = self._band_width(axis)
        m = self.num_targets
        free = axis - m * width  # positions left over once the bands are placed
        # stars and bars: which m of the free + m slots hold a band, uniformly (first m of a random order)
        cuts = np.sort(np.argsort(rng.random((b, free + m)), axis=1)[:, :m], axis=1)
        starts = cuts - np.arange(m) + np.arange(m) * width
        # targets in random order, not sorted by position
        starts = np.take_along_axis(starts, np.argsort(rng.random((b, m)), axis=1), axis=1)
        return starts, starts + width


def _blocks(scale: np.ndarray, aspect: np.ndarray, gh: int, gw: int, rng: np.random.Generator) -> np.ndarray:
    """Axis-aligned blocks of ``scale`` x grid area and height/width ``aspect``, uniform position (a block may
    touch the last row and column): (...) arrays -> (..., gh, gw) bool."""
    area = scale * gh * gw
    h = np.clip(np.round(np.sqrt(area * aspect)), 1, gh).astype(np.int64)
    w = np.clip(np.round(np.sqrt(area / aspect)), 1, gw).astype(np.int64)
    top = np.floor(rng.random(h.shape) * (gh - h + 1)).astype(np.int64)
    left = np.floor(rng.random(w.shape) * (gw - w + 1)).astype(np.int64)
    rows, cols = np.arange(gh), np.arange(gw)
    in_rows = (rows >= top[..., None]) & (rows < (top + h)[..., None])
    in_cols = (cols >= left[..., None]) & (cols < (left + w)[..., None])
    return in_rows[..., :, None] & in_cols[..., None, :]
