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
import os
import sys
from collections.abc import Callable
from typing import Any

CONVERTERS = ("commrad", "deepmimo", "deepsense", "nr_positioning", "ntufi", "powder", "radioml2016", "radioml2018",
              "rml22", "sigmf")


def error_line(err: BaseException) -> str:
    """The one line an error prints: its message (the file and item it names) with white space collapsed; an
    exception without a message gives its type, and one that is not a ValueError / OSError (a converter's own
    checks raise those) its type too, so a library error that slipped through still says what it was."""
    text = " ".join(str(err).split())
    if not text:
        return type(err).__name__
    if isinstance(err, KeyError) and len(err.args) == 1:
        text = f"missing key {err.args[0]!r}"
    return text if isinstance(err, (ValueError, OSError, KeyError)) else f"{type(err).__name__}: {text}"


def debug_flag(argv: list[str]) -> tuple[bool, list[str]]:
    """``(debug, argv without --debug)``: ``--debug`` anywhere or ``WFM_DEBUG=1`` asks for tracebacks."""
    debug = "--debug" in argv or os.environ.get("WFM_DEBUG", "") not in ("", "0")
    return debug, [a for a in argv if a != "--debug"]


def run_one_line(prog: str, module: str, argv: list[str], debug: bool,
                 describe: Callable[[BaseException], str] = error_line) -> tuple[int, Any]:
    """Import ``module`` and call its ``main(argv)``: ``(0, its result)``, or, on any failure, the error as one
    line on stderr (``PROG: error: ...``, ``describe`` turning it to text) and ``(1, None)``; Ctrl-C is one line
    and 130. With ``debug`` the exception propagates (the traceback). Shared by ``wfm-convert`` and
    ``wfm-generate``."""
    try:
        return 0, importlib.import_module(module).main(argv)
    except KeyboardInterrupt:
        if debug:
            raise
        print(f"{prog}: interrupted; nothing was written under the output name", file=sys.stderr)
        return 130, None
    except Exception as err:  # noqa: BLE001 - every failure is one line (the traceback with --debug)
        if debug:
            raise
        print(f"{prog}: error: {describe(err)}  (--debug shows the traceback)", file=sys.stderr)
        return 1, None


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
    code, report = run_one_line(f"wfm-convert {argv[0]}", f"wfm.data.converters.{argv[0]}", argv[1:], debug)
    if code == 0:
        print(report)
    return code
