"""What the converters share: reading interleaved IQ, cutting it into spectrogram windows, choosing where a
label comes from, and the read / skipped / written report every converter prints.

Label sources (``--label`` of the IQ converters) say where a recording's class is found, because public
releases of one dataset differ in layout:

* ``json:KEY.PATH`` — a key path in a JSON metadata document (``json:transmitter``, ``json:tx.id``);
* ``annotation:FIELD`` — a field of each SigMF annotation (``annotation:core:label``);
* ``global:FIELD`` — a field of the SigMF ``global`` object (one label per recording);
* ``filename:REGEX`` — the first group (or whole match) of a regular expression on the file name;
* ``folder`` — the name of the folder holding the file.

What every converter reads from a raw file is checked here before it changes form: numbers that become counts,
offsets, rates, flags or labels by :func:`check_int` / :func:`check_int_array` / :func:`check_number` /
:func:`check_real_array` (type, sign, range, finiteness, integer-ness, *before* any cast or slice), JSON by
:func:`read_json`, MATLAB files by :func:`load_mat`, images by :func:`read_pil_image`; each failure is a one-line
ValueError naming the file and the item (sample, row, key) and what was expected. Command-line numbers go through
the argument types :func:`positive_int`, :func:`nonnegative_int`, :func:`positive_float`, :func:`finite_float`
and :func:`fraction`, and :class:`ArgumentParser` prints any usage error as one line (exit 2).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import warnings
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from wfm.data import transforms
from wfm.data.hdf5 import label_meta, write_dataset_file
from wfm.data.modalities import IQ, SPECTROGRAM

#: SigMF / raw IQ sample formats: numpy dtype of one real value and the scale to unit full range
IQ_DTYPES = {"cf32_le": ("<f4", 1.0), "cf64_le": ("<f8", 1.0), "ci16_le": ("<i2", 1 / 32768.0)}
LABEL_KINDS = ("json", "annotation", "global", "filename", "folder")


# ------------------------------------------------------------------------------------- command-line numbers
class ArgumentParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` whose usage errors are one line on stderr, exit 2:
    ``wfm-convert NAME: error: argument --size: expected an integer >= 1, got '0'  (--help lists the options)``."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {' '.join(str(message).split())}  (--help lists the options)\n")


def _int_type(lo: int, what: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(str(text).strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if value < lo:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    parse.__name__ = what
    return parse


def int_at_least(lo: int) -> Callable[[str], int]:
    """An argparse type: an integer >= ``lo`` (a usage error otherwise)."""
    return _int_type(lo, f"an integer >= {lo}")


positive_int = _int_type(1, "an integer >= 1")
positive_int.__doc__ = "An argparse type: an integer >= 1 (a count, a size, a length)."
nonnegative_int = _int_type(0, "an integer >= 0")
nonnegative_int.__doc__ = "An argparse type: an integer >= 0 (a seed, an offset)."


def _float_type(test: Callable[[float], bool], what: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(str(text).strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not (math.isfinite(value) and test(value)):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    parse.__name__ = what
    return parse


positive_float = _float_type(lambda v: v > 0, "a finite number > 0")
positive_float.__doc__ = "An argparse type: a finite number > 0 (a rate, a scale, a range)."
nonnegative_float = _float_type(lambda v: v >= 0, "a finite number >= 0")
nonnegative_float.__doc__ = "An argparse type: a finite number >= 0 (a limit that 0 switches off)."
finite_float = _float_type(lambda v: True, "a finite number")
finite_float.__doc__ = "An argparse type: any finite number (an SNR in dB, an angle, a coordinate)."
fraction = _float_type(lambda v: 0 <= v <= 1, "a number in [0, 1]")
fraction.__doc__ = "An argparse type: a number in [0, 1] (a probability, a fraction)."


# -------------------------------------------------------------------------------- values read from raw files
def _is_integer(value: Any) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, (int, np.integer)):
        return True
    return (isinstance(value, (float, np.floating)) and math.isfinite(value) and float(value).is_integer()
            and abs(value) <= 2 ** 53)


def _range(lo: float | None, hi: float | None) -> str:
    if lo is not None and hi is not None:
        return f" in [{lo}, {hi}]"
    return f" >= {lo}" if lo is not None else f" <= {hi}" if hi is not None else ""


def _shown(value: Any) -> str:
    text = repr(value.item() if isinstance(value, np.generic) else value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_int(value: Any, where: str, what: str, lo: int | None = None, hi: int | None = None) -> int:
    """``value`` read from a raw file (a count, an offset, an index, a flag) as an ``int``, checked first: an
    integer (an integer-valued float such as MATLAB's doubles too; not a bool, a string or NaN) in ``[lo, hi]``.
    Otherwise a ValueError ``<where>: <what> is <value>; expected an integer >= lo`` (``where``: the file and the
    item, e.g. ``rec.sigmf-meta: annotation 2``)."""
    if not _is_integer(value) or (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ValueError(f"{where}: {what} is {_shown(value)}; expected an integer{_range(lo, hi)}")
    return int(value)


def check_number(value: Any, where: str, what: str, lo: float | None = None, positive: bool = False) -> float:
    """``value`` read from a raw file (a rate, a frequency) as a finite ``float`` (> 0 with ``positive``, >= ``lo``
    if given), checked before use; a bool or a string is refused."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
    if not (ok and math.isfinite(value) and (not positive or value > 0) and (lo is None or value >= lo)):
        want = "a finite number" + (" > 0" if positive else _range(lo, None))
        raise ValueError(f"{where}: {what} is {_shown(value)}; expected {want}")
    return float(value)


def _first_bad(ok: np.ndarray) -> int:
    return int(np.argmin(ok.reshape(len(ok), -1).all(axis=1))) if ok.ndim > 1 else int(np.argmin(ok))


def check_int_array(values: Any, where: str, what: str, lo: int | None = None, hi: int | None = None,
                    allowed: tuple[int, ...] | None = None, item: str = "row") -> np.ndarray:
    """An array read from a raw file (labels, flags, indices) as int64, every entry checked *before* the cast:
    numeric (integers, or floats that are finite and integer-valued; booleans as 0 / 1), in ``[lo, hi]`` or one of
    ``allowed``. Otherwise a ValueError ``<where>: <item> i has <what>=2.7; expected an integer in [0, 3]`` naming
    the first bad entry (``item``: what the first axis counts, e.g. ``user``, ``sample``)."""
    arr = np.asarray(values)
    expected = f"one of {allowed}" if allowed is not None else f"an integer{_range(lo, hi)}"
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{where}: {what} has dtype {arr.dtype}; expected {expected} per {item}")
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.dtype.kind == "b":
        arr = arr.astype(np.int64)
    ok = np.ones(arr.shape, bool)
    if arr.dtype.kind == "f":
        with np.errstate(invalid="ignore"):
            ok &= np.isfinite(arr) & (np.round(arr) == arr) & (np.abs(arr) <= 2.0 ** 53)
    with np.errstate(invalid="ignore"):
        if allowed is not None:
            ok &= np.isin(arr, np.asarray(allowed))
        if lo is not None:
            ok &= arr >= lo
        if hi is not None:
            ok &= arr <= hi
    if not ok.all():
        i = _first_bad(ok)
        raise ValueError(f"{where}: {item} {i} has {what}={_shown(arr[i].tolist())}; expected {expected}")
    return arr.astype(np.int64)


def check_real_array(values: Any, where: str, what: str, item: str = "row", first: int = 0) -> np.ndarray:
    """An array read from a raw file (features, positions) checked real (not complex, not strings), finite and
    inside the float32 range it is stored in, before any cast: a ValueError ``<where>: <item> i has NaN/Inf values
    in <what>; expected finite numbers`` naming the first bad entry along the first axis (numbered from ``first``,
    for an array that is one block of a file read in blocks)."""
    arr = np.asarray(values)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{where}: {what} has dtype {arr.dtype}; expected real numbers")
    if arr.dtype.kind == "f" and arr.size:
        flat = arr.reshape(len(arr), -1) if arr.ndim else arr.reshape(1, 1)
        ok = np.isfinite(flat)
        if not ok.all():
            raise ValueError(f"{where}: {item} {first + _first_bad(ok)} has NaN/Inf values in {what}; expected "
                             "finite numbers")
        ok = np.abs(flat) <= np.finfo(np.float32).max
        if not ok.all():
            raise ValueError(f"{where}: {item} {first + _first_bad(ok)} has a value beyond the float32 range in "
                             f"{what}; expected |x| < 3.4e38")
    return arr


def read_json(path: Path, what: str = "metadata") -> Any:
    """The JSON document of ``path``; a file that is not UTF-8 text or not valid JSON (or nested too deeply) is a
    one-line ValueError naming it. The caller checks the types of what it uses (:func:`json_object`...)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: {what} is not UTF-8 text ({err.reason} at byte {err.start})") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from None
    except RecursionError:
        raise ValueError(f"{path}: not valid JSON (nested too deeply)") from None


def json_object(value: Any, where: str, what: str, default: Any = None, kind: type = dict) -> Any:
    """``value`` (a part of a JSON document) if it is a ``kind`` (``dict`` or ``list``); None gives ``default``;
    anything else is a ValueError ``<where>: <what> is a str; expected a JSON object``."""
    if value is None and default is not None:
        return default
    if not isinstance(value, kind):
        want = "a JSON object" if kind is dict else "a JSON list" if kind is list else kind.__name__
        name = type(value).__name__
        got = "null" if value is None else ("an " if name[0] in "aeiou" else "a ") + name
        raise ValueError(f"{where}: {what} is {got}; expected {want}")
    return value


def require_file(path: str | Path, expected: str) -> Path:
    """``path`` as a Path, checked to be a file before a converter opens it: a folder is an IsADirectoryError
    ``<path>: a folder; expected <expected>`` and a missing path a FileNotFoundError ``<path>: no such file;
    expected <expected>`` (``expected``: what the converter reads, e.g. ``a RadioML pickle (.pkl)``), so the two
    are never confused and neither reaches the reader as its own error."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path}: a folder; expected {expected}")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file; expected {expected}")
    return path


