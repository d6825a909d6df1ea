"""What the RadioML converters share: reading the released layouts, choosing samples, writing both views.

Released layouts (the converters ``radioml2016``, ``rml22`` and ``radioml2018`` read them):

* RadioML 2016.10a / 2016.10b / 2016.04C and RML22: a Python-2 pickle of a dict ``{(modulation, snr): float32
  (n, 2, 128)}`` (I and Q rows of 128 samples; modulation ``str`` or ``bytes``, SNR an integer in dB), loaded
  whole with the restricted unpickler of :mod:`wfm.data.converters.safe_pickle` (never ``pickle.load``);
* RadioML 2018.01A (``GOLD_XYZ_OSC.0001_1024.hdf5``): HDF5 datasets ``X`` float32 ``(N, 1024, 2)`` (I, Q along
  the last axis), ``Y`` one-hot ``(N, 24)``, ``Z`` ``(N, 1)`` SNR in dB; no class names in the file
  (:data:`RADIOML2018_CLASSES` is the documented order). ``Y`` and ``Z`` are read in chunks for the labels and
  only the chosen rows of ``X`` are read, chunk by chunk: the 21 GB file is never loaded whole.

Every conversion writes two files into ``OUT_DIR``, the same captures in the same order with the same labels:

* ``<name>_iq.h5``: modality ``iq``, inputs ``(N, 1, 2, T)`` = the source's values unchanged (float32);
* ``<name>_spectrogram.h5``: modality ``spectrogram``, per capture the power STFT (Hann window of ``nfft``
  samples, hop ``nfft // 2``, DC centred, only frames inside the capture: 15 frames for T = 128 and nfft 16, 31
  for T = 1024 and nfft 64), then dB and a bicubic resize to ``size`` (``transforms.preprocess``).

Labels of both: ``label`` (classification: the modulation names, sorted for the pickles, the documented order for
2018) and ``snr_db`` (regression ``(N, 1)`` float32, dB), the SNR recorded as ``label``'s stratification variable
(the probe report gives the accuracy per SNR bin). Statistics come from the training part of the seed-0 80/20
split of the written samples, streamed chunk by chunk (``H5Writer`` with ``stats_rows``), as
``write_dataset_file`` computes them.

Raw values are checked before any cast; each bad item is a one-line ValueError naming the file and the key or
sample and what was expected.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from wfm.data import transforms
from wfm.data.converters.common import (
    Report,
    converter_arguments,
    finite_float,
    int_at_least,
    nonnegative_int,
    read_h5,
    require_file,
    stft_description,
)
from wfm.data.converters.safe_pickle import load as load_pickle
from wfm.data.hdf5 import H5Writer, check_stored, label_meta, open_h5, safe_output_path
from wfm.data.modalities import IQ, SPECTROGRAM
from wfm.data.split import train_test_split
from wfm.data.synthetic.spectrogram import power_spectrogram

#: RadioML 2018.01A: the class of each column of ``Y`` (the order documented with the release)
RADIOML2018_CLASSES = (
    "OOK", "4ASK", "8ASK", "BPSK", "QPSK", "8PSK", "16PSK", "32PSK", "16APSK", "32APSK", "64APSK", "128APSK",
    "16QAM", "32QAM", "64QAM", "128QAM", "256QAM", "AM-SSB-WC", "AM-SSB-SC", "AM-DSB-WC", "AM-DSB-SC", "FM", "GMSK",
    "OQPSK",
)
PICKLE_SAMPLES = 128  # time samples per capture of the 2016 / RML22 pickles
STATS_SEED, TRAIN_FRAC = 0, 0.8  # the split the statistics come from (as write_dataset_file)
CHUNK = 2048  # captures read, transformed and written at a time
LABEL_CHUNK = 1 << 16  # rows of Y / Z read at a time
F32_MAX = float(np.finfo(np.float32).max)
SNR_RANGE = (-1000, 1000)  # dB: what an SNR read from a file may be (checked before it is cast to int64)


@dataclass
class Captures:
    """What a converter read: every capture's class and SNR, and how to read the IQ of some of them.

    ``read(indices)`` (sorted int64) returns their raw IQ ``(n, 2, T)`` float32 (I, Q rows), values checked."""

    where: Path
    classes: list[str]
    label: np.ndarray  # (N,) int64
    snr: np.ndarray  # (N,) int64, dB
    length: int  # T
    read: Callable[[np.ndarray], np.ndarray]
    origin: str  # the file's ``source`` attribute
    layout: str  # the raw layout, recorded in the preprocessing


# --------------------------------------------------------------------------------------------- the pickles
def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def read_pickle(path: str | Path, dataset: str) -> Captures:
    """The captures of a RadioML 2016 / RML22 pickle ``{(modulation, snr): (n, 2, 128)}``, checked key by key
    (modulation a ``str`` or ``bytes`` name, SNR an integer, a float array of finite values of that shape)."""
    path = Path(path)
    data = load_pickle(path)
    expected = f"a dict {{(modulation, snr): float array (n, 2, {PICKLE_SAMPLES})}}"
    if not isinstance(data, dict):
        raise ValueError(f"{path}: holds a {type(data).__name__}, expected {expected}")
    if not data:
        raise ValueError(f"{path}: the dict is empty, expected {expected}")
    items: list[tuple[str, int, np.ndarray]] = []
    for key, value in data.items():
        if not isinstance(key, tuple) or len(key) != 2:
            raise ValueError(f"{path}: key {key!r}: expected a (modulation, snr) pair")
        mod, snr = key
        if isinstance(mod, bytes):
            mod = mod.decode("latin1")
        if not isinstance(mod, str) or not mod:
            raise ValueError(f"{path}: key {key!r}: modulation {key[0]!r} is not a name (str or bytes)")
        if not _is_int(snr):
            raise ValueError(f"{path}: key {key!r}: SNR {snr!r} is not an integer (dB)")
        if not SNR_RANGE[0] <= snr <= SNR_RANGE[1]:
            raise ValueError(f"{path}: key {key!r}: SNR {snr} dB, expected an integer in [{SNR_RANGE[0]}, "
                             f"{SNR_RANGE[1]}]")
        if not isinstance(value, np.ndarray):
            raise ValueError(f"{path}: key {key!r}: holds a {type(value).__name__}, expected a float array "
                             f"(n, 2, {PICKLE_SAMPLES})")
        if value.dtype.kind != "f":
            raise ValueError(f"{path}: key {key!r}: array of dtype {value.dtype}, expected floats "
                             f"(n, 2, {PICKLE_SAMPLES})")
        if value.ndim != 3 or value.shape[1:] != (2, PICKLE_SAMPLES):
            raise ValueError(f"{path}: key {key!r}: array of shape {value.shape}, expected (n, 2, {PICKLE_SAMPLES})")
        finite = np.isfinite(value.reshape(len(value), -1)).all(axis=1)
        if not finite.all():
            raise ValueError(f"{path}: key {key!r}, sample {int(np.argmin(finite))}: NaN/Inf values, expected "
                             "finite floats")
        inside = (np.abs(value.reshape(len(value), -1)) <= F32_MAX).all(axis=1)  # before the float32 cast
        if not inside.all():
            raise ValueError(f"{path}: key {key!r}, sample {int(np.argmin(inside))}: values beyond the float32 "
                             "range, expected |x| < 3.4e38")
        items.append((mod, int(snr), value))
    items.sort(key=lambda item: (item[0], item[1]))  # a canonical order: by modulation, then SNR
    classes = sorted({mod for mod, _, _ in items})
    if len(classes) < 2:
        raise ValueError(f"{path}: every key has modulation {classes[0]!r}; a classification needs two or more")
    x = np.concatenate([v for _, _, v in items]).astype(np.float32, copy=False)
    label = np.concatenate([np.full(len(v), classes.index(m), np.int64) for m, _, v in items])
    snr = np.concatenate([np.full(len(v), s, np.int64) for _, s, v in items])
    return Captures(path, classes, label, snr, PICKLE_SAMPLES, lambda idx: x[idx], f"{dataset}:{path.name}",
                    f"pickle {{(modulation, snr): (n, 2, {PICKLE_SAMPLES})}}, keys sorted by (modulation, snr)")


# ------------------------------------------------------------------------------------------ RadioML 2018
def parse_classes(spec: str | Sequence[str] | None) -> list[str]:
    """Class names from a list, a comma-separated string, or a path to a JSON list or a text file of one name
    per line; None gives :data:`RADIOML2018_CLASSES`."""
    if spec is None:
        return list(RADIOML2018_CLASSES)
    if isinstance(spec, str):
        path = Path(spec)
        if path.is_file():
            try:
                text = path.read_text(encoding="utf-8")
            except UnicodeDecodeError as err:
                raise ValueError(f"{path}: --classes file is not UTF-8 text ({err.reason} at byte {err.start})"
                                 ) from None
            if path.suffix == ".json":
                try:
                    names = json.loads(text)
                except (json.JSONDecodeError, RecursionError) as err:
                    raise ValueError(f"{path}: --classes file is not valid JSON ({err})") from None
                if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                    raise ValueError(f"{path}: --classes file holds {type(names).__name__}, expected a JSON list "
                                     "of class names")
            else:
                names = [line.strip() for line in text.splitlines() if line.strip()]
        else:
            names = [n.strip() for n in spec.split(",") if n.strip()]
    else:
        names = [str(n) for n in spec]
    if len(names) < 2 or len(set(names)) != len(names):
        raise ValueError(f"--classes {names}: expected two or more distinct class names")
    return names


def _rows(n: int, chunk: int):
    for start in range(0, n, chunk):
        yield start, min(start + chunk, n)


def read_radioml2018(path: str | Path, classes: str | Sequence[str] | None = None) -> Captures:
    """The captures of a RadioML 2018.01A file: labels and SNRs from ``Y`` / ``Z`` (read in chunks, every row
    checked: one-hot, integer SNR); ``read`` reads (and checks) only the rows of ``X`` asked for."""
    path = require_file(path, "a RadioML 2018.01A HDF5 file (GOLD_XYZ_OSC.0001_1024.hdf5)")
    names = parse_classes(classes)
    expected = "expected RadioML 2018.01A datasets X (N, 1024, 2), Y (N, classes) one-hot and Z (N, 1) SNR"
    with open_h5(path, "expected a RadioML 2018.01A HDF5 file (GOLD_XYZ_OSC.0001_1024.hdf5)",
                 "not a readable HDF5 file") as f:
        missing = [k for k in ("X", "Y", "Z") if not isinstance(f.get(k), h5py.Dataset)]
        if missing:
            raise ValueError(f"{path}: no dataset {', '.join(missing)}; {expected}")
        xs, ys, zs = f["X"].shape, f["Y"].shape, f["Z"].shape
        if len(xs) != 3 or xs[2] != 2 or xs[1] < 2:
            raise ValueError(f"{path}: X has shape {xs}, expected (N, T, 2): I and Q along the last axis")
        if f["X"].dtype.kind != "f":
            raise ValueError(f"{path}: X has dtype {f['X'].dtype}, expected floats (N, T, 2)")
        n = xs[0]
        if len(ys) != 2 or ys[0] != n:
            raise ValueError(f"{path}: Y has shape {ys}, expected ({n}, classes) one-hot rows")
        if ys[1] != len(names):
            raise ValueError(f"{path}: Y has {ys[1]} columns but {len(names)} class names are given "
                             f"({'--classes' if classes is not None else 'the documented 2018.01A order'}); "
                             "expected one name per column")
        if zs not in ((n,), (n, 1)):
            raise ValueError(f"{path}: Z has shape {zs}, expected ({n}, 1) SNR in dB")
        if f["Y"].dtype.kind not in "biuf" or f["Z"].dtype.kind not in "iuf":
            raise ValueError(f"{path}: Y / Z have dtypes {f['Y'].dtype} / {f['Z'].dtype}, expected numbers")
        for key in ("X", "Y", "Z"):
            check_stored(path, f[key], key)  # every claimed row stored (a small file claiming N = 10^9 is refused)
        label = np.empty(n, np.int64)
        snr = np.empty(n, np.int64)
        for start, stop in _rows(n, LABEL_CHUNK):
            y = read_h5(path, f["Y"], slice(start, stop), "Y")
            ones, zeros = (y == 1).sum(axis=1), (y == 0).sum(axis=1)
            bad = (ones != 1) | (ones + zeros != y.shape[1])
            if bad.any():
                i = int(np.argmax(bad))
                nonzero = np.flatnonzero(y[i] != 0).tolist()
                raise ValueError(f"{path}: sample {start + i}: Y row has non-zero entries at columns {nonzero}, "
                                 "expected one-hot (exactly one 1, the rest 0)")
            label[start:stop] = np.argmax(y == 1, axis=1)
            z = read_h5(path, f["Z"], slice(start, stop), "Z").reshape(-1)
            with np.errstate(invalid="ignore"):
                ok = np.isfinite(z) & (np.round(z) == z) if z.dtype.kind == "f" else np.ones(len(z), bool)
                ok &= (z >= SNR_RANGE[0]) & (z <= SNR_RANGE[1])  # before the int64 cast (a huge uint64 would wrap)
            if not ok.all():
                i = int(np.argmin(ok))
                raise ValueError(f"{path}: sample {start + i}: Z = {z[i].item()!r}, expected an integer SNR in dB "
                                 f"in [{SNR_RANGE[0]}, {SNR_RANGE[1]}]")
            snr[start:stop] = z
    length = int(xs[1])

    def read(idx: np.ndarray) -> np.ndarray:
        with h5py.File(path, "r") as g:
            ds = g["X"]
            lo, hi = int(idx[0]), int(idx[-1]) + 1
            # a dense selection reads one block; a sparse one (a --max-samples subset) only its rows
            raw = (read_h5(path, ds, slice(lo, hi), "X")[idx - lo] if hi - lo <= 4 * len(idx)
                   else read_h5(path, ds, idx, "X"))
        finite = np.isfinite(raw.reshape(len(raw), -1)).all(axis=1)
        if not finite.all():
            raise ValueError(f"{path}: sample {int(idx[int(np.argmin(finite))])}: X has NaN/Inf values, expected "
                             "finite floats")
        inside = (np.abs(raw.reshape(len(raw), -1)) <= F32_MAX).all(axis=1)  # before the float32 cast
        if not inside.all():
            raise ValueError(f"{path}: sample {int(idx[int(np.argmin(inside))])}: X has values beyond the float32 "
                             "range, expected |x| < 3.4e38")
        return raw.transpose(0, 2, 1).astype(np.float32, copy=False)

    return Captures(path, names, label, snr, length, read, f"radioml2018:{path.name}",
                    f"HDF5 X (N, {length}, 2) I/Q last axis, Y one-hot, Z SNR; X transposed to (N, 2, {length})")


# -------------------------------------------------------------------------------------- choosing samples
def balanced_subset(label: np.ndarray, snr_bin: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Sorted positions of ``n`` items drawn at random (``seed``) and balanced over class ``label`` and SNR bin
    ``snr_bin`` (ints from 0): round after round every (class, SNR) cell gives one more item while it has any;
    within a round the cells are taken in a random Latin-square order (one cell per class in turn, the SNRs
    shifted from class to class), so any prefix keeps the class counts, and the SNR counts, within one of each
    other wherever the cells are not exhausted."""
    rng = np.random.default_rng(seed)
    m = len(label)
    perm = rng.permutation(m)
    lab, sb = np.asarray(label)[perm], np.asarray(snr_bin)[perm]
    n_snr = int(sb.max()) + 1 if m else 1
    cell = lab * n_snr + sb
    order = np.argsort(cell, kind="stable")  # grouped by cell, in the random order within a cell
    starts = np.r_[0, np.flatnonzero(np.diff(cell[order])) + 1]
    rank = np.empty(m, np.int64)
    rank[order] = np.arange(m) - np.repeat(starts, np.diff(np.r_[starts, m]))  # round of each item in its cell
    cls_pos = rng.permutation(int(lab.max()) + 1 if m else 1)[lab]
    turn = (rng.permutation(n_snr)[sb] - cls_pos) % n_snr
    pick = np.lexsort((np.arange(m), cls_pos, turn, rank))[:n]
    return np.sort(perm[pick])


