"""POWDER RF fingerprinting captures (cf32 ``.bin`` + JSON metadata per capture) -> a wfm spectrogram HDF5 file.

Layout: ``RAW_DIR/**/<capture>.bin`` (interleaved little-endian float32 I/Q) next to ``<capture>.json``. The
class (which radio sent it) is read from ``--label``, by default ``json:transmitter`` (the documented
layout); releases that keep it elsewhere take e.g. ``json:meta.tx_id``, ``filename:(bs\\d+)`` or ``folder``.
Each capture is cut into windows of ``frames`` STFT frames of ``nfft`` bins -> power -> dB -> bicubic resize.

    wfm-convert powder RAW_DIR OUT_DIR [--size 112] [--nfft 256] [--frames 256] [--label json:transmitter]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from wfm.data.converters.common import (
    LabelSource,
    Report,
    find_raw,
    iq_arguments,
    iq_windows,
    read_interleaved_iq,
    read_json,
    write_labelled_windows,
)

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
    bins = find_raw(raw_dir, "*.bin", "captures")
    report = Report()
    specs: list[np.ndarray] = []
    tx: list[str] = []
    for b in bins:
        mp = b.with_suffix(".json")
        meta = None
        if mp.exists():
            meta = read_json(mp, "capture metadata")  # any JSON type: the label source finds its key or says not
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
    return write_labelled_windows(out_dir, name, specs, tx, raw_dir, source, size, nfft, frames,
                                  f"powder:{raw_dir.name}", report)


def main(argv: list[str] | None = None) -> Report:
    p = iq_arguments("wfm-convert powder", __doc__.splitlines()[0], "powder", DEFAULT_LABEL, "capture")
    a = p.parse_args(argv)
    return convert(a.raw_dir, a.out_dir, a.size, a.nfft, a.frames, a.max_windows, a.name, a.label)
