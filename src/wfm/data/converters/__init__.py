"""Converters: raw files of one public format -> the wfm HDF5 format (preprocessing recorded in the file).

One module per raw format, each with ``convert(...)`` (returns a :class:`~wfm.data.converters.common.Report`)
and ``main(argv)``. The ``wfm-convert`` command dispatches to them::

    wfm-convert sigmf RAW_DIR OUT_DIR          # SigMF recordings (annotation labels)
    wfm-convert powder RAW_DIR OUT_DIR         # POWDER captures (.bin + .json)
    wfm-convert commrad IMAGE_DIR OUT_DIR      # CommRad RF spectrogram images
    wfm-convert nr_positioning FILE.mat OUT_DIR
    wfm-convert ntufi NTU-Fi_HAR OUT_DIR
    wfm-convert deepmimo CHANNELS.npz OUT_DIR
    wfm-convert deepsense SCENARIO_DIR OUT.h5              # DeepSense 6G multi-sensor scenario -> sequence file
    wfm-convert radioml2016 RML2016.10a_dict.pkl OUT_DIR   # RadioML 2016.10a/b, 2016.04C (safe unpickler)
    wfm-convert rml22 RML22.pickle.01A OUT_DIR             # RML22 (2016.10a layout)
    wfm-convert radioml2018 GOLD_XYZ_OSC.0001_1024.hdf5 OUT_DIR [--max-samples N]
    wfm-convert NAME --help

Errors are one line on stderr (exit 1; a usage error, exit 2); ``--debug`` or ``WFM_DEBUG=1`` shows the traceback.

The RadioML converters write two files each, ``<name>_iq.h5`` and ``<name>_spectrogram.h5`` (shared code in
:mod:`~wfm.data.converters.radioml`, pickles read by :mod:`~wfm.data.converters.safe_pickle`).

Adding a format: a module here with ``convert`` and ``main``, and its name in ``CONVERTERS``.
"""

from __future__ import annotations

import importlib
import sys

from wfm.oneline import debug_flag, run_one_line

CONVERTERS = ("commrad", "deepmimo", "deepsense", "nr_positioning", "ntufi", "powder", "radioml2016", "radioml2018",
              "rml22", "sigmf")


def main(argv: list[str] | None = None) -> int:
    """``wfm-convert NAME ARGS...``: run converter ``NAME``, print its report. An error is one line on stderr
    (``wfm-convert NAME: error: <file>: <what is wrong>; expected ...``) and exit 1; a usage error (an unknown
    option, a count of 0...) one line and exit 2; ``--debug`` (anywhere) or ``WFM_DEBUG=1`` shows the traceback
    instead, as for ``wfm``."""
    debug, argv = debug_flag(list(sys.argv[1:] if argv is None else argv))
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in CONVERTERS:
        msg = f"usage: wfm-convert {{{','.join(CONVERTERS)}}} ARGS...  (wfm-convert NAME --help for one)"
        if argv and argv[0] not in ("-h", "--help"):
            print(f"wfm-convert: unknown format {argv[0]!r}; {msg}", file=sys.stderr)
            return 2
        print(msg)
        return 0
    code, report = run_one_line(f"wfm-convert {argv[0]}",
                                lambda: importlib.import_module(f"wfm.data.converters.{argv[0]}").main(argv[1:]), debug)
    if code == 0:
        print(report)
    return code