def error_name(err: BaseException) -> str:
    """The type of ``err`` for a message: ``MatReadError``, ``BadZipFile``; a bare ``error`` with its module
    (``zlib.error``, ``struct.error``)."""
    name = type(err).__name__
    return f"{type(err).__module__}.{name}" if name == "error" else name


def load_mat(path: Path, expected: str) -> dict[str, Any]:
    """The variables of a MATLAB v4 / v5 ``.mat`` file (scipy), dunder entries dropped. A MATLAB v7.3 file raises
    ``NotImplementedError`` (it is HDF5: read it with h5py); any other failure (truncated, corrupt, another format:
    scipy's ``MatReadError``, ``zlib.error``, ...) is a one-line ValueError ``<path>: not a readable MATLAB .mat
    file (...); expected <expected>``."""
    import scipy.io

    require_file(path, expected)
    try:
        raw = scipy.io.loadmat(path)
    except NotImplementedError:
        raise
    except MemoryError:
        raise ValueError(f"{path}: a variable claims more memory than there is (corrupt?); expected {expected}"
                         ) from None
    except Exception as err:  # noqa: BLE001 - scipy raises many types on a malformed file; each becomes one line
        text = " ".join(str(err).split())[:200] or "no detail"
        raise ValueError(f"{path}: not a readable MATLAB .mat file ({error_name(err)}: {text}); expected "
                         f"{expected}") from None
    return {k: v for k, v in raw.items() if not k.startswith("__")}