def select(caps: Captures, snr_min: float | None, snr_max: float | None, max_samples: int | None, seed: int,
           report: Report) -> np.ndarray:
    """Sorted indices of the captures to write: SNR within ``[snr_min, snr_max]`` dB, then at most
    ``max_samples`` of them balanced over (class, SNR); what is left out is counted in ``report``."""
    lo = -np.inf if snr_min is None else float(snr_min)
    hi = np.inf if snr_max is None else float(snr_max)
    if lo > hi:
        raise ValueError(f"--snr-min {snr_min} is above --snr-max {snr_max}")
    keep = (caps.snr >= lo) & (caps.snr <= hi)
    idx = np.flatnonzero(keep)
    window = f"[{lo:g}, {hi:g}] dB"
    if (~keep).any():
        report.skip(f"SNR outside {window}", int((~keep).sum()))
    if max_samples is not None:
        if max_samples < 2:
            raise ValueError(f"--max-samples {max_samples}: expected at least 2 (the file is split 80/20)")
        if max_samples < len(idx):
            _, snr_bin = np.unique(caps.snr[idx], return_inverse=True)
            report.skip(f"not drawn by --max-samples {max_samples} (seed {seed})", len(idx) - max_samples)
            idx = idx[balanced_subset(caps.label[idx], snr_bin.reshape(-1), max_samples, seed)]
    if len(idx) < 2:
        raise ValueError(f"{caps.where}: {len(idx)} sample(s) with SNR in {window}; need at least 2")
    return idx.astype(np.int64)


