"""``wfm-generate SOURCE ARGS...``: write wfm HDF5 sets from an outside simulator.

    wfm-generate sionna OUT.h5 --scenario UMi --task los --samples 2000 --seed 0
    wfm-generate sionna --help

Sources: ``sionna`` (3GPP TR 38.901 channels, :mod:`wfm.data.sionna_source`; the optional extra
``pip install -e ".[sionna]"``). Errors are one line, exit 1.
"""

from __future__ import annotations

import importlib
import sys

SOURCES = {"sionna": "wfm.data.sionna_source"}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    usage = f"usage: wfm-generate {{{','.join(SOURCES)}}} ARGS...  (wfm-generate NAME --help for one)"
    if not argv or argv[0] in ("-h", "--help"):
        print(usage)
        return 0
    if argv[0] not in SOURCES:
        print(f"wfm-generate: unknown source {argv[0]!r}; {usage}", file=sys.stderr)
        return 2
    module = importlib.import_module(SOURCES[argv[0]])
    try:
        return int(module.main(argv[1:]))
    except (OSError, ValueError, KeyError, ImportError) as err:
        print(f"wfm-generate {argv[0]}: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
