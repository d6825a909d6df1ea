"""The one on-disk format of wfm: an HDF5 file per dataset (or split), written atomically, read with checks.

Layout of a file:

- dataset ``inputs`` ``(N, C, H, W)`` float32: preprocessed (dB where the source is power, resized),
  **not** standardised. Image-like modalities (``spectrogram``, ``csi``): channels x frequency x time.
  ``iq`` (format version 2): raw complex baseband as ``(N, A, 2, T)`` = antennas x (I, Q) x time samples, the
  same 4-D layout with ``H = 2`` (antennas play the part of channels: sampled, padded and embedded alike);
- one dataset per label, named by its batch key (``label``, ``position``, ``beam``, ``los``...), first axis N;
- attributes ``mean``/``std`` (``(C,)`` per channel for images, ``(2,)`` per component I / Q for ``iq``;
  computed on the training split; a test-split file carries the training statistics), ``preprocessing``
  (JSON), ``source``, ``modality``, ``labels`` (JSON: key → ``{"kind", "num_classes", "class_names",
  "units"}``), ``format_version``; optional ``complex_pairs`` (JSON ``[[re, im], ...]``: the channel pairs that are
  the real and imaginary parts of one complex channel; files without it have none). Readers standardise a pair
  with one scale and no offset, so a global rotation of the complex channel stays a rotation of the input.

What each modality means for shapes, statistics and preprocessing is its object in :mod:`wfm.data.modalities`
(the functions below ask it). Version 1 files (images only, before ``iq``) are read unchanged. Files are
written to a temporary name in the destination folder and renamed on success, so a reader never sees a
half-written file, whatever fails mid-way.
"""

from __future__ import annotations

import errno
import glob
import json
import os
import re
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from wfm.atomic import WRITE_REASONS, WriteFailed
from wfm.data.modalities import get_modality, modality_names
from wfm.data.split import train_test_split
from wfm.data.transforms import ChannelStats

#: 3 added the sequence layout (wfm.data.sequence: groups of (N, T, ...) sensor windows); 1 and 2 read unchanged
FORMAT_VERSION = 3
REQUIRED_ATTRS = ("mean", "std", "preprocessing", "source", "modality", "labels", "format_version")


# The modality-dependent parts of the format, asked of the modality object (kept as functions for callers).
def num_stats(modality: str, channels: int) -> int:
    """Entries of the ``mean``/``std`` attributes: one per channel, or one per component (I, Q) for IQ."""
    return get_modality(modality).num_stats(channels)


def stats_view(x: np.ndarray, modality: str) -> np.ndarray:
    """``(n, C, H, W)`` arranged so that axis 1 is what statistics are computed over (``ChannelStats``):
    the channels, or the (I, Q) components of IQ samples ``(n, A, 2, T)``."""
    return get_modality(modality).stats_view(x)


def sample_hw(modality: str, size: int | Sequence[int]) -> tuple[int, int]:
    """The ``(H, W)`` of one channel of a sample of ``size``: ``(size, size)`` for an int, ``(2, size)`` (I / Q
    x time samples) for IQ, else the given pair."""
    return get_modality(modality).sample_hw(size)


def check_sample_shape(path: Path, modality: str, shape: Sequence[int]) -> None:
    """Refuse a per-sample shape that does not fit ``modality`` (IQ: ``(A, 2, T)``)."""
    get_modality(modality).check_sample_shape(path, shape)


def _known_modality(path: Path, modality: Any) -> None:
    if not isinstance(modality, str) or modality not in modality_names():
        raise ValueError(f"{path}: modality {modality!r}, expected one of {modality_names()}")


_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$")


def label_meta(
    labels: Mapping[str, str],
    class_names: Mapping[str, Sequence[str]] | None = None,
    units: Mapping[str, str] | None = None,
    num_classes: Mapping[str, int] | None = None,
    supervised: Mapping[str, float] | None = None,
    stratify: Mapping[str, str] | None = None,
) -> dict[str, dict[str, Any]]:
    """The ``labels`` attribute from ``{key: kind}`` plus optional class names, units, class counts, the
    headline metric a supervised model of the same encoder reaches on the label (``supervised``: the reference
    the probe report's ``gap closed`` column measures pretraining against) and, per classification label, the
    regression label its accuracy is also reported over in bins (``stratify``: ``{"label": "snr_db"}`` gives
    accuracy per SNR bin, as signal-classification papers plot it)."""
    class_names = class_names or {}
    units = units or {}
    num_classes = num_classes or {}
    out: dict[str, dict[str, Any]] = {}
    for key, kind in labels.items():
        if kind not in ("classification", "regression"):
            raise ValueError(f"label {key!r}: kind must be 'classification' or 'regression', got {kind!r}")
        names = [str(c) for c in class_names.get(key, ())]
        k = num_classes.get(key, len(names) if names else None)
        if kind == "classification" and (k is None or k < 2):
            raise ValueError(f"label {key!r}: classification needs class names or num_classes >= 2")
        out[key] = {
            "kind": kind,
            "num_classes": int(k) if kind == "classification" else None,
            "class_names": names,
            "units": units.get(key),
        }
        if supervised and key in supervised:
            out[key]["supervised"] = float(supervised[key])
    for key, by in (stratify or {}).items():
        if out.get(key, {}).get("kind") != "classification" or out.get(by, {}).get("kind") != "regression":
            raise ValueError(f"stratify {key!r} by {by!r}: needs a classification label and a regression label, "
                             f"got {sorted(out)}")
        out[key]["stratify"] = str(by)
    return out


