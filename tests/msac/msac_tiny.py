"""A tiny sequence file (random frames, labels consistent with them) for the JEPA-MSAC tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from wfm.data.sequence import write_sequence_file

SHAPES = {"image": (3, 12, 16), "radar": (1, 8, 8), "lidar": (1, 8, 16), "gps": (2,), "beam_power": (16,)}
TOKENS = {"image": 4, "radar": 4, "lidar": 4, "gps": 1, "beam_power": 1}


def tiny_sequence_file(path: Path, n: int = 24, frames: int = 7, history: int = 4, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    inputs = {k: rng.random((n, frames, *s)).astype(np.float32) for k, s in SHAPES.items()}
    t = np.arange(frames)[None, :, None]
    inputs["gps"] = (rng.normal(size=(n, 1, 2)) * 10 + t * rng.normal(size=(n, 1, 2))).astype(np.float32)
    inputs["beam_power"] = (rng.normal(size=(n, frames, 16)) * 5 - 80).astype(np.float32)
    p = inputs["beam_power"].astype(np.float64)
    labels = {"position": inputs["gps"].copy(), "beam": p.argmax(-1),
              "beam_power": inputs["beam_power"].copy(),
              "rssi": (10 * np.log10(np.mean(10 ** (p / 10), -1))).astype(np.float32)}
    index = {"sequence": np.arange(n) // 4, "start": np.arange(n) % 4, "block": np.arange(n) // 8}
    return write_sequence_file(path, inputs, labels, index, history=history, num_beams=16, frame_rate_hz=10.0,
                               source="test", preprocessing={"test": True})
