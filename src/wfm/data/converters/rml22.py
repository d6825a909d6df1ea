"""RML22 (a pickle ``{(modulation, snr): (n, 2, 128)}``, the RadioML 2016.10a layout) -> two wfm HDF5 files.

Writes ``<name>_iq.h5`` (modality ``iq``, ``(N, 1, 2, 128)``, the source's values) and ``<name>_spectrogram.h5``
(power STFT, nfft 16 / hop 8 -> 15 frames, dB, resized to ``--size``); labels ``label`` (the modulations found,
sorted) and ``snr_db`` (dB, the stratification variable of ``label``). The pickle is read with a restricted
unpickler that refuses anything but numpy arrays (:mod:`wfm.data.converters.safe_pickle`). See
:mod:`wfm.data.converters.radioml`.

    wfm-convert rml22 RML22.pickle.01A OUT_DIR [--size 112] [--nfft 16] [--name rml22]
        [--snr-min DB] [--snr-max DB] [--max-samples N] [--seed 0]
"""

from __future__ import annotations

from pathlib import Path

from wfm.data.converters.common import Report
from wfm.data.converters.radioml import convert_pickle, pickle_main

NAME = "rml22"


def convert(src: str | Path, out_dir: str | Path, size: int = 112, nfft: int = 16, name: str | None = None,
            snr_min: float | None = None, snr_max: float | None = None, max_samples: int | None = None,
            seed: int = 0) -> Report:
    """Convert an RML22 pickle to ``out_dir/<name>_iq.h5`` and ``out_dir/<name>_spectrogram.h5``."""
    return convert_pickle(src, out_dir, NAME, size, nfft, name, snr_min, snr_max, max_samples, seed)


def main(argv: list[str] | None = None) -> Report:
    return pickle_main(NAME, __doc__.splitlines()[0], argv)