def safe_output_path(out_dir: str | os.PathLike, name: str, suffix: str = ".h5") -> Path:
    """``out_dir/<name><suffix>``, refusing names that could leave ``out_dir`` (``..``, separators, absolute).

    Converters take output names from metadata found in downloaded files; this is the one gate they pass.
    """
    if not isinstance(name, str) or not _SAFE_NAME.match(name) or ".." in name:
        raise ValueError(
            f"unsafe output name {name!r}: expected letters, digits, '.', '_' or '-' only "
            "(no path separators, no '..', not absolute)"
        )
    root = Path(out_dir).resolve()
    path = (root / f"{name}{suffix}").resolve()
    if path.parent != root:
        raise ValueError(f"output name {name!r} resolves to {path}, outside the output folder {root}")
    return path


def _temp_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")


def remove_stale_temps(path: Path) -> list[Path]:
    """Remove the temporaries of ``path`` left by writers that were killed (``SIGKILL``, power loss): those whose
    process id is no longer alive on this machine. A live writer's temporary is left alone. Returns the removed."""
    removed, prefix = [], f".{path.name}.tmp-"  # as _temp_path names them: PREFIX<pid>-<hex>
    for tmp in path.parent.glob(f"{glob.escape(prefix)}*"):
        pid = tmp.name[len(prefix):].split("-", 1)[0]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
        except PermissionError:  # alive, another user's
            pass
    return removed


_pwrite = os.pwrite  # the one call that puts an output file's bytes on disk (tests inject a full disk here)


