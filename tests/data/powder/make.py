"""Write tiny POWDER-style captures: cf32 ``.bin`` IQ + JSON metadata, three transmitters."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


def make(root: str | Path) -> Path:
    root = Path(root)
    rng = np.random.default_rng(1)
    for k, tx in enumerate(("bs1", "bs2", "bs3")):
        folder = root / f"day1/{tx}"
        folder.mkdir(parents=True, exist_ok=True)
        n = 3 * (32 + 7 * 16)  # 3 windows of 8 frames, nfft=32
        iq = np.exp(2j * np.pi * (0.05 + 0.1 * k) * np.arange(n)) + 0.05 * rng.normal(size=n)
        inter = np.empty(2 * n, "<f4")
        inter[0::2], inter[1::2] = iq.real, iq.imag
        inter.tofile(folder / "capture_0.bin")
        meta = {"transmitter": tx, "sample_rate": 7.68e6, "center_frequency": 3.55e9, "receiver": "ustar"}
        (folder / "capture_0.json").write_text(json.dumps(meta))
    return root


if __name__ == "__main__":
    print(make(sys.argv[1] if len(sys.argv) > 1 else "powder_tiny"))
