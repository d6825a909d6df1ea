"""Fixed (never trained) embeddings: 2-D sine-cosine positions on the (frequency x time) patch grid, and
distinct channel codes at the same scale.

A row of :func:`sincos_2d` has squared norm ``dim / 2`` whatever the position; :func:`channel_codes` gives
rows of exactly that norm, mutually orthogonal (for up to ``dim`` channels), so a channel's identity is as
visible to attention as its position and weight decay cannot shrink it (it is a buffer, not a parameter).
"""

from __future__ import annotations

import numpy as np
import torch

#: seed of the channel codes: a constant, so every model (and every checkpoint) has the same codes
CHANNEL_CODE_SEED = 20_251_124


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


def channel_codes(num: int, dim: int, offset: int = 0) -> torch.Tensor:
    """``num`` fixed channel codes ``(num, dim)``: orthogonal rows (random Gaussian rows past ``dim``) of norm
    ``sqrt(dim / 2)``, the norm of a sine-cosine position row. Deterministic: the same on every machine.

    ``offset`` skips the first codes: rows ``offset .. offset + num`` of the same sequence, so another modality's
    antennas get codes orthogonal to the image channels' (while ``offset + num <= dim``)."""
    if num < 1 or dim < 1 or offset < 0:
        raise ValueError(f"channel_codes needs num >= 1, dim >= 1 and offset >= 0, got {num}, {dim}, {offset}")
    total = num + offset
    rng = np.random.default_rng(CHANNEL_CODE_SEED)
    a = rng.standard_normal((dim, max(total, dim)))
    q, r = np.linalg.qr(a[:, :dim])
    q = q * np.sign(np.diag(r))[None, :]  # a unique orthonormal basis (QR's sign freedom removed)
    rows = np.concatenate([q.T, a[:, dim:].T], axis=0)[offset:total]
    rows = rows / np.linalg.norm(rows, axis=1, keepdims=True) * np.sqrt(dim / 2.0)
    return torch.from_numpy(rows).float()
