"""``atomic_file``: write a file so that readers see the old version or the complete new one, never a part.

The bytes go to a temporary file in the destination folder (same filesystem, so the final rename is atomic),
are fsync'ed, get the permissions a plain ``open`` would have given (``mkstemp`` makes them 0600), and replace
the destination with one ``os.replace``. On any error (or a KeyboardInterrupt) the temporary file is removed
and the destination is untouched.

A failed write (a full disk, a quota, an I/O error) is raised as :class:`WriteFailed`, an ``OSError`` whose
message is one line naming the destination: ``<path>: no space left on device; the previous file is kept``.
:func:`atomic_files` writes several files that replace their destinations only once all of them are on disk
(an exported ``.safetensors`` + ``.json`` pair never ends half new, half old on a full disk).
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import BinaryIO

#: errno values that mean "the filesystem cannot take the bytes", whatever the writer was doing
SPACE_ERRNOS = frozenset(e for e in (errno.ENOSPC, getattr(errno, "EDQUOT", None), errno.EFBIG) if e is not None)
#: what torch's zip writer says when the Python file object it writes into failed (it drops the errno)
TORCH_WRITE_FAILURES = ("unexpected pos", "PytorchStreamWriter failed")


#: what a failed write's errno means to the user: the file system's limits, or the process's RLIMIT_FSIZE
WRITE_REASONS = {errno.ENOSPC: "no space left on device", getattr(errno, "EDQUOT", -1): "disk quota exceeded",
                 errno.EFBIG: "file size limit exceeded"}


class WriteFailed(OSError):
    """Writing ``path`` failed (full disk, quota, I/O error); the previous file at ``path`` is untouched and no
    temporary file is left. ``str()`` is the one line the user sees."""

    def __init__(self, path: str | os.PathLike, code: int | None, kept: bool, what: str = "file",
                 plural: bool = False) -> None:
        reason = WRITE_REASONS.get(code) if code is not None else None
        if reason is None:
            reason = f"could not write it ({os.strerror(code)})" if code else "could not write it"
        after = (f"the previous {what}s are kept" if plural else f"the previous {what} is kept") if kept else \
            "nothing was written"
        super().__init__(code or errno.EIO, f"{path}: {reason}; {after}")
        self.filename = str(path)
        self.message = f"{path}: {reason}; {after}"
        self._args = (str(path), code, kept, what, plural)

    def __reduce__(self) -> tuple:  # picklable across processes (a DataLoader worker, a spawned rank)
        return type(self), self._args

    def __str__(self) -> str:
        return self.message


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _chain(err: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    e: BaseException | None = err
    while e is not None and e not in out:
        out.append(e)
        e = e.__cause__ or e.__context__
    return out


def _low_on_space(path: Path, margin: int = 1 << 20) -> bool:
    try:
        st = os.statvfs(path if path.is_dir() else path.parent)
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < margin


def write_error_code(err: BaseException, where: str | os.PathLike) -> int | None:
    """The errno behind a failed write into ``where`` (a file or its folder), or None when ``err`` is not a
    write failure: an ``OSError`` with a space errno anywhere in the chain, or torch's zip writer reporting
    a failed write (``unexpected pos`` / ``PytorchStreamWriter failed``: it drops the errno, so a filesystem
    with under 1 MiB free is taken as full; otherwise EIO)."""
    chain = _chain(err)
    for e in chain:
        if isinstance(e, OSError) and not isinstance(e, WriteFailed) and e.errno in SPACE_ERRNOS:
            return e.errno
    for e in chain:
        if isinstance(e, WriteFailed):
            return e.errno
    if any(isinstance(e, RuntimeError) and any(s in str(e) for s in TORCH_WRITE_FAILURES) for e in chain):
        for e in chain:
            if isinstance(e, OSError) and e.errno:
                return e.errno
        return errno.ENOSPC if _low_on_space(Path(where)) else errno.EIO
    return None


@contextmanager
def atomic_files(*paths: str | os.PathLike, what: str = "file") -> Iterator[list[BinaryIO]]:
    """Binary file objects, one per path, whose contents replace the paths on a clean exit — all of them, and
    only after every one is flushed and fsync'ed (a full disk on the last leaves every destination as it was).

    A write failure (full disk, quota, I/O error) while the body writes, or while flushing, is raised as
    :class:`WriteFailed` naming the destination; any other error passes unchanged. Either way every temporary
    file is removed.
    """
    targets = [Path(p) for p in paths]
    tmps: list[str] = []
    current: list[Path] = targets[:1]  # the destination(s) being written when an error comes
    flushing = False  # past the body: any OSError now is a failed write
    try:
        with ExitStack() as stack:
            files = []
            for path in targets:
                current = [path]
                path.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
                tmps.append(tmp)
                files.append(stack.enter_context(os.fdopen(fd, "wb")))
            current = targets  # the body may write into any of them
            yield files
            flushing = True
            for path, f in zip(targets, files, strict=True):
                current = [path]
                f.flush()
                os.fsync(f.fileno())
        mode = _default_mode()
        for path, tmp in zip(targets, tmps, strict=True):
            current = [path]
            os.chmod(tmp, mode)
        for path, tmp in zip(targets, tmps, strict=True):
            current = [path]
            os.replace(tmp, path)
    except BaseException as err:
        for tmp in tmps:
            Path(tmp).unlink(missing_ok=True)
        if isinstance(err, Exception) and not isinstance(err, WriteFailed):
            code = write_error_code(err, current[0]) if current else None
            if code is None and flushing and isinstance(err, OSError) and err.errno:
                code = err.errno
            if code is not None:
                kept = any(p.exists() for p in current)
                raise WriteFailed(" and ".join(map(str, current)), code, kept, what, len(current) > 1) from err
        raise


@contextmanager
def atomic_file(path: str | os.PathLike, what: str = "file") -> Iterator[BinaryIO]:
    """Context manager yielding a binary file object whose content becomes ``path`` on a clean exit
    (:func:`atomic_files` of one path: a failed write is a :class:`WriteFailed` naming ``path``)."""
    with atomic_files(path, what=what) as (f,):
        yield f
