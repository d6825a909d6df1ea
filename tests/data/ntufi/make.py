"""Write a tiny NTU-Fi HAR tree: ``{train_amp,test_amp}/<class>/*.mat`` with ``CSIamp`` (342, T), v5."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import scipy.io

CLASSES = ("box", "circle", "clean", "fall", "run", "walk")


def make(root: str | Path, t: int = 40) -> Path:
    root = Path(root)
    rng = np.random.default_rng(3)
    for split, per in (("train_amp", 2), ("test_amp", 1)):
        for k, cls in enumerate(CLASSES):
            d = root / split / cls
            d.mkdir(parents=True, exist_ok=True)
            for i in range(per):
                amp = rng.random((342, t)) + k  # class-dependent level
                scipy.io.savemat(d / f"{cls}{i}.mat", {"CSIamp": amp})
    return root


if __name__ == "__main__":
    print(make(sys.argv[1] if len(sys.argv) > 1 else "ntufi_tiny"))
