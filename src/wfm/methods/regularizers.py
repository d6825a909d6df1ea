"""Anti-collapse regularisers for joint-embedding methods: a penalty on a batch of embeddings ``(N, D)``.

* ``vicreg`` — the variance and covariance terms of VICReg (Bardes et al., ICLR 2022): a hinge that keeps the
  std of every dimension across the batch at least 1, plus the squared off-diagonal covariances / D, which
  decorrelate the dimensions. The C-JEPA recipe (arXiv 2410.19560) adds them to I-JEPA.
* ``sigreg`` — Sketched Isotropic Gaussian Regularisation (LeJEPA, arXiv 2511.08544): project the embeddings
  on random unit directions and compare each 1-D empirical characteristic function with the standard normal's
  (Epps-Pulley statistic, Gaussian-weighted over ``t`` in [-5, 5]); zero only for an isotropic Gaussian.

Both are differentiable and cheap (linear in N). Random directions come from a caller-supplied generator so
the penalty is a pure function of the step.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from wfm.choices import choices

#: the anti-collapse penalties: none, VICReg's variance + covariance terms, LeJEPA's SIGReg
Regularizer = Literal["none", "vicreg", "sigreg"]
REGULARIZERS = choices(Regularizer)


def vicreg(z: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
    """VICReg variance hinge ``mean_d relu(1 - std_d)`` plus covariance ``sum_{i != j} cov_ij^2 / D``."""
    n, d = z.shape
    z = z.float() - z.float().mean(0)
    std = torch.sqrt(z.var(0) + eps)
    variance = F.relu(1.0 - std).mean()
    cov = (z.T @ z) / max(n - 1, 1)
    off_diagonal = cov - torch.diag(torch.diagonal(cov))
    return variance + off_diagonal.pow(2).sum() / d


def sigreg(
    z: torch.Tensor, rng: np.random.Generator, num_slices: int = 256, num_points: int = 17, t_max: float = 5.0,
    n_ref: int | None = None,
) -> torch.Tensor:
    """Epps-Pulley distance of ``num_slices`` random 1-D projections of ``z`` to N(0, 1), times ``n_ref`` (default
    N, LeJEPA's test statistic), averaged. A penalty on many tokens passes the batch size as ``n_ref`` so that its
    weight means what it means on the batch's pooled features."""
    n, d = z.shape
    g = torch.Generator().manual_seed(int(rng.integers(2**62)))
    a = torch.randn(d, num_slices, generator=g).to(z.device)
    a = a / a.norm(dim=0, keepdim=True)
    t = torch.linspace(-t_max, t_max, num_points, device=z.device)
    gauss = torch.exp(-0.5 * t**2)
    proj = (z.float() @ a)[:, :, None] * t  # (N, S, T)
    ecf_re, ecf_im = torch.cos(proj).mean(0), torch.sin(proj).mean(0)  # (S, T)
    err = ((ecf_re - gauss) ** 2 + ecf_im**2) * gauss
    return torch.trapezoid(err, t, dim=-1).mean() * (n if n_ref is None else n_ref)


def regularizer_loss(
    name: str, z: torch.Tensor, rng: np.random.Generator, n_ref: int | None = None
) -> torch.Tensor:
    """The ``name`` penalty of embeddings ``z`` (N, D); ``none`` gives 0. ``n_ref``: the sample count SIGReg's
    statistic is scaled to (default N; VICReg is a mean and has no such factor)."""
    if name == "vicreg":
        return vicreg(z)
    if name == "sigreg":
        return sigreg(z, rng, n_ref=n_ref)
    if name == "none":
        return z.new_zeros(())
    raise ValueError(f"regularizer must be one of {REGULARIZERS}, got {name!r}")
