"""Convert over-the-air RF recordings in SigMF (``.sigmf-meta`` + ``.sigmf-data``) to a wfm HDF5 file.

Each annotation (``core:sample_start``, ``core:sample_count``, ``core:label``) is cut into windows of
``frames`` STFT frames of ``nfft`` bins; a recording without annotations takes its folder name as label.
Spectrogram power → dB → bicubic resize; statistics from the training part of the seed-0 split.

    python tools/convert_sigmf.py RAW_DIR OUT_DIR [--size 112] [--nfft 256] [--frames 256]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from wfm.data import transforms
from wfm.data.hdf5 import label_meta, write_dataset_file

DTYPES = {"cf32_le": ("<f4", 1.0), "cf64_le": ("<f8", 1.0), "ci16_le": ("<i2", 1 / 32768.0)}


def read_sigmf(meta_path: Path) -> tuple[dict, np.ndarray]:
    """The metadata and complex64 samples of one SigMF recording."""
    meta = json.loads(meta_path.read_text())
    glob = meta.get("global", {})
    dtype = glob.get("core:datatype")
    if dtype not in DTYPES:
        raise ValueError(
            f"{meta_path}: core:datatype {dtype!r} not supported; expected one of {sorted(DTYPES)}"
        )
    if "core:sample_rate" not in glob:
        raise ValueError(f"{meta_path}: global.core:sample_rate missing")
    data_path = meta_path.with_name(meta_path.name[: -len(".sigmf-meta")] + ".sigmf-data")
    if not data_path.exists():
        raise FileNotFoundError(f"{data_path}: data file of {meta_path.name} missing")
    np_dtype, scale = DTYPES[dtype]
    raw = np.fromfile(data_path, dtype=np_dtype)
    if raw.size % 2:
        raise ValueError(f"{data_path}: odd number of values; expected interleaved I/Q pairs")
    iq = (raw[0::2] + 1j * raw[1::2]).astype(np.complex64) * scale
    return meta, iq


def convert(
    raw_dir: str | Path,
    out_dir: str | Path,
    size: int = 112,
    nfft: int = 256,
    frames: int = 256,
    max_windows: int | None = None,
    name: str | None = None,
) -> Path:
    """Convert every ``*.sigmf-meta`` under ``raw_dir``; returns the written file.

    The output name is ``name``, else ``global.core:collection`` of the first recording, else the folder
    name; it must be a plain file name (checked by ``safe_output_path``).
    """
    raw_dir = Path(raw_dir)
    metas = sorted(raw_dir.rglob("*.sigmf-meta"))
    if not metas:
        raise FileNotFoundError(f"{raw_dir}: no *.sigmf-meta files")
    specs: list[np.ndarray] = []
    names: list[str] = []
    collection = None
    for mp in metas:
        meta, iq = read_sigmf(mp)
        collection = collection or meta.get("global", {}).get("core:collection")
        segments = [
            (int(a.get("core:sample_start", 0)), a.get("core:sample_count"), str(a["core:label"]))
            for a in meta.get("annotations", [])
            if "core:label" in a
        ] or [(0, None, mp.parent.name)]
        for start, count, label in segments:
            seg = iq[start : None if count is None else start + int(count)]
            s = transforms.iq_spectrograms(seg, nfft, frames, max_windows=max_windows)
            specs.append(s)
            names += [label] * len(s)
    if not names:
        raise ValueError(f"{raw_dir}: recordings too short for one window of {frames} frames of {nfft} bins")
    classes = sorted(set(names))
    labels = np.array([classes.index(c) for c in names], dtype=np.int64)
    x = transforms.preprocess(np.concatenate(specs), power=True, size=size)
    prep = transforms.describe(
        True,
        size,
        stft={"nfft": nfft, "frames": frames, "hop": nfft // 2, "window": "hann", "fftshift": True},
    )
    return write_dataset_file(
        out_dir,
        name or collection or raw_dir.name,
        x,
        {"label": labels},
        label_meta({"label": "classification"}, {"label": classes}),
        source=f"sigmf:{raw_dir.name}",
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
    p.add_argument("--max-windows", type=int, default=None, help="per annotation")
    p.add_argument("--name", default=None, help="output file name (without .h5)")
    a = p.parse_args(argv)
    print(convert(a.raw_dir, a.out_dir, a.size, a.nfft, a.frames, a.max_windows, a.name))


if __name__ == "__main__":
    main()