def _size(n: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover - the loop returns


class OutputWriteError(WriteFailed):
    """Writing an output file failed (a full disk, a quota, a size limit, an I/O error): one line naming the file,
    what was written and what became of it (the temporary file is gone, a previous file is unchanged)."""

    def __init__(self, path: Path, err: OSError, written: int = 0, needed: int | None = None) -> None:
        reason = WRITE_REASONS.get(err.errno or 0) or (err.strerror or str(err) or type(err).__name__).lower()
        amount = f"wrote {_size(written)}" + (f" of about {_size(needed)}" if needed else "")
        kept = f"the previous {path.name} is unchanged" if path.exists() else f"no {path.name} was written"
        self.message = f"{path}: {reason} ({amount}); the temporary file was removed and {kept}"
        OSError.__init__(self, err.errno, self.message, str(path))

    def __reduce__(self) -> tuple:  # picklable (a spawned rank, a worker): rebuilt as a plain OSError-like copy
        return _rebuild_write_error, (self.errno, self.message, self.filename)

    def __str__(self) -> str:
        return self.message


def _rebuild_write_error(code: int | None, message: str, filename: str) -> OutputWriteError:
    err = OutputWriteError.__new__(OutputWriteError)
    OSError.__init__(err, code, message, filename)
    err.message = message
    return err


class _GuardedFile:
    """The file object behind an output HDF5 file (h5py's ``fileobj`` driver): bytes go to disk with ``pwrite``;
    the first write that fails (``ENOSPC``, ``EDQUOT``, ``EFBIG``, ``EIO``) is recorded, and it and every later
    write are held in memory instead, so that HDF5 itself never sees a failed write.

    Why: HDF5 (1.14, h5py 3.x) that meets a failed write while flushing leaves objects it cannot close ("Can't
    decrement id ref count") and then crashes the process at ``File.close`` or at exit (a segfault, exit 139);
    here it flushes and closes normally and the writer raises :class:`OutputWriteError` after it.
    Reads (HDF5 reads back metadata it wrote) see the held bytes over what the disk has."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd: int | None = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
        self.pos = 0
        self.size = 0
        self.written = 0
        self.error: OSError | None = None
        self._held: list[tuple[int, bytes]] = []

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self.pos, os.SEEK_END: self.size}[whence]
        self.pos = base + offset
        return self.pos

    def tell(self) -> int:
        return self.pos

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        n = len(view)
        if self.error is None:
            done = 0
            try:
                while done < n:
                    k = _pwrite(self.fd, view[done:], self.pos + done)
                    if k <= 0:
                        raise OSError(errno.EIO, "write wrote nothing")
                    done += k
                self.written += n
            except OSError as e:
                self.written += done
                self.error = e
        if self.error is not None:
            self._held.append((self.pos, bytes(view)))
        self.pos += n
        self.size = max(self.size, self.pos)
        return n

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        n = len(view)
        data = os.pread(self.fd, n, self.pos) if self.fd is not None else b""
        view[: len(data)] = data
        view[len(data):] = bytes(n - len(data))
        for offset, chunk in self._held:
            lo, hi = max(offset, self.pos), min(offset + len(chunk), self.pos + n)
            if lo < hi:
                view[lo - self.pos: hi - self.pos] = chunk[lo - offset: hi - offset]
        self.pos += n
        return n

    def read(self, n: int = -1) -> bytes:
        buffer = bytearray(max(0, self.size - self.pos) if n is None or n < 0 else n)
        self.readinto(buffer)
        return bytes(buffer)

    def truncate(self, size: int | None = None) -> int:
        size = self.pos if size is None else int(size)
        if self.error is None:
            try:
                os.ftruncate(self.fd, size)
            except OSError as e:
                self.error = e
        self.size = size
        return size

    def flush(self) -> None:
        pass

    def sync(self) -> None:
        """``fsync``: a file system that allocates late reports a full disk here."""
        if self.error is None:
            try:
                os.fsync(self.fd)
            except OSError as e:
                self.error = e

    def close(self) -> None:
        self._held.clear()
        if self.fd is not None:
            fd, self.fd = self.fd, None
            os.close(fd)


class AtomicH5:
    """One output HDF5 file written under a hidden temporary name beside ``path`` and renamed onto it on
    :meth:`commit`; :meth:`abort` (or any error) removes the temporary file, and ``path`` is never a partial file:
    a previous file there stays as it was until the new one is complete.

    A failed write (full disk, quota, file size limit) never reaches HDF5 (:class:`_GuardedFile`): it is raised as
    :class:`OutputWriteError` ``<path>: no space left on device (wrote N of about M); ...`` by :meth:`check` (call
    it after each batch of writes) or :meth:`commit`. ``needed``: the expected file size in bytes, for the message.
    """

    def __init__(self, path: str | os.PathLike, needed: int | None = None) -> None:
        self.path = Path(path)
        self.needed = needed
        if self.path.parent.is_dir():
            remove_stale_temps(self.path)
        self.tmp = _temp_path(self.path)
        self.file: h5py.File | None = None
        self._io: _GuardedFile | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._io = _GuardedFile(self.tmp)
        except OSError as e:
            if e.errno in WRITE_REASONS:
                raise OutputWriteError(self.path, e, 0, needed) from None
            raise OSError(e.errno, f"{self.path}: cannot create the output file: {e.strerror or e}") from None
        try:
            self.file = h5py.File(self._io, "w")
        except BaseException:
            self.abort()
            raise

    def __enter__(self) -> h5py.File:
        assert self.file is not None
        return self.file

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()

    def failure(self) -> OutputWriteError | None:
        """The error a failed write left, as the exception to raise (None while every write went through)."""
        io = self._io
        return None if io is None or io.error is None else OutputWriteError(self.path, io.error, io.written,
                                                                            self.needed)

    def check(self) -> None:
        """Raise :class:`OutputWriteError` (after removing the temporary file) if a write has failed."""
        err = self.failure()
        if err is not None:
            self.abort()
            raise err

    def commit(self) -> Path:
        """Close the file, make sure its bytes are on disk and rename it onto ``path``; returns ``path``."""
        try:
            if self.file is not None:
                f, self.file = self.file, None
                f.close()
            assert self._io is not None
            self._io.sync()
            err = self.failure()
            if err is not None:
                raise err
            self._io.close()
            os.replace(self.tmp, self.path)
            self._io = None
        except BaseException:
            self.abort()
            raise
        return self.path

    def abort(self) -> None:
        """Drop the temporary file; ``path`` is left as it was."""
        if self.file is not None:
            f, self.file = self.file, None
            try:
                f.close()
            except Exception:  # noqa: BLE001 - best effort: the file is being discarded anyway
                pass
        if self._io is not None:
            io, self._io = self._io, None
            try:
                io.close()
            except OSError:
                pass
        self.tmp.unlink(missing_ok=True)


class H5Writer:
    """Append-only writer for large files: ``append`` chunks, statistics streamed, atomic ``close``.

    Use as a context manager; an exception inside the block removes the temporary file and leaves any
    previous file at ``path`` untouched.

    Args:
        path: destination file.
        sample_shape: ``(C, H, W)`` of one sample.
        labels: the ``labels`` attribute (see :func:`label_meta`); keys must match every ``append``.
        source, modality, preprocessing: attributes recorded in the file.
        mean, std: training statistics to record (e.g. for a test-split file); if None they are streamed
            from the rows ``append`` marks with ``stats_rows`` (all rows by default).
        extra_attrs: further attributes (JSON-encoded if not scalar/str).
        expected_rows: how many samples will be appended, if known (only for the size a full-disk error gives).

    A write that fails (a full disk...) is an :class:`OutputWriteError` naming ``path`` from the ``append`` or
    ``close`` it happens in, with the temporary file removed (see :class:`AtomicH5`).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        sample_shape: Sequence[int],
        labels: Mapping[str, Mapping[str, Any]],
        source: str,
        modality: str,
        preprocessing: Mapping[str, Any],
        mean: np.ndarray | None = None,
        std: np.ndarray | None = None,
        extra_attrs: Mapping[str, Any] | None = None,
        expected_rows: int | None = None,
    ) -> None:
        self.path = Path(path)
        if len(sample_shape) != 3 or int(sample_shape[0]) < 1 or min(int(s) for s in sample_shape) < 1:
            raise ValueError(
                f"{self.path}: sample shape must be (C, H, W) with C >= 1, got {tuple(sample_shape)}"
            )
        _known_modality(self.path, modality)
        check_sample_shape(self.path, modality, sample_shape)
        self.modality = modality
        self.sample_shape = tuple(int(s) for s in sample_shape)
        self.labels = {k: dict(v) for k, v in labels.items()}
        self.attrs: dict[str, Any] = {
            "source": source,
            "modality": modality,
            "preprocessing": json.dumps(preprocessing),
            "labels": json.dumps(self.labels),
            "format_version": FORMAT_VERSION,
        }
        for k, v in (extra_attrs or {}).items():
            self.attrs[k] = v if isinstance(v, (str, int, float)) else json.dumps(v)
        c = num_stats(modality, self.sample_shape[0])
        self._given_stats = None
        if (mean is None) != (std is None):
            raise ValueError(f"{self.path}: give both mean and std, or neither")
        if mean is not None:
            m, s = np.asarray(mean, np.float32).reshape(-1), np.asarray(std, np.float32).reshape(-1)
            if (
                m.shape != (c,)
                or s.shape != (c,)
                or not (np.isfinite(m).all() and np.isfinite(s).all())
                or (s <= 0).any()
            ):
                raise ValueError(f"{self.path}: mean/std must be finite ({c},) arrays with std > 0")
            self._given_stats = (m, s)
        self._stats = ChannelStats(c)
        self.n = 0
        needed = None if expected_rows is None else int(expected_rows) * 4 * int(np.prod(self.sample_shape))
        self._out = AtomicH5(self.path, needed)  # a temporary file beside path; a failed write is one clean error
        self._file: h5py.File | None = self._out.file

    def __enter__(self) -> H5Writer:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def _create(self, labels: Mapping[str, np.ndarray]) -> None:
        assert self._file is not None
        c, h, w = self.sample_shape
        # One sample per chunk: random access by index reads exactly one chunk.
        self._file.create_dataset(
            "inputs", shape=(0, c, h, w), maxshape=(None, c, h, w), dtype="f4", chunks=(1, c, h, w)
        )
        for key, arr in labels.items():
            dtype = "i8" if self.labels[key]["kind"] == "classification" else "f4"
            tail = arr.shape[1:]
            self._file.create_dataset(key, shape=(0, *tail), maxshape=(None, *tail), dtype=dtype)

    def _check(self, inputs: np.ndarray, labels: Mapping[str, Any]) -> dict[str, np.ndarray]:
        n = inputs.shape[0]
        if inputs.ndim != 4 or tuple(inputs.shape[1:]) != self.sample_shape:
            raise ValueError(
                f"{self.path}: inputs chunk starting at sample {self.n} has shape {inputs.shape}, "
                f"expected (n, {', '.join(map(str, self.sample_shape))})"
            )
        finite = np.isfinite(inputs.reshape(n, -1)).all(axis=1)
        if not finite.all():
            i = int(np.argmin(finite))
            raise ValueError(
                f"{self.path}: sample {self.n + i} has NaN/Inf values in inputs; expected finite"
            )
        if set(labels) != set(self.labels):
            raise ValueError(
                f"{self.path}: label keys {sorted(labels)} do not match declared {sorted(self.labels)}"
            )
        out: dict[str, np.ndarray] = {}
        for key, value in labels.items():
            arr = np.asarray(value)
            meta = self.labels[key]
            if arr.ndim == 0 or arr.shape[0] != n:
                raise ValueError(f"{self.path}: label {key!r} has shape {arr.shape}, expected first axis {n}")
            if meta["kind"] == "classification":
                flat = arr.reshape(n, -1)
                ok_int = np.isfinite(flat).all(axis=1) & (np.round(flat) == flat).all(axis=1)
                ok = ok_int & (flat >= 0).all(axis=1) & (flat < meta["num_classes"]).all(axis=1)
                if not ok.all():
                    i = int(np.argmin(ok))
                    raise ValueError(
                        f"{self.path}: sample {self.n + i} has label {key}={arr[i].tolist()}, "
                        f"expected an integer in [0, {meta['num_classes']})"
                    )
                arr = arr.astype(np.int64)
            else:
                ok = np.isfinite(arr.reshape(n, -1)).all(axis=1)
                if not ok.all():
                    i = int(np.argmin(ok))
                    raise ValueError(
                        f"{self.path}: sample {self.n + i} has non-finite regression label {key!r}"
                    )
                arr = arr.astype(np.float32)
            out[key] = arr
        return out

    def append(
        self,
        inputs: np.ndarray,
        labels: Mapping[str, Any] | None = None,
        stats_rows: np.ndarray | None = None,
    ) -> None:
        """Append ``inputs`` ``(n, C, H, W)`` and labels; ``stats_rows`` (bool ``(n,)``) marks train rows."""
        if self._file is None:
            raise ValueError(f"{self.path}: writer is closed")
        inputs = np.asarray(inputs, dtype=np.float32)
        try:
            labels = self._check(inputs, labels or {})
            if self.n == 0 and "inputs" not in self._file:
                self._create(labels)
            n = inputs.shape[0]
            if n == 0:
                return
            for key, arr in (("inputs", inputs), *labels.items()):
                ds = self._file[key]
                ds.resize(self.n + n, axis=0)
                ds[self.n : self.n + n] = arr
            self._out.check()  # a write the disk refused (it reaches the disk as HDF5's caches fill)
            if self._given_stats is None:
                rows = inputs if stats_rows is None else inputs[np.asarray(stats_rows, bool)]
                self._stats.update(stats_view(rows, self.modality))
            self.n += n
        except BaseException:
            self.abort()
            raise

    def close(self) -> Path:
        """Write the attributes, flush and atomically move the file into place; returns its path."""
        if self._file is None:
            raise ValueError(f"{self.path}: writer is closed")
        try:
            if self.n == 0:
                raise ValueError(f"{self.path}: no samples were written; refusing to create an empty file")
            mean, std = self._given_stats if self._given_stats is not None else self._stats.finalize()
            self._file.attrs["mean"] = mean
            self._file.attrs["std"] = std
            for k, v in self.attrs.items():
                self._file.attrs[k] = v
            self._file = None
            self._out.commit()  # closes, syncs and renames; a failed write raises OutputWriteError
        except BaseException:
            self.abort()
            raise
        return self.path

    def abort(self) -> None:
        """Drop the temporary file; the destination is left as it was."""
        self._file = None
        self._out.abort()

    @property
    def _tmp(self) -> Path:
        return self._out.tmp


