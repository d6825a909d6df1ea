"""Write tiny CommRad-style spectrogram PNGs named ``<class>_<index>.png`` (three classes, RGB and grey)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

CLASSES = ("ble_1m", "lte", "wifi_ac")


def make(root: str | Path) -> Path:
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(4)
    for k, cls in enumerate(CLASSES):
        for i in range(3):
            img = (rng.random((40, 30)) * 60 + 60 * k).astype(np.uint8)
            mode = "RGB" if i == 0 else "L"
            Image.fromarray(img).convert(mode).save(root / f"{cls}_{i}.png")
    return root


if __name__ == "__main__":
    print(make(sys.argv[1] if len(sys.argv) > 1 else "commrad_tiny"))
