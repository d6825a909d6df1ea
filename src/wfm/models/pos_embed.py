"""Fixed 2-D sine-cosine position embedding over the (frequency x time) patch grid."""

from __future__ import annotations

import torch


def sincos_1d(dim: int, positions: torch.Tensor) -> torch.Tensor:
    """Sine-cosine embedding of 1-D positions: (L,) -> (L, dim). ``dim`` must be even."""
    if dim % 2:
        raise ValueError(f"sine-cosine embedding needs an even dimension, got {dim}")
    omega = torch.arange(dim // 2, dtype=torch.float64) / (dim / 2.0)
    omega = 1.0 / 10000**omega
    out = positions.to(torch.float64)[:, None] * omega[None, :]
    return torch.cat([torch.sin(out), torch.cos(out)], dim=1).float()


def sincos_2d(dim: int, grid_h: int, grid_w: int) -> torch.Tensor:
    """2-D embedding for a ``grid_h x grid_w`` grid, row-major: (grid_h * grid_w, dim).

    Half of the features encode the frequency (row) index, half the time (column) index.
    """
    if dim % 4:
        raise ValueError(f"2-D sine-cosine embedding needs a dimension divisible by 4, got {dim}")
    rows = torch.arange(grid_h).repeat_interleave(grid_w)
    cols = torch.arange(grid_w).repeat(grid_h)
    return torch.cat([sincos_1d(dim // 2, rows), sincos_1d(dim // 2, cols)], dim=1)