def read_pil_image(path: Path, mode: str, where: str | None = None, expected: str = "a PNG / JPEG image"
                   ) -> np.ndarray:
    """The pixels of an image file converted to PIL ``mode`` (``"L"``, ``"RGB"``) as a uint8 array. An image whose
    header claims more pixels than ``PIL.Image.MAX_IMAGE_PIXELS`` (a decompression bomb: PIL's
    ``DecompressionBombWarning`` is taken as an error too) or that PIL cannot decode is a one-line ValueError
    ``<path>: ...; expected <expected>`` (``where``: the item that named the file, e.g. a CSV row)."""
    from PIL import Image

    at = f" ({where})" if where else ""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(path) as im:
                im.load()
                return np.asarray(im.convert(mode))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
            raise ValueError(f"{path}: refusing an image this large, a possible decompression bomb ({err}); "
                             f"expected {expected}{at}") from None
        except FileNotFoundError:
            raise
        except Exception as err:  # noqa: BLE001 - PIL raises OSError, SyntaxError, struct.error...; one line each
            text = " ".join(str(err).split())[:200] or "no detail"
            raise ValueError(f"{path}: not a readable image ({error_name(err)}: {text}); expected {expected}{at}"
                             ) from None


def read_interleaved_iq(path: Path, datatype: str = "cf32_le") -> np.ndarray:
    """Complex64 samples of a file of interleaved little-endian I/Q values, checked: whole values, an even
    number of them, all finite (a NaN or Inf is refused naming the sample)."""
    if not isinstance(datatype, str) or datatype not in IQ_DTYPES:
        raise ValueError(f"{path}: IQ datatype {datatype!r} not supported; expected one of {sorted(IQ_DTYPES)}")
    np_dtype, scale = IQ_DTYPES[datatype]
    itemsize = np.dtype(np_dtype).itemsize
    size = path.stat().st_size
    if size % itemsize:
        raise ValueError(f"{path}: {size} bytes is not a whole number of {datatype} values ({itemsize} bytes each)")
    raw = np.fromfile(path, dtype=np_dtype)
    if raw.size % 2:
        raise ValueError(f"{path}: odd number of values; expected interleaved I/Q pairs")
    if raw.dtype.kind == "f":
        finite = np.isfinite(raw)
        if not finite.all():
            raise ValueError(f"{path}: sample {int(np.argmin(finite)) // 2} has a NaN/Inf value; expected finite I/Q")
    return (raw[0::2] + 1j * raw[1::2]).astype(np.complex64) * scale


