"""``atomic_file``: write a file so that readers see the old version or the complete new one, never a part.

The bytes go to a temporary file in the destination folder (same filesystem, so the final rename is atomic),
are fsync'ed, get the permissions a plain ``open`` would have given (``mkstemp`` makes them 0600), and replace
the destination with one ``os.replace``. On any error (or a KeyboardInterrupt) the temporary file is removed
and the destination is untouched.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextmanager
def atomic_file(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """Context manager yielding a binary file object whose content becomes ``path`` on a clean exit."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _default_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
