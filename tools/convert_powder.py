"""Convert POWDER RF fingerprinting captures (cf32 ``.bin`` + JSON metadata per capture) to a wfm HDF5 file.

Layout: ``RAW_DIR/**/<capture>.bin`` (interleaved little-endian float32 I/Q) next to ``<capture>.json`` with
at least ``transmitter`` (the class: which radio sent it) and ``sample_rate``. Each capture is cut into
windows of ``frames`` STFT frames of ``nfft`` bins → power → dB → bicubic resize.

    python tools/convert_powder.py RAW_DIR OUT_DIR [--size 112] [--nfft 256] [--frames 256] [--name powder]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from wfm.data import transforms
from wfm.data.hdf5 import label_meta, write_dataset_file


def convert(
    raw_dir: str | Path,
    out_dir: str | Path,
    size: int = 112,
    nfft: int = 256,
    frames: int = 256,
    max_windows: int | None = None,
    name: str = "powder",
) -> Path:
    """Convert every ``*.bin`` + ``*.json`` pair under ``raw_dir`` into ``out_dir/<name>.h5``."""
    raw_dir = Path(raw_dir)
    bins = sorted(raw_dir.rglob("*.bin"))
    if not bins:
        raise FileNotFoundError(f"{raw_dir}: no *.bin captures")
    specs: list[np.ndarray] = []
    tx: list[str] = []
    for b in bins:
        mp = b.with_suffix(".json")
        if not mp.exists():
            raise FileNotFoundError(f"{mp}: metadata of capture {b.name} missing")
        meta = json.loads(mp.read_text())
        if "transmitter" not in meta:
            raise ValueError(f"{mp}: key 'transmitter' missing; expected the transmitter id (class)")
        raw = np.fromfile(b, dtype="<f4")
        if raw.size % 2:
            raise ValueError(f"{b}: odd number of float32 values; expected interleaved I/Q")
        iq = raw[0::2] + 1j * raw[1::2]
        s = transforms.iq_spectrograms(iq, nfft, frames, max_windows=max_windows)
        specs.append(s)
        tx += [str(meta["transmitter"])] * len(s)
    classes = sorted(set(tx))
    if len(tx) == 0:
        raise ValueError(f"{raw_dir}: captures too short for one window of {frames} frames of {nfft} bins")
    x = transforms.preprocess(np.concatenate(specs), power=True, size=size)
    labels = np.array([classes.index(t) for t in tx], dtype=np.int64)
    prep = transforms.describe(
        True, size, stft={"nfft": nfft, "frames": frames, "hop": nfft // 2, "window": "hann"}
    )
    return write_dataset_file(
        out_dir,
        name,
        x,
        {"label": labels},
        label_meta({"label": "classification"}, {"label": classes}),
        source=f"powder:{raw_dir.name}",
        modality="spectrogram",
        preprocessing=prep,
    )


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("raw_dir")
    p.add_argument("out_dir")
    p.add_argument("--size", type=int, default=112)
    p.add_argument("--nfft", type=int, default=256)
    p.add_argument("--frames", type=int, default=256)
    p.add_argument("--max-windows", type=int, default=None, help="per capture")
    p.add_argument("--name", default="powder")
    a = p.parse_args(argv)
    print(convert(a.raw_dir, a.out_dir, a.size, a.nfft, a.frames, a.max_windows, a.name))


if __name__ == "__main__":
    main()