def write_h5(
    path: str | os.PathLike,
    inputs: np.ndarray,
    labels: Mapping[str, Any],
    attrs: Mapping[str, Any],
    chunk: int = 512,
) -> Path:
    """Write a whole file at once (validated, atomic). Returns the path.

    ``attrs`` must hold ``source``, ``modality``, ``preprocessing`` (dict) and ``labels`` (dict, see
    :func:`label_meta`); ``mean``/``std`` are taken from ``attrs`` when given (a test split carrying the
    training statistics) and otherwise computed from ``inputs`` (so ``inputs`` must then be the training set).
    Other keys in ``attrs`` are recorded as extra attributes.
    """
    inputs = np.asarray(inputs)
    if inputs.ndim != 4:
        raise ValueError(f"{path}: inputs must be (N, C, H, W), got shape {inputs.shape}")
    if inputs.shape[0] == 0:
        raise ValueError(f"{path}: inputs are empty (N=0); refusing to create an empty file")
    missing = [k for k in ("source", "modality", "preprocessing", "labels") if k not in attrs]
    if missing:
        raise ValueError(f"{path}: attrs lack {missing}")
    extra = {k: v for k, v in attrs.items() if k not in (*REQUIRED_ATTRS,)}
    writer = H5Writer(
        path,
        inputs.shape[1:],
        attrs["labels"],
        attrs["source"],
        attrs["modality"],
        attrs["preprocessing"],
        attrs.get("mean"),
        attrs.get("std"),
        extra,
        expected_rows=inputs.shape[0],
    )
    with writer:
        for start in range(0, inputs.shape[0], chunk):
            sl = slice(start, start + chunk)
            writer.append(inputs[sl], {k: np.asarray(v)[sl] for k, v in labels.items()})
    return Path(path)


