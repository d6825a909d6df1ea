"""Collapse diagnostics on pooled features: RankMe effective rank and feature spread.

RankMe (Garrido et al., 2023) is ``exp(H(p))`` with ``p_k = sigma_k / ||sigma||_1 + eps`` the normalised
singular values of the (N, D) feature matrix: 1 for features that all lie on one line, ``min(N, D)`` when
every direction carries equal energy. A collapsed SSL encoder (all inputs -> one point or a few directions)
has a low RankMe long before its probe accuracy is measured.
"""

from __future__ import annotations

import numpy as np
import torch


def _as_tensor(features: np.ndarray | torch.Tensor) -> torch.Tensor:
    z = torch.as_tensor(features).detach()
    if z.ndim != 2:
        raise ValueError(f"features must be (N, D), got shape {tuple(z.shape)}")
    if z.shape[0] < 1:
        raise ValueError("features is empty")
    # float64 on CPU: the entropy of tiny singular values is sensitive to rounding
    return z.to("cpu", torch.float64)


def rankme(features: np.ndarray | torch.Tensor, eps: float = 1e-7) -> float:
    """Effective rank ``exp(-sum_k p_k log p_k)`` of (N, D) features (not centred, as in the paper)."""
    z = _as_tensor(features)
    s = torch.linalg.svdvals(z)
    total = s.sum()
    if total <= 0:
        return 1.0  # all-zero features: fully collapsed
    p = s / total + eps
    return float(torch.exp(-(p * torch.log(p)).sum()))


def feature_std(features: np.ndarray | torch.Tensor, normalize: bool = False) -> float:
    """Mean over dimensions of the per-dimension std across samples (0 when every sample is the same).

    With ``normalize=True`` rows are L2-normalised first, so the value is scale-free
    (about ``1/sqrt(D)`` for well-spread features, as in SimSiam's collapse check).
    """
    z = _as_tensor(features)
    if normalize:
        z = torch.nn.functional.normalize(z, dim=1)
    if z.shape[0] < 2:
        return 0.0
    return float(z.std(dim=0, unbiased=False).mean())
