"""Write a tiny DeepMIMO export: complex ``channels`` (N, M, K) of 1-path ULA users, ``los``, ``scenario``."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np


def make(root: str | Path, n: int = 12, m: int = 16, k: int = 8, scenario: str = "O1_3p5") -> Path:
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(5)
    # User u arrives along the spatial frequency of beam 4u of a 64-beam codebook, so its best beam is known.
    beams = (4 * np.arange(n)) % 64
    steer = np.exp(2j * np.pi * np.outer(beams, np.arange(m)) / 64)  # (N, M)
    gains = rng.normal(size=(n, 1, k)) + 1j * rng.normal(size=(n, 1, k))
    channels = (steer[:, :, None] * gains).astype(np.complex64)
    los = np.array([1, 0, -1] * (n // 3) + [1] * (n % 3))
    path = root / "deepmimo.npz"
    np.savez(path, channels=channels, los=los, scenario=np.array(scenario), expected_beam64=beams)
    return path


if __name__ == "__main__":
    print(make(sys.argv[1] if len(sys.argv) > 1 else "deepmimo_tiny"))