def write_dataset_file(
    out_dir: str | os.PathLike,
    name: str,
    inputs: np.ndarray,
    labels: Mapping[str, Any],
    labels_meta: Mapping[str, Mapping[str, Any]],
    source: str,
    modality: str,
    preprocessing: Mapping[str, Any],
    stats_seed: int = 0,
    train_frac: float = 0.8,
    complex_pairs: Sequence[Sequence[int]] = (),
) -> Path:
    """Converter helper: write ``out_dir/<name>.h5``, statistics from the train part of split ``stats_seed``;
    ``complex_pairs``: the ``(re, im)`` channel pairs that are one complex channel each (e.g. ``[(0, 1)]``).

    Downstream DataModules split the file 80/20 themselves; the statistics come from the training part of the
    seed-0 split (recorded as ``stats_split``) so no test sample shapes them.
    """
    path = safe_output_path(out_dir, name)
    n = int(np.asarray(inputs).shape[0])
    if n < 2:
        raise ValueError(f"{path}: need at least 2 samples to split, got {n}")
    train_idx, _ = train_test_split(n, stats_seed, train_frac)
    rows = np.zeros(n, dtype=bool)
    rows[train_idx] = True
    check_sample_shape(path, modality, np.asarray(inputs).shape[1:])
    stats = ChannelStats(num_stats(modality, int(inputs.shape[1])))
    stats.update(stats_view(np.asarray(inputs)[rows], modality))
    mean, std = stats.finalize()
    attrs = {
        "source": source,
        "modality": modality,
        "preprocessing": preprocessing,
        "labels": labels_meta,
        "mean": mean,
        "std": std,
        "stats_split": {"seed": stats_seed, "train_frac": train_frac},
    }
    if complex_pairs:
        attrs["complex_pairs"] = [list(p) for p in check_complex_pairs(path, complex_pairs, int(inputs.shape[1]))]
    return write_h5(path, inputs, labels, attrs)