# --------------------------------------------------------------------------------------------- writing
def frames_of(length: int, nfft: int) -> int:
    """STFT frames fully inside a capture of ``length`` samples (hop ``nfft // 2``); a bad ``nfft`` is refused."""
    if nfft < 4 or nfft % 2 or nfft > length:
        raise ValueError(f"--nfft {nfft}: expected an even number of bins in [4, {length}] for captures of {length} "
                         "samples")
    return 1 + (length - nfft) // (nfft // 2)


def spectrograms(iq: np.ndarray, nfft: int, frames: int, size: int) -> np.ndarray:
    """Raw IQ ``(n, 2, T)`` -> power STFT ``(n, 1, nfft, frames)`` -> dB -> resized ``(n, 1, size, size)``."""
    z = np.empty((len(iq), iq.shape[2]), np.complex64)
    z.real, z.imag = iq[:, 0], iq[:, 1]
    return transforms.preprocess(power_spectrogram(z, nfft, frames)[:, None], power=True, size=size)


def write_views(caps: Captures, out_dir: str | Path, name: str, size: int, nfft: int, snr_min: float | None,
                snr_max: float | None, max_samples: int | None, seed: int, report: Report,
                chunk: int | None = None) -> Report:
    """Write ``out_dir/<name>_iq.h5`` and ``out_dir/<name>_spectrogram.h5`` of the chosen captures (see the
    module docstring), streamed ``chunk`` captures at a time; both are written atomically (an error leaves
    neither temporary file behind)."""
    frames = frames_of(caps.length, nfft)
    if size < 1:
        raise ValueError(f"--size {size}: expected a positive side")
    paths = {view: safe_output_path(out_dir, f"{name}_{view}") for view in ("iq", "spectrogram")}
    idx = select(caps, snr_min, snr_max, max_samples, seed, report)
    n = len(idx)
    train_idx, _ = train_test_split(n, STATS_SEED, TRAIN_FRAC)
    stats_rows = np.zeros(n, bool)
    stats_rows[train_idx] = True
    meta = label_meta({"label": "classification", "snr_db": "regression"}, {"label": caps.classes},
                      units={"snr_db": "dB"}, stratify={"label": "snr_db"})
    selection = {"snr_db": [snr_min, snr_max], "max_samples": max_samples, "seed": seed, "samples": n}
    source = {"layout": caps.layout, "labels_from": "modulation -> label, SNR -> snr_db", "selection": selection}
    stft = {**stft_description(nfft, frames), "scaling": "|X|^2", "hann": "periodic",
            "function": "wfm.data.synthetic.spectrogram.power_spectrogram"}
    extra = {"stats_split": {"seed": STATS_SEED, "train_frac": TRAIN_FRAC}}
    writers: list[H5Writer] = []
    try:
        writers.append(H5Writer(paths["iq"], (1, 2, caps.length), meta, caps.origin, IQ.name,
                                transforms.describe_iq(**source), extra_attrs=extra, expected_rows=n))
        writers.append(H5Writer(paths["spectrogram"], (1, size, size), meta, caps.origin, SPECTROGRAM.name,
                                transforms.describe(True, size, stft=stft, **source), extra_attrs=extra,
                                expected_rows=n))
        iq_out, spec_out = writers
        for start, stop in _rows(n, chunk or CHUNK):
            sel = idx[start:stop]
            iq = caps.read(sel)
            labels = {"label": caps.label[sel], "snr_db": caps.snr[sel].astype(np.float32)[:, None]}
            rows = stats_rows[start:stop]
            iq_out.append(iq[:, None], labels, rows)
            spec_out.append(spectrograms(iq, nfft, frames, size), labels, rows)
        report.outputs += [w.close() for w in writers]  # each moved into place atomically
    except BaseException:
        for w in writers:  # drops the temporary files (a no-op for one already moved into place)
            w.abort()
        raise
    report.samples_written = n
    return report


