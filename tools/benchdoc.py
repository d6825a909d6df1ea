"""Shared by the benchmark scripts: replace one '## <title>' section of docs/benchmarks.md atomically."""

from __future__ import annotations

import re
from pathlib import Path

from wfm.atomic import atomic_file


def write_section(path: Path, title: str, body: str, command: str) -> None:
    """Replace (or append) section ``## title`` with ``body`` and the command that produced it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = "# Benchmarks\n\nEvery table below was produced by the command under it.\n"
    text = path.read_text() if path.exists() else header
    section = f"## {title}\n\n{body}\n\nProduced by: `{command}`\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    text = pattern.sub(section + "\n", text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + section
    with atomic_file(path) as f:
        f.write(text.encode("utf-8"))


def publish(lines: list[str], out: str, title: str, argv: list[str] | None = None) -> None:
    """Print the table and, unless ``out`` is ``-``, write it as section ``title`` of ``out`` with the command
    (``python tools/<script> <args>``) that produced it."""
    import shlex
    import sys

    argv = sys.argv if argv is None else argv
    text = "\n".join(lines)
    print(text)
    if out != "-":
        command = " ".join(["python", f"tools/{Path(argv[0]).name}", shlex.join(argv[1:])]).strip()
        write_section(Path(out), title, text, command)