def _decode(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


def check_complex_pairs(path: str | os.PathLike, pairs: Any, channels: int) -> list[tuple[int, int]]:
    """The ``complex_pairs`` attribute as ``[(re, im), ...]``: each a pair of distinct channel indices in
    ``[0, channels)``, no channel in two pairs; anything else is a ValueError naming the file."""
    def index(c: Any) -> int:
        if isinstance(c, (bool, np.bool_)) or not isinstance(c, (int, np.integer)):
            raise TypeError(c)
        return int(c)

    try:
        out = [(index(r), index(i)) for r, i in pairs]
    except (TypeError, ValueError) as e:
        raise ValueError(f"{path}: complex_pairs must be a list of [re, im] channel index pairs, "
                         f"got {pairs!r}") from e
    used = [c for pair in out for c in pair]
    if any(not 0 <= c < channels for c in used) or len(set(used)) != len(used):
        raise ValueError(f"{path}: complex_pairs {out} must name distinct channels in [0, {channels}), each once")
    return out


def open_h5(path: Path, expected: str, unreadable: str) -> h5py.File:
    """``path`` opened read-only; a missing file is a FileNotFoundError ``<path>: no such file (<expected>)``,
    one HDF5 cannot read a ValueError ``<path>: <unreadable>: <reason>``, and one whose data lives outside it
    (links, external storage, virtual datasets: :func:`check_self_contained`) a ValueError naming the object."""
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file ({expected})")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise ValueError(f"{path}: {unreadable}: {e}") from e
    try:
        check_self_contained(path, f)
    except BaseException:
        f.close()
        raise
    return f


def check_self_contained(path: Path, group: h5py.Group, prefix: str = "") -> None:
    """Refuse a file whose objects live outside it: an external or soft link, a dataset with external
    storage (``create_dataset(..., external=...)``: the bytes of any local file read as values) or a virtual
    dataset. wfm files are single, self-contained files; the check never follows a link to find out."""
    for name in group:
        link = group.get(name, getlink=True)
        where = f"{prefix}/{name}"
        if not isinstance(link, h5py.HardLink):
            raise ValueError(f"{path}: {where!r} is a {type(link).__name__} to another object or file; a wfm "
                             "file holds its data itself (no links, no external storage)")
        obj = group[name]
        if isinstance(obj, h5py.Group):
            check_self_contained(path, obj, where)
        elif isinstance(obj, h5py.Dataset) and (obj.external or obj.is_virtual):
            kind = "external storage" if obj.external else "a virtual dataset"
            raise ValueError(f"{path}: dataset {where!r} uses {kind} (its values live in other files); a wfm "
                             "file holds its data itself")


def check_stored(path: Path, ds: h5py.Dataset, what: str) -> None:
    """Refuse a dataset of a type the format has no reading for (complex, strings) or that claims more rows
    than it stores (a small file whose chunked dataset says N = 10^9: unallocated chunks read as fill values,
    and a reader would work through them all)."""
    if ds.dtype.kind not in "fiub":
        raise ValueError(f"{path}: {what} has dtype {ds.dtype}, expected real numbers (a complex array needs its "
                         "real and imaginary parts as channels, see docs/datasets.md)")
    if ds.size == 0:
        return
    if ds.chunks is not None:
        expected = int(np.prod([-(-n // c) for n, c in zip(ds.shape, ds.chunks, strict=True)]))
        stored = ds.id.get_num_chunks()
        if stored < expected:
            raise ValueError(f"{path}: {what} claims shape {ds.shape} but stores {stored} of its {expected} "
                             "chunks; expected every sample written (a truncated or crafted file)")
    elif ds.id.get_storage_size() < ds.id.get_type().get_size() * ds.size:
        raise ValueError(f"{path}: {what} claims shape {ds.shape} but stores fewer bytes than that; expected every "
                         "sample written (a truncated or crafted file)")


def _type_of(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of {value.dtype} {value.shape}"
    name = type(value.item() if isinstance(value, np.generic) else value).__name__
    return ("an " if name[0] in "aeiou" else "a ") + name


def attr_repr(value: Any) -> str:
    """An attribute's value for a message: numpy scalars as plain numbers, arrays as lists, at most 60 characters."""
    if isinstance(value, np.generic):
        value = value.item()
    text = f"array({value.tolist()!r})" if isinstance(value, np.ndarray) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _kind_of(obj: Any) -> str:
    return "group" if isinstance(obj, h5py.Group) else type(obj).__name__


def read_raw_attrs(path: Path, obj: h5py.HLObject) -> dict[str, Any]:
    """Every attribute of ``obj`` (bytes decoded to text); one HDF5 cannot read (a datatype it has no
    conversion for) is a ValueError naming the file and the attribute."""
    out: dict[str, Any] = {}
    for key in obj.attrs:
        try:
            out[key] = _decode(obj.attrs[key])
        except (OSError, TypeError, ValueError, RuntimeError) as e:
            raise ValueError(f"{path}: attribute {key!r} cannot be read ({' '.join(str(e).split())[:120]}); "
                             "expected a number, a text or an array of numbers") from None
    return out


def attr_json(path: Path, raw: Mapping[str, Any], key: str, kind: type, expected: str) -> Any:
    """Attribute ``key`` parsed as JSON text and checked to be a ``kind`` (``dict`` / ``list``): anything else is a
    one-line ValueError ``<path>: attribute 'labels' is a JSON list, expected a JSON <expected>``."""
    text = raw.get(key)
    if not isinstance(text, str):
        raise ValueError(f"{path}: attribute {key!r} is {_type_of(text)}, expected JSON text of {expected}")
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as e:
        raise ValueError(f"{path}: attribute {key!r} is not valid JSON ({' '.join(str(e).split())[:120]}); "
                         f"expected {expected}") from None
    if not isinstance(value, kind):
        got = "JSON null" if value is None else {dict: "a JSON object", list: "a JSON list", str: "a JSON string"}.get(
            type(value), f"JSON {_type_of(value)}")
        raise ValueError(f"{path}: attribute {key!r} is {got}, expected {expected}")
    return value


def _attr_numbers(path: Path, raw: Mapping[str, Any], key: str, expected: str) -> np.ndarray:
    value = np.asarray(raw[key])
    if value.dtype.kind not in "iuf":
        raise ValueError(f"{path}: attribute {key!r} is {_type_of(raw[key])}, expected {expected}")
    return value.astype(np.float32).reshape(-1)


def _attr_int(path: Path, raw: Mapping[str, Any], key: str, lo: int) -> int:
    value = raw[key]
    ok = isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
    if isinstance(value, (float, np.floating)) and np.isfinite(value) and float(value).is_integer():
        ok = True
    if not ok or value < lo:
        raise ValueError(f"{path}: attribute {key!r} is {attr_repr(value)}, expected an integer >= {lo}")
    return int(value)


_LABEL_FIELDS = {"kind": str, "num_classes": (int, type(None)), "class_names": list, "units": (str, type(None)),
                 "stratify": (str, type(None)), "supervised": (int, float, type(None))}


def check_labels_attr(path: Path, labels: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The parsed ``labels`` attribute, every entry checked: an object with ``kind`` ``classification`` or
    ``regression``, ``num_classes`` an integer >= 2 for a classification, ``class_names`` a list of texts (as many
    as the classes, when given), ``units`` / ``stratify`` texts or null, ``supervised`` a number or null. Anything
    else is a one-line ValueError naming the file, the label and the field."""
    out: dict[str, dict[str, Any]] = {}
    for key, meta in labels.items():
        where = f"{path}: label {key!r} in the 'labels' attribute"
        if not isinstance(meta, dict):
            raise ValueError(f"{where} is {_type_of(meta)}, expected an object {{\"kind\": ..., \"num_classes\": ...}}")
        for field, types in _LABEL_FIELDS.items():
            if field in meta and (not isinstance(meta[field], types) or isinstance(meta[field], bool)):
                want = {"kind": "'classification' or 'regression'", "num_classes": "an integer or null",
                        "class_names": "a list of class names", "units": "a text or null",
                        "stratify": "a label key or null", "supervised": "a number or null"}[field]
                raise ValueError(f"{where}: {field} is {_type_of(meta[field])}, expected {want}")
        kind = meta.get("kind")
        if kind not in ("classification", "regression"):
            raise ValueError(f"{path}: label {key!r} has kind {kind!r}")
        names = meta.get("class_names") or []
        if not all(isinstance(n, str) for n in names):
            raise ValueError(f"{where}: class_names {names!r:.80} are not all texts, expected a list of class names")
        if kind == "classification":
            k = meta.get("num_classes")
            if k is None or k < 2:
                raise ValueError(f"{where}: num_classes is {k!r}, expected an integer >= 2 for a classification")
            if names and len(names) != k:
                raise ValueError(f"{where}: {len(names)} class_names for num_classes={k}, expected one name per class")
        if meta.get("supervised") is not None and not np.isfinite(meta["supervised"]):
            raise ValueError(f"{where}: supervised is {meta['supervised']!r}, expected a finite number or null")
        out[key] = meta
    return out


def read_attrs(path: str | os.PathLike) -> dict[str, Any]:
    """Open ``path``, check it is a complete wfm file and return its metadata.

    Returns ``{"path", "n", "shape" (C, H, W), "mean", "std", "preprocessing", "source", "modality",
    "labels", "label_shapes" (key -> per-sample shape of that label), "complex_pairs" ([(re, im), ...]),
    "format_version", "attrs" (all raw attributes)}``. Raises FileNotFoundError for a missing file and
    ValueError naming the file and what was expected for anything else.
    """
    p = Path(path)
    if p.is_dir():
        raise ValueError(f"{p}: is a folder, expected a wfm HDF5 file")
    with open_h5(p, "expected a wfm HDF5 file; see docs/datasets.md",
                 "not a readable HDF5 file (truncated, corrupt or another format)") as f:
        raw = read_raw_attrs(p, f)
        if isinstance(raw.get("layout"), str) and raw["layout"] == "sequence":
            raise ValueError(f"{p}: a sequence file (windows of sensor frames); read it with "
                             "wfm.data.SequenceDataModule / wfm.data.sequence.load_sequence")
        if "inputs" not in f:
            raise ValueError(f"{p}: no 'inputs' dataset; expected (N, C, H, W) float32")
        inputs = f["inputs"]
        if not isinstance(inputs, h5py.Dataset):
            raise ValueError(f"{p}: 'inputs' is a {_kind_of(inputs)}, expected a dataset (N, C, H, W) float32")
        shape = inputs.shape
        if len(shape) != 4:
            raise ValueError(f"{p}: 'inputs' has shape {shape}, expected 4 dimensions (N, C, H, W)")
        if shape[0] == 0:
            raise ValueError(f"{p}: empty file ('inputs' has N=0 samples)")
        if shape[1] < 1:
            raise ValueError(f"{p}: 'inputs' has C={shape[1]} channels, expected C >= 1")
        check_stored(p, inputs, "inputs")
        if inputs.dtype.kind != "f":  # integer counts would be read as floats with no scale: the file says none
            raise ValueError(f"{p}: 'inputs' has dtype {inputs.dtype}, expected floating point (float32); "
                             "convert integer samples (ADC counts, 8-bit images) to physical floats first")
        missing = [k for k in REQUIRED_ATTRS if k not in raw]
        if missing:
            raise ValueError(f"{p}: missing attribute(s) {missing}; expected {list(REQUIRED_ATTRS)}")
        modality = raw["modality"]
        _known_modality(p, modality)
        kind = get_modality(modality)
        kind.check_sample_shape(p, shape[1:])
        c = kind.num_stats(shape[1])
        mean = _attr_numbers(p, raw, "mean", f"{c} finite number(s) ({kind.stats_per})")
        std = _attr_numbers(p, raw, "std", f"{c} finite number(s) > 0 ({kind.stats_per})")
        if mean.shape != (c,) or std.shape != (c,):
            raise ValueError(f"{p}: mean/std have {mean.shape}/{std.shape} entries, expected {c} ({kind.stats_per})")
        if not (np.isfinite(mean).all() and np.isfinite(std).all() and (std > 0).all()):
            raise ValueError(f"{p}: mean/std must be finite with std > 0, got mean={mean}, std={std}")
        version = _attr_int(p, raw, "format_version", 1)
        if version > FORMAT_VERSION:
            raise ValueError(f"{p}: format_version {version} is newer than supported {FORMAT_VERSION}")
        if not isinstance(raw["source"], str):
            raise ValueError(f"{p}: attribute 'source' is {_type_of(raw['source'])}, expected a text")
        labels = check_labels_attr(p, attr_json(p, raw, "labels", dict, "an object {label key: {\"kind\": ...}}"))
        preprocessing = attr_json(p, raw, "preprocessing", dict, "an object (the recorded preprocessing steps)")
        pairs_raw = (attr_json(p, raw, "complex_pairs", list, "a list of [re, im] channel index pairs")
                     if "complex_pairs" in raw else [])
        complex_pairs = check_complex_pairs(p, pairs_raw, int(shape[1]))
        label_shapes: dict[str, tuple[int, ...]] = {}
        for key in labels:
            if key not in f:
                raise ValueError(f"{p}: label {key!r} declared in 'labels' but no dataset of that name")
            ds = f[key]
            if not isinstance(ds, h5py.Dataset):
                raise ValueError(f"{p}: label {key!r} is a {_kind_of(ds)}, expected a dataset of {shape[0]} rows")
            if len(ds.shape) == 0 or ds.shape[0] != shape[0]:
                rows = ds.shape[0] if ds.shape else "no"
                raise ValueError(f"{p}: label {key!r} has {rows} rows, expected N={shape[0]}")
            check_stored(p, ds, f"label {key!r}")
            label_shapes[key] = tuple(int(d) for d in ds.shape[1:])
        for key, meta in labels.items():
            by = meta.get("stratify")
            if by is not None and (meta.get("kind") != "classification"
                                   or labels.get(by, {}).get("kind") != "regression"):
                raise ValueError(f"{p}: label {key!r} is stratified by {by!r}, expected a regression label of the "
                                 f"file for a classification label; the file has {sorted(labels)}")
    return {
        "path": p,
        "n": int(shape[0]),
        "shape": tuple(int(s) for s in shape[1:]),
        "mean": mean,
        "std": std,
        "preprocessing": preprocessing,
        "source": raw["source"],
        "modality": modality,
        "labels": labels,
        "label_shapes": label_shapes,
        "complex_pairs": complex_pairs,
        "format_version": version,
        "attrs": raw,
    }
