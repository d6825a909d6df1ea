"""RankMe and feature std on matrices whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from wfm.eval.rankme import feature_std, rankme


def test_rankme_exact_values():
    rng = np.random.default_rng(0)
    u, v = rng.normal(size=(50, 1)), rng.normal(size=(1, 16))
    assert rankme(u @ v) == pytest.approx(1.0, abs=1e-4)  # rank 1
    assert rankme(np.eye(16)) == pytest.approx(16.0, rel=1e-4)  # equal singular values
    assert rankme(torch.eye(8) * 3.0) == pytest.approx(8.0, rel=1e-4)  # scale-free
    two = np.zeros((10, 6))
    two[:5, 0] = 1.0
    two[5:, 1] = 1.0
    assert rankme(two) == pytest.approx(2.0, rel=1e-4)
    # singular values (3, 1): p = (3/4, 1/4) -> exp(H)
    m = np.diag([3.0, 1.0])
    h = -(0.75 * np.log(0.75) + 0.25 * np.log(0.25))
    assert rankme(m) == pytest.approx(np.exp(h), rel=1e-5)
    assert rankme(np.zeros((4, 4))) == 1.0


def test_feature_std():
    assert feature_std(np.ones((10, 4))) == 0.0
    x = np.array([[0.0, 2.0], [2.0, 6.0]])  # per-dim std 1 and 2
    assert feature_std(x) == pytest.approx(1.5)
    z = np.random.default_rng(0).normal(size=(4000, 64))
    assert feature_std(z, normalize=True) == pytest.approx(1 / 8, rel=0.05)
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        rankme(np.ones(3))
