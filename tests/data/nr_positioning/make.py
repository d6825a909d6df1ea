"""Write a tiny 5G NR positioning file as MATLAB v7.3 does: HDF5, 512-byte header, axes reversed."""

from __future__ import annotations

import sys
from pathlib import Path

import h5py
import numpy as np


def make(root: str | Path, n: int = 10, c: int = 4) -> tuple[Path, np.ndarray, np.ndarray]:
    """Returns ``(path, features (N, C, 16, 193), position (N, 3))`` as MATLAB sees them."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(2)
    features = rng.random((n, c, 16, 193))
    features[:, :, 0, :] += np.arange(n)[:, None, None]  # sample-dependent, to catch axis mix-ups
    position = rng.uniform(-50, 50, (n, 3))
    path = root / "nr_positioning.mat"
    with h5py.File(path, "w", userblock_size=512) as f:
        # MATLAB writes column-major: h5py sees reversed axes.
        f.create_dataset("features", data=features.T)
        f["features"].attrs["MATLAB_class"] = np.bytes_("double")
        g = f.create_group("labels")
        g.attrs["MATLAB_class"] = np.bytes_("struct")
        g.create_dataset("position", data=position.T)
        g["position"].attrs["MATLAB_class"] = np.bytes_("double")
    header = (
        b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 ."
    )
    with open(path, "r+b") as fh:
        fh.write(header.ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02" + b"IM")
    return path, features, position


if __name__ == "__main__":
    print(make(sys.argv[1] if len(sys.argv) > 1 else "nr_tiny")[0])
