"""Deterministic train/test splits: the 80/20 protocol of the linear probe, controlled by a seed."""

from __future__ import annotations

import numpy as np


def train_test_split(n: int, seed: int, train_frac: float = 0.8) -> tuple[np.ndarray, np.ndarray]:
    """Split ``range(n)`` into sorted ``(train_idx, test_idx)`` (int64), the same for the same ``seed``.

    ``numpy.random.default_rng(seed)`` draws one permutation; the first ``round(train_frac * n)`` indices
    train. Sorted indices keep HDF5 reads in file order (faster, and reproducible listings).
    """
    if n < 2:
        raise ValueError(f"train_test_split: need at least 2 samples, got n={n}")
    if not 0.0 < train_frac < 1.0:
        raise ValueError(f"train_test_split: train_frac must be in (0, 1), got {train_frac}")
    n_train = min(max(int(round(train_frac * n)), 1), n - 1)
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[:n_train]).astype(np.int64), np.sort(perm[n_train:]).astype(np.int64)
