"""Shared by the benchmark scripts: write a table as one '## <title>' section of docs/benchmarks.md.

The section writing is :mod:`wfm.doc_section`'s; this adds the command line of the running script.
"""

from __future__ import annotations

from wfm.doc_section import publish as publish_section
from wfm.doc_section import script_command


def publish(lines: list[str], out: str, title: str, argv: list[str] | None = None) -> None:
    """Print the table and, unless ``out`` is ``-``, write it as section ``title`` of ``out`` with the command
    (``python tools/<script> <args>``, run from the repository root) that produced it."""
    publish_section(lines, out, title, script_command(argv))