# ------------------------------------------------------------------------------------- the commands
def selection_arguments(p: argparse.ArgumentParser, nfft: int) -> argparse.ArgumentParser:
    """The options every RadioML converter adds to :func:`converter_arguments`."""
    for action in p._actions:  # --name names two files here
        if action.dest == "name":
            action.help = "output name: writes <name>_iq.h5 and <name>_spectrogram.h5"
    p.add_argument("--nfft", type=int_at_least(4), default=nfft, help="STFT bins of the spectrogram view (hop nfft/2)")
    p.add_argument("--snr-min", type=finite_float, default=None, help="keep captures with SNR >= this (dB)")
    p.add_argument("--snr-max", type=finite_float, default=None, help="keep captures with SNR <= this (dB)")
    p.add_argument("--max-samples", type=int_at_least(2), default=None,
                   help="write at most N captures (N >= 2), a seeded random subset balanced over class and SNR")
    p.add_argument("--seed", type=nonnegative_int, default=0, help="seed of the --max-samples draw")
    return p


def convert_pickle(src: str | Path, out_dir: str | Path, dataset: str, size: int = 112, nfft: int = 16,
                   name: str | None = None, snr_min: float | None = None, snr_max: float | None = None,
                   max_samples: int | None = None, seed: int = 0) -> Report:
    """Convert a RadioML 2016 / RML22 pickle to ``<name>_iq.h5`` and ``<name>_spectrogram.h5`` (default name
    ``dataset``)."""
    caps = read_pickle(src, dataset)
    return write_views(caps, out_dir, name or dataset, size, nfft, snr_min, snr_max, max_samples, seed,
                       Report(files_read=1))


def pickle_main(dataset: str, description: str, argv: list[str] | None) -> Report:
    """``main`` of a pickle converter (``radioml2016``, ``rml22``)."""
    p = selection_arguments(converter_arguments(dataset, description, "src", dataset), nfft=16)
    a = p.parse_args(argv)
    return convert_pickle(a.src, a.out_dir, dataset, a.size, a.nfft, a.name, a.snr_min, a.snr_max, a.max_samples,
                          a.seed)
