"""POWDER RF fingerprinting captures (cf32 ``.bin`` + JSON metadata per capture) -> a wfm spectrogram HDF5 file.

Layout: ``RAW_DIR/**/<capture>.bin`` (interleaved little-endian float32 I/Q) next to ``<capture>.json``. The
class (which radio sent it) is read from ``--label``, by default ``json:transmitter`` (the documented
layout); releases that keep it elsewhere take e.g. ``json:meta.tx_id``, ``filename:(bs\\d+)`` or ``folder``.
Each capture is cut into windows of ``frames`` STFT frames of ``nfft`` bins -> power -> dB -> bicubic resize.

    wfm-convert powder RAW_DIR OUT_DIR [--size 112] [--nfft 256] [--frames 256] [--label json:transmitter]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from wfm.data import transforms
from wfm.data.converters.common import (
    LabelSource,
    Report,
    class_indices,
    iq_windows,
    read_interleaved_iq,
    stft_description,
)
from wfm.data.hdf5 import label_meta, write_dataset_file

DEFAULT_LABEL = "json:transmitter"


def convert(
    raw_dir: str | Path,
    out_dir: str | Path,
    size: int = 112,
    nfft: int = 256,
    frames: int = 256,
    max_windows: int | None = None,
    name: str = "powder",
    label: str = DEFAULT_LABEL,
) -> Report:
    """Convert every ``*.bin`` capture under ``raw_dir`` into ``out_dir/<name>.h5``."""
    raw_dir = Path(raw_dir)
    source = LabelSource.parse(label)
    bins = sorted(raw_dir.rglob("*.bin"))
    if not bins:
        raise FileNotFoundError(f"{raw_dir}: no *.bin captures")
    report = Report()
    specs: list[np.ndarray] = []
    tx: list[str] = []
    for b in bins:
        mp = b.with_suffix(".json")
        meta = None
        if mp.exists():
            try:
                meta = json.loads(mp.read_text())
            except json.JSONDecodeError as err:
                raise ValueError(f"{mp}: not valid JSON ({err})") from err
        elif source.kind == "json":
            raise FileNotFoundError(f"{mp}: metadata of capture {b.name} missing (labels from {source})")
        lab = source.read(b, meta)
        if lab is None:
            raise ValueError(f"{mp if source.kind == 'json' else b}: no label at {source}; choose where the "
                             "transmitter id is with --label (json:KEY.PATH, filename:REGEX, folder)")
        report.files_read += 1
        s = iq_windows(read_interleaved_iq(b), nfft, frames, max_windows)
        if not len(s):
            report.skip(f"capture shorter than one window ({nfft + (frames - 1) * (nfft // 2)} samples)")
        specs.append(s)
        tx += [lab] * len(s)
    if not tx:
        raise ValueError(f"{raw_dir}: captures too short for one window of {frames} frames of {nfft} bins")
    classes, labels = class_indices(tx, raw_dir, source)
    x = transforms.preprocess(np.concatenate(specs), power=True, size=size)
    prep = transforms.describe(True, size, stft=stft_description(nfft, frames), labels_from=str(source))
    report.outputs.append(write_dataset_file(
        out_dir,
        name,
        x,
        {"label": labels},
        label_meta({"label": "classification"}, {"label": classes}),
        source=f"powder:{raw_dir.name}",
        modality="spectrogram",
        preprocessing=prep,
    ))
    report.samples_written = len(labels)
    return report


def main(argv: list[str] | None = None) -> Report:
    p = argparse.ArgumentParser(prog="wfm-convert powder", description=__doc__.splitlines()[0])
    p.add_argument("raw_dir")
    p.add_argument("out_dir")
    p.add_argument("--size", type=int, default=112)
    p.add_argument("--nfft", type=int, default=256)
    p.add_argument("--frames", type=int, default=256)
    p.add_argument("--max-windows", type=int, default=None, help="per capture")
    p.add_argument("--name", default="powder")
    p.add_argument("--label", default=DEFAULT_LABEL, help="where the transmitter id is (wfm.data.converters.common)")
    a = p.parse_args(argv)
    return convert(a.raw_dir, a.out_dir, a.size, a.nfft, a.frames, a.max_windows, a.name, a.label)