def stft_description(nfft: int, frames: int) -> dict[str, Any]:
    """The ``stft`` step recorded in a file's preprocessing (what :func:`iq_windows` did)."""
    return {"nfft": nfft, "frames": frames, "hop": nfft // 2, "window": "hann", "fftshift": True}


def iq_windows(iq: np.ndarray, nfft: int, frames: int, max_windows: int | None = None) -> np.ndarray:
    """IQ -> power spectrogram windows ``(n, 1, nfft, frames)`` (the one IQ/STFT path of every converter)."""
    return transforms.iq_spectrograms(iq, nfft, frames, max_windows=max_windows)


def iq_sample_windows(iq: np.ndarray, length: int, max_windows: int | None = None) -> np.ndarray:
    """Complex IQ ``(A, L)`` (antennas x samples; 1-D for one antenna) cut into non-overlapping windows of
    ``length`` samples: raw ``(n, A, 2, length)`` float32 (I, Q), the wfm ``iq`` layout. A tail shorter than
    ``length`` is dropped. Inverse: ``windows[:, :, 0] + 1j * windows[:, :, 1]`` concatenated over n."""
    iq = np.asarray(iq)
    iq = iq[None] if iq.ndim == 1 else iq
    if iq.ndim != 2 or length < 1:
        raise ValueError(f"iq_sample_windows: expected (antennas, samples) and length >= 1, got {iq.shape}, {length}")
    n = iq.shape[1] // length
    if max_windows is not None:
        n = min(n, max_windows)
    w = iq[:, : n * length].reshape(iq.shape[0], n, length).transpose(1, 0, 2)  # (n, A, length)
    return np.stack([w.real, w.imag], axis=2).astype(np.float32)


@dataclass(frozen=True)
class LabelSource:
    """Where a label is read from: ``kind`` in ``LABEL_KINDS`` and its argument (key path, field, regex)."""

    kind: str
    arg: str = ""

    @classmethod
    def parse(cls, spec: str) -> LabelSource:
        kind, _, arg = spec.partition(":")
        if kind not in LABEL_KINDS:
            raise ValueError(f"label source {spec!r}: expected one of {', '.join(k + ':...' for k in LABEL_KINDS)}")
        if kind != "folder" and not arg:
            raise ValueError(f"label source {spec!r}: {kind} needs an argument, e.g. {kind}:NAME")
        if kind == "filename":
            try:
                re.compile(arg)
            except re.error as err:
                raise ValueError(f"label source {spec!r}: bad regular expression: {err}") from err
        return cls(kind, arg)

    def __str__(self) -> str:
        return self.kind if self.kind == "folder" else f"{self.kind}:{self.arg}"

    def read(self, path: Path, document: Mapping[str, Any] | None = None) -> str | None:
        """The label for file ``path`` (``document``: its JSON metadata, or one SigMF annotation / global
        object), or None when this source has nothing there."""
        if self.kind == "folder":
            return path.parent.name
        if self.kind == "filename":
            m = re.search(self.arg, path.name)
            return None if m is None else (m.group(1) if m.groups() else m.group(0))
        if not isinstance(document, Mapping):  # no document, or JSON of another type: nothing at this source
            return None
        if self.kind in ("annotation", "global"):  # SigMF field names contain ':' and no dots
            value = document.get(self.arg)
        else:
            value: Any = document
            for part in self.arg.split("."):
                if not isinstance(value, Mapping) or part not in value:
                    return None
                value = value[part]
        return None if value is None or isinstance(value, (Mapping, list)) else str(value)


def class_indices(names: list[str], where: Path, source: LabelSource) -> tuple[list[str], np.ndarray]:
    """Sorted class names and the int64 label of every sample; one class only is an error (nothing to learn)."""
    classes = sorted(set(names))
    if len(classes) < 2:
        raise ValueError(f"{where}: every sample is labelled {classes[0]!r} (labels from {source}); a "
                         "classification needs two or more classes: choose another --label")
    return classes, np.array([classes.index(c) for c in names], dtype=np.int64)


@dataclass
class Report:
    """How many files and samples a conversion read, skipped (with the reasons) and wrote."""

    files_read: int = 0
    samples_written: int = 0
    skipped: Counter = field(default_factory=Counter)  # reason -> count
    outputs: list[Path] = field(default_factory=list)

    def skip(self, reason: str, count: int = 1) -> None:
        self.skipped[reason] += count

    def __str__(self) -> str:
        lines = [f"read {self.files_read} file(s), wrote {self.samples_written} sample(s) to "
                 + ", ".join(str(p) for p in self.outputs)]
        for reason, count in sorted(self.skipped.items()):
            lines.append(f"skipped {count}: {reason}")
        return "\n".join(lines)


def write_labelled_windows(
    out_dir: str | Path,
    name: str,
    specs: list[np.ndarray],
    names: list[str],
    where: Path,
    source: LabelSource,
    size: int,
    nfft: int,
    frames: int,
    origin: str,
    report: Report,
) -> Report:
    """The tail of every IQ converter: power windows ``specs`` labelled ``names`` -> dB, resize, one classification
    file ``out_dir/<name>.h5`` (statistics from the seed-0 training split); recorded in ``report``."""
    if not names:
        raise ValueError(f"{where}: no labelled window of {frames} frames of {nfft} bins (labels from {source})")
    x = transforms.preprocess(np.concatenate(specs), power=True, size=size)
    prep = transforms.describe(True, size, stft=stft_description(nfft, frames), labels_from=str(source))
    return _write_classified(out_dir, name, x, names, where, source, origin, SPECTROGRAM.name, prep,
                             report)


def _write_classified(out_dir: str | Path, name: str, x: np.ndarray, names: list[str], where: Path,
                      source: LabelSource, origin: str, modality: str, prep: dict, report: Report) -> Report:
    """One classification file ``out_dir/<name>.h5`` of inputs ``x`` labelled ``names``, recorded in ``report``."""
    classes, labels = class_indices(names, where, source)
    report.outputs.append(write_dataset_file(
        out_dir, name, x, {"label": labels}, label_meta({"label": "classification"}, {"label": classes}),
        source=origin, modality=modality, preprocessing=prep,
    ))
    report.samples_written = len(labels)
    return report


def write_labelled_iq(
    out_dir: str | Path,
    name: str,
    windows: list[np.ndarray],
    names: list[str],
    where: Path,
    source: LabelSource,
    length: int,
    origin: str,
    report: Report,
) -> Report:
    """The IQ-output tail of an IQ converter: raw windows ``(n, A, 2, length)`` labelled ``names`` -> one
    classification file of modality ``iq`` (per-component statistics from the seed-0 training split)."""
    if not names:
        raise ValueError(f"{where}: no labelled window of {length} samples (labels from {source})")
    prep = transforms.describe_iq(windows={"length": length, "overlap": 0}, labels_from=str(source))
    return _write_classified(out_dir, name, np.concatenate(windows), names, where, source, origin, IQ.name, prep,
                             report)


def converter_arguments(prog: str, description: str, source: str, name: str | None) -> argparse.ArgumentParser:
    """The options every converter takes: the raw ``source`` (its positional name), ``out_dir``, ``--size``
    (the model input side the samples are resized to) and ``--name`` (the output file name, without .h5)."""
    p = ArgumentParser(prog=f"wfm-convert {prog}", description=description)
    p.add_argument(source)
    p.add_argument("out_dir")
    p.add_argument("--size", type=positive_int, default=112)
    p.add_argument("--name", default=name, help="output file name (without .h5)")
    return p


def find_raw(raw_dir: str | Path, pattern: str, what: str = "files") -> list[Path]:
    """Every file matching ``pattern`` below ``raw_dir``, sorted; none is an error naming both
    (``<raw_dir>: no <pattern> <what>``)."""
    found = sorted(Path(raw_dir).rglob(pattern))
    if not found:
        raise FileNotFoundError(f"{raw_dir}: no {pattern} {what}")
    return found


def iq_arguments(prog: str, description: str, name: str | None, label: str, per: str) -> argparse.ArgumentParser:
    """The command-line options every IQ-recording converter takes."""
    p = converter_arguments(prog.removeprefix("wfm-convert "), description, "raw_dir", name)
    p.add_argument("--nfft", type=int_at_least(2), default=256)
    p.add_argument("--frames", type=positive_int, default=256)
    p.add_argument("--max-windows", type=positive_int, default=None, help=f"per {per}")
    p.add_argument("--label", default=label, help="where labels come from: json:KEY.PATH, annotation:FIELD, "
                                                  "global:FIELD, filename:REGEX or folder")
    return p


def read_h5(path: str | Path, ds: Any, sel: Any, what: str) -> np.ndarray:
    """``ds[sel]`` of an input HDF5 dataset; HDF5 failing to read it (a corrupt chunk, a filter it lacks) is a
    ValueError naming the file and ``what`` was read."""
    try:
        return np.asarray(ds[sel])
    except (OSError, RuntimeError, ValueError, TypeError) as err:
        raise ValueError(f"{path}: cannot read {what} ({' '.join(str(err).split())[:200]}); the file is corrupt or "
                         "truncated") from None
