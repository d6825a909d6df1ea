"""``wfm-generate SOURCE ARGS...``: write wfm HDF5 sets from an outside simulator.

    wfm-generate sionna OUT.h5 --scenario UMi --task los --samples 2000 --seed 0
    wfm-generate sionna --help

Sources: ``sionna`` (3GPP TR 38.901 channels, :mod:`wfm.data.sionna_source`; the optional extra
``pip install -e ".[sionna]"``). Errors are one line, exit 1 (usage errors exit 2); ``--debug`` shows the
traceback.
"""

from __future__ import annotations

import importlib
import sys

SOURCES = {"sionna": "wfm.data.sionna_source"}


def main(argv: list[str] | None = None) -> int:
    """``wfm-generate SOURCE ARGS...``. An error is one line on stderr (``wfm-generate SOURCE: error: ...``, exit 1;
    a full disk names the output file and leaves nothing behind), a usage error one line and exit 2; ``--debug``
    (anywhere) or ``WFM_DEBUG=1`` shows the traceback instead, as for ``wfm`` and ``wfm-convert``."""
    from wfm.oneline import debug_flag, error_line, run_one_line

    debug, argv = debug_flag(list(sys.argv[1:] if argv is None else argv))
    usage = f"usage: wfm-generate {{{','.join(SOURCES)}}} ARGS...  (wfm-generate NAME --help for one)"
    if not argv or argv[0] in ("-h", "--help"):
        print(usage)
        return 0
    if argv[0] not in SOURCES:
        print(f"wfm-generate: unknown source {argv[0]!r}; {usage}", file=sys.stderr)
        return 2

    def describe(err: BaseException) -> str:  # the optional extra's ImportError says how to install it
        return " ".join(str(err).split()) if isinstance(err, ImportError) else error_line(err)

    code, result = run_one_line(f"wfm-generate {argv[0]}",
                                lambda: importlib.import_module(SOURCES[argv[0]]).main(argv[1:]), debug, describe)
    return int(result) if code == 0 else code

if __name__ == "__main__":
    sys.exit(main())
