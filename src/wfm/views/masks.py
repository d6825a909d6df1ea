"""What every mask geometry shares: the ``Masks`` a draw returns, the context block, ``min_context``.

A mask removes a grid position on every sampled channel. A geometry's call returns, per sample, the context
(the positions the context encoder sees) and ``M`` target masks (the positions whose target-encoder
representations the predictor must produce). Context and targets never overlap, and the context always keeps
at least ``min_context`` positions: if a draw leaves fewer, target positions are handed back to the context
(this is what caps frequency/time masking at 80 % on the 7 x 7 grid, as in the paper's Table III).

A geometry is one subclass of :class:`MaskGeometry` that draws its target blocks (``targets``) and says
which context block it cuts them from (``default_context_scale``) and what grids it fits (``check``);
configs choose one by ``class_path`` (``wfm.views.RegionMask``, ...). All sampling uses a caller-supplied
``numpy.random.Generator`` so a method can derive it from ``(seed, global_step, rank)``: the mask sequence is
then reproducible and exact on resume. Every draw is vectorised over the batch (no per-sample Python loop,
no rejection sampling).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch


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
        strategy: name of the geometry that produced them.
    """

    context: torch.Tensor
    targets: torch.Tensor
    strategy: str

    def to(self, device: torch.device | str) -> Masks:
        return Masks(self.context.to(device), self.targets.to(device), self.strategy)

    def mask_ratio(self) -> torch.Tensor:
        """(B,) share of grid positions hidden from the context."""
        return 1.0 - self.context.float().mean(-1)


def check_range(name: str, value: Sequence[float], upper: float = 1.0) -> tuple[float, float]:
    lo, hi = (float(v) for v in value)
    if not (0 < lo <= hi <= upper):
        raise ValueError(f"masking {name} must satisfy 0 < min <= max <= {upper}, got {tuple(value)}")
    return lo, hi


class MaskGeometry:
    """Base of the mask geometries: draws ``M`` target blocks and the context around them.

    Args:
        num_targets: ``M``, number of target blocks (bands, ...).
        context_scale: (min, max) share of the grid of the context block the targets are cut from (a block of
            the grid's own aspect ratio, so 1.0 is the whole grid on any grid shape). None means the
            geometry's ``default_context_scale``.
        min_context: fewest positions the context keeps.
    """

    #: the geometry's name, recorded in ``Masks.strategy`` and used in plots and logs
    name = "geometry"
    #: the context block when ``context_scale`` is None
    default_context_scale: tuple[float, float] = (1.0, 1.0)

    def __init__(self, num_targets: int = 4, context_scale: Sequence[float] | None = None,
                 min_context: int = 10) -> None:
        if num_targets < 1:
            raise ValueError(f"masking num_targets must be >= 1, got {num_targets}")
        if min_context < 1:
            raise ValueError(f"masking min_context must be >= 1, got {min_context}")
        self.num_targets = int(num_targets)
        self.context_scale = None if context_scale is None else check_range("context_scale", context_scale)
        self.min_context = int(min_context)

    # --- what a geometry provides ----------------------------------------------------------------------------
    def targets(self, b: int, gh: int, gw: int, rng: np.random.Generator) -> np.ndarray:
        """(B, M, gh, gw) bool target masks."""
        raise NotImplementedError

    def check_grid(self, gh: int, gw: int) -> None:
        """Raise a clear ValueError if this geometry cannot draw its targets on a ``gh x gw`` grid."""

    # --- shared -------------------------------------------------------------------------------------------------
    def parts(self) -> tuple[MaskGeometry, ...]:
        """The simple geometries this one draws from (itself; a composition lists its parts)."""
        return (self,)

    def check(self, grid_size: Sequence[int]) -> None:
        """Raise a clear ValueError if these parameters cannot produce masks on ``grid_size``."""
        gh, gw = (int(g) for g in grid_size)
        if self.min_context >= gh * gw:
            raise ValueError(f"masking min_context={self.min_context} leaves nothing to predict on a {gh}x{gw} grid")
        self.check_grid(gh, gw)

    def __call__(self, batch_size: int, grid_size: Sequence[int], rng: np.random.Generator) -> Masks:
        """Draw masks for ``batch_size`` samples on a ``(grid_h, grid_w)`` grid."""
        gh, gw = (int(g) for g in grid_size)
        targets = self.targets(batch_size, gh, gw, rng)  # (B, M, gh, gw)
        lo, hi = self.context_scale if self.context_scale is not None else self.default_context_scale
        # the context block has the grid's own shape scaled down (aspect gh/gw), so a scale of 1 is the whole
        # grid on non-square grids too (e.g. the 1 x 64 grid of IQ segments)
        grid_aspect = np.full((batch_size, 1), gh / gw)
        block = blocks(rng.uniform(lo, hi, (batch_size, 1)), grid_aspect, gh, gw, rng)[:, 0]
        context = block & ~targets.any(1)
        n, m = gh * gw, targets.shape[1]
        context, targets = self.keep_min_context(context.reshape(batch_size, n), targets.reshape(batch_size, m, n),
                                                 rng)
        return Masks(torch.from_numpy(context), torch.from_numpy(targets), self.name)

    def keep_min_context(
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

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({fields})"


def blocks(scale: np.ndarray, aspect: np.ndarray, gh: int, gw: int, rng: np.random.Generator) -> np.ndarray:
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
