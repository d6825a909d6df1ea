"""One line per failure for wfm's plain-argparse commands (``wfm-convert``, ``wfm-generate``, ``wfm-export``,
``wfm-import``): ``PROG: error: <file>: <what is wrong>  (--debug shows the traceback)`` and exit 1, Ctrl-C one
line and 130; ``--debug`` anywhere or ``WFM_DEBUG=1`` lets the exception through (the traceback), as for ``wfm``."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any


def error_line(err: BaseException) -> str:
    """The one line an error prints: its message (the file and item it names) with white space collapsed; an
    exception without a message gives its type, and one that is not a ValueError / OSError (a command's own
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


def run_one_line(prog: str, call: Callable[[], Any], debug: bool,
                 describe: Callable[[BaseException], str] = error_line) -> tuple[int, Any]:
    """``(0, call())``, or, on any failure, the error as one line on stderr (``PROG: error: ...``, ``describe``
    turning it to text) and ``(1, None)``; Ctrl-C is one line and 130. With ``debug`` the exception propagates."""
    try:
        return 0, call()
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
