"""What the converters share: reading interleaved IQ, cutting it into spectrogram windows, choosing where a
label comes from, and the read / skipped / written report every converter prints.

Label sources (``--label`` of the IQ converters) say where a recording's class is found, because public
releases of one dataset differ in layout:

* ``json:KEY.PATH`` — a key path in a JSON metadata document (``json:transmitter``, ``json:tx.id``);
* ``annotation:FIELD`` — a field of each SigMF annotation (``annotation:core:label``);
* ``global:FIELD`` — a field of the SigMF ``global`` object (one label per recording);
* ``filename:REGEX`` — the first group (or whole match) of a regular expression on the file name;
* ``folder`` — the name of the folder holding the file.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from collections.abc import Mapping
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


def read_interleaved_iq(path: Path, datatype: str = "cf32_le") -> np.ndarray:
    """Complex64 samples of a file of interleaved little-endian I/Q values."""
    if datatype not in IQ_DTYPES:
        raise ValueError(f"{path}: IQ datatype {datatype!r} not supported; expected one of {sorted(IQ_DTYPES)}")
    np_dtype, scale = IQ_DTYPES[datatype]
    raw = np.fromfile(path, dtype=np_dtype)
    if raw.size % 2:
        raise ValueError(f"{path}: odd number of values; expected interleaved I/Q pairs")
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
        if document is None:
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
    p = argparse.ArgumentParser(prog=f"wfm-convert {prog}", description=description)
    p.add_argument(source)
    p.add_argument("out_dir")
    p.add_argument("--size", type=int, default=112)
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
    p.add_argument("--nfft", type=int, default=256)
    p.add_argument("--frames", type=int, default=256)
    p.add_argument("--max-windows", type=int, default=None, help=f"per {per}")
    p.add_argument("--label", default=label, help="where labels come from: json:KEY.PATH, annotation:FIELD, "
                                                  "global:FIELD, filename:REGEX or folder")
    return p
