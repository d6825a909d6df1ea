"""Write a tiny SigMF collection (two recordings, three labelled annotations) in the real on-disk layout."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


def make(root: str | Path, collection: str = "ota_tiny", num_channels: int = 1) -> Path:
    """``num_channels`` > 1: every recording holds that many antennas, samples interleaved channel by channel
    (SigMF ``core:num_channels``), antenna ``k`` a phase-shifted copy of antenna 0 plus its own noise."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    fs = 1e6
    for rec, labels in (("rec0", ["wifi", "bluetooth"]), ("rec1", ["lte"])):
        n_per = 4 * (32 + 7 * 16)  # 4 windows of 8 frames of nfft=32
        t = np.arange(n_per * len(labels)) / fs
        iq = np.stack([np.exp(2j * np.pi * 1e5 * t + 1j * k) + 0.1 * (rng.normal(size=t.size)
                                                                        + 1j * rng.normal(size=t.size))
                       for k in range(num_channels)], axis=1).reshape(-1)  # (t, channel) interleaved
        inter = np.empty(2 * iq.size, np.float32)
        inter[0::2], inter[1::2] = iq.real, iq.imag
        inter.tofile(root / f"{rec}.sigmf-data")
        meta = {
            "global": {
                "core:datatype": "cf32_le",
                "core:sample_rate": fs,
                "core:version": "1.0.0",
                "core:collection": collection,
                "core:num_channels": num_channels,
            },
            "captures": [{"core:sample_start": 0, "core:frequency": 2.4e9}],
            "annotations": [
                {"core:sample_start": i * n_per, "core:sample_count": n_per, "core:label": lab}
                for i, lab in enumerate(labels)
            ],
        }
        (root / f"{rec}.sigmf-meta").write_text(json.dumps(meta, indent=1))
    return root


if __name__ == "__main__":
    print(make(sys.argv[1] if len(sys.argv) > 1 else "sigmf_tiny"))
