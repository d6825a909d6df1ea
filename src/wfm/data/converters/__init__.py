"""Converters: raw files of one public format -> the wfm HDF5 format (preprocessing recorded in the file).

One module per raw format, each with ``convert(...)`` (returns a :class:`~wfm.data.converters.common.Report`)
and ``main(argv)``. The ``wfm-convert`` command dispatches to them::

    wfm-convert sigmf RAW_DIR OUT_DIR          # SigMF recordings (annotation labels)
    wfm-convert powder RAW_DIR OUT_DIR         # POWDER captures (.bin + .json)
    wfm-convert commrad IMAGE_DIR OUT_DIR      # CommRad RF spectrogram images
    wfm-convert nr_positioning FILE.mat OUT_DIR
    wfm-convert ntufi NTU-Fi_HAR OUT_DIR
    wfm-convert deepmimo CHANNELS.npz OUT_DIR
    wfm-convert NAME --help

Adding a format: a module here with ``convert`` and ``main``, and its name in ``CONVERTERS``.
"""

from __future__ import annotations

import importlib
import sys

CONVERTERS = ("commrad", "deepmimo", "nr_positioning", "ntufi", "powder", "sigmf")


def main(argv: list[str] | None = None) -> int:
    """``wfm-convert NAME ARGS...``: run converter ``NAME``, print its report; errors are one line, exit 1."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in CONVERTERS:
        msg = f"usage: wfm-convert {{{','.join(CONVERTERS)}}} ARGS...  (wfm-convert NAME --help for one)"
        if argv and argv[0] not in ("-h", "--help"):
            print(f"wfm-convert: unknown format {argv[0]!r}; {msg}", file=sys.stderr)
            return 2
        print(msg)
        return 0
    module = importlib.import_module(f"wfm.data.converters.{argv[0]}")
    try:
        report = module.main(argv[1:])
    except (OSError, ValueError, KeyError) as err:
        print(f"wfm-convert {argv[0]}: error: {err}", file=sys.stderr)
        return 1
    print(report)
    return 0
