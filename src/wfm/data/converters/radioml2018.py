"""RadioML 2018.01A (HDF5 ``X`` (N, 1024, 2), ``Y`` one-hot (N, 24), ``Z`` SNR (N, 1)) -> two wfm HDF5 files.

Writes ``<name>_iq.h5`` (modality ``iq``, ``(N, 1, 2, 1024)``, the source's values, ``X`` transposed to I / Q rows)
and ``<name>_spectrogram.h5`` (power STFT, nfft 64 / hop 32 -> 31 frames, dB, resized to ``--size``); labels
``label`` and ``snr_db`` (dB, the stratification variable of ``label``). The file holds no class names: the
documented order (:data:`~wfm.data.converters.radioml.RADIOML2018_CLASSES`) is the default, ``--classes``
overrides it (comma-separated, or a JSON list / text file of one name per line; as many as ``Y`` has columns).
``X`` is read in chunks and never whole (the release is 2.56 M captures, ~21 GB); ``--max-samples`` draws a
seeded subset balanced over class and SNR, ``--snr-min`` / ``--snr-max`` filter. See
:mod:`wfm.data.converters.radioml`.

    wfm-convert radioml2018 GOLD_XYZ_OSC.0001_1024.hdf5 OUT_DIR [--size 112] [--nfft 64] [--name radioml2018]
        [--classes NAMES|FILE] [--snr-min DB] [--snr-max DB] [--max-samples N] [--seed 0]
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from wfm.data.converters.common import Report, converter_arguments
from wfm.data.converters.radioml import read_radioml2018, selection_arguments, write_views

NAME = "radioml2018"


def convert(src: str | Path, out_dir: str | Path, size: int = 112, nfft: int = 64, name: str | None = None,
            classes: str | Sequence[str] | None = None, snr_min: float | None = None, snr_max: float | None = None,
            max_samples: int | None = None, seed: int = 0) -> Report:
    """Convert a RadioML 2018.01A file to ``out_dir/<name>_iq.h5`` and ``out_dir/<name>_spectrogram.h5``;
    ``classes``: the name of each column of ``Y`` (a list, a comma-separated string or a file path)."""
    caps = read_radioml2018(src, classes)
    return write_views(caps, out_dir, name or NAME, size, nfft, snr_min, snr_max, max_samples, seed,
                       Report(files_read=1))


def main(argv: list[str] | None = None) -> Report:
    p = selection_arguments(converter_arguments(NAME, __doc__.splitlines()[0], "src", NAME), nfft=64)
    p.add_argument("--classes", default=None,
                   help="class of each Y column: comma-separated names, or a JSON list / text file (one a line); "
                        "default: the documented 2018.01A order")
    a = p.parse_args(argv)
    return convert(a.src, a.out_dir, a.size, a.nfft, a.name, a.classes, a.snr_min, a.snr_max, a.max_samples,
                   a.seed)
