"""Time-synchronised multi-sensor sequences in the wfm HDF5 family (format version 3, ``layout = "sequence"``).

A sequence file holds N windows of T consecutive frames (``frames``; the first ``history`` are the observed
past, the rest the future a predictor must produce). Layout:

- group ``inputs``: one dataset per sensor modality, ``(N, T, ...)`` float32, preprocessed as recorded in the
  ``preprocessing`` attribute and **not** standardised (readers standardise with ``stats``):

  ============== ================= ===============================================================
  modality        per frame         meaning
  ============== ================= ===============================================================
  ``image``       ``(3, H, W)``     RGB in [0, 1] after resize (readers apply eq. 7 of JEPA-MSAC with
                                    the recorded channel mean / std)
  ``radar``       ``(1, A, R)``     FMCW range-angle map, eq. 8 (angle x range bins, log-compressed)
  ``lidar``       ``(1, H, W)``     depth image, eq. 9-10: nearest return distance / d_max, 1 = no return
  ``gps``         ``(2,)``          GNSS fix in local metres (east, north) around the BS, eq. 11
  ``beam_power``  ``(K,)``          received power of each of the K codebook beams, dB
  ============== ================= ===============================================================

- group ``labels``: ``position`` ``(N, T, 2)`` metres (same frame as ``gps``), ``beam`` ``(N, T)`` int64 best
  beam index, ``beam_power`` ``(N, T, K)`` dB, ``rssi`` ``(N, T)`` dB;
- group ``index``: ``sequence`` ``(N,)`` the recording / drive each window was cut from, ``start`` ``(N,)`` its
  first frame in that sequence, ``block`` ``(N,)`` a route or time block (windows of one block share no frame
  with another block's);
- attributes: ``format_version`` (3), ``layout`` (``"sequence"``), ``modalities`` (JSON list), ``frames``,
  ``history``, ``num_beams``, ``frame_rate_hz``, ``source``, ``preprocessing`` (JSON), ``labels`` (JSON: key ->
  kind and units), ``stats`` (JSON: modality -> ``{"mean": [...], "std": [...]}``, per channel for ``image``,
  one value otherwise).

Sliding windows overlap, so a random split of windows puts neighbouring frames of one drive in both train and
test; :func:`split_windows` splits by ``sequence`` (default) or by ``block`` instead. Files are written to a
temporary name beside the destination and renamed on success.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import h5py
import numpy as np

from wfm.data.hdf5 import FORMAT_VERSION, AtomicH5, attr_json, attr_repr, check_stored, open_h5, read_raw_attrs

SEQUENCE_FORMAT_VERSION = 3
assert SEQUENCE_FORMAT_VERSION <= FORMAT_VERSION

#: per-frame dimensions of each sensor modality (channels first for maps)
MODALITY_NDIM = {"image": 3, "radar": 3, "lidar": 3, "gps": 1, "beam_power": 1}
MODALITIES = tuple(MODALITY_NDIM)
LABELS = {
    "position": {"kind": "regression", "units": "m"},
    "beam": {"kind": "classification", "units": "beam index"},
    "beam_power": {"kind": "regression", "units": "dB"},
    "rssi": {"kind": "regression", "units": "dB"},
}
INDEX = ("sequence", "start", "block")
#: eq. 7 of JEPA-MSAC (ImageNet statistics), the recorded image normalisation
IMAGE_MEAN = (0.485, 0.456, 0.406)
IMAGE_STD = (0.229, 0.224, 0.225)
EARTH_RADIUS_M = 6_371_000.0
SplitBy = Literal["sequence", "block", "window"]


def gps_to_local(lat_lon: np.ndarray, bs_lat_lon: tuple[float, float]) -> np.ndarray:
    """Eq. 11: ``p = (pi R_E / 180) diag(cos(lat_BS), 1) (x - x_BS)`` with ``x = (lon, lat)`` in degrees.

    ``lat_lon`` is ``(..., 2)`` as (lat, lon); returns ``(..., 2)`` (east, north) metres around the BS."""
    ll = np.asarray(lat_lon, np.float64)
    lat0, lon0 = bs_lat_lon
    scale = np.pi * EARTH_RADIUS_M / 180.0
    east = scale * np.cos(np.deg2rad(lat0)) * (ll[..., 1] - lon0)
    north = scale * (ll[..., 0] - lat0)
    return np.stack([east, north], -1)


def local_to_gps(xy: np.ndarray, bs_lat_lon: tuple[float, float]) -> np.ndarray:
    """Inverse of :func:`gps_to_local`: (east, north) metres -> (lat, lon) degrees."""
    p = np.asarray(xy, np.float64)
    lat0, lon0 = bs_lat_lon
    scale = np.pi * EARTH_RADIUS_M / 180.0
    lat = lat0 + p[..., 1] / scale
    lon = lon0 + p[..., 0] / (scale * np.cos(np.deg2rad(lat0)))
    return np.stack([lat, lon], -1)


def modality_stats(name: str, x: np.ndarray) -> dict[str, list[float]]:
    """Standardisation statistics of one modality's ``(N, T, ...)`` array: per channel for images (eq. 7's
    fixed ImageNet values), one mean / std for everything else."""
    if name == "image":
        return {"mean": list(IMAGE_MEAN), "std": list(IMAGE_STD)}
    x = np.asarray(x, np.float64)
    std = float(x.std())
    return {"mean": [float(x.mean())], "std": [std if std > 1e-8 else 1.0]}


def _check_arrays(path: Path, inputs: Mapping[str, np.ndarray], labels: Mapping[str, np.ndarray],
                  index: Mapping[str, np.ndarray], frames: int, num_beams: int) -> int:
    if not inputs:
        raise ValueError(f"{path}: a sequence file needs at least one input modality")
    unknown = sorted(set(inputs) - set(MODALITIES))
    if unknown:
        raise ValueError(f"{path}: unknown modality {unknown}; expected some of {list(MODALITIES)}")
    n = None
    for name, x in inputs.items():
        if x.ndim != 2 + MODALITY_NDIM[name] or x.shape[1] != frames:
            raise ValueError(f"{path}: inputs/{name} has shape {x.shape}, expected (N, {frames}) + "
                             f"{MODALITY_NDIM[name]} per-frame dimensions")
        if not np.isfinite(x).all():
            bad = int(np.argwhere(~np.isfinite(x).reshape(len(x), -1).all(1))[0, 0])
            raise ValueError(f"{path}: inputs/{name} has non-finite values (first at window {bad})")
        n = len(x) if n is None else n
        if len(x) != n:
            raise ValueError(f"{path}: inputs/{name} has {len(x)} windows, expected {n} as the other modalities")
    if n == 0:
        raise ValueError(f"{path}: no windows to write")
    if "image" in inputs and inputs["image"].shape[2] != 3:
        raise ValueError(f"{path}: inputs/image has {inputs['image'].shape[2]} channels, expected 3 (RGB)")
    if "gps" in inputs and inputs["gps"].shape[2] != 2:
        raise ValueError(f"{path}: inputs/gps has shape {inputs['gps'].shape}, expected (N, T, 2)")
    if "beam_power" in inputs and inputs["beam_power"].shape[2] != num_beams:
        raise ValueError(f"{path}: inputs/beam_power has {inputs['beam_power'].shape[2]} beams, expected {num_beams}")
    expect = {"position": (n, frames, 2), "beam": (n, frames), "beam_power": (n, frames, num_beams),
              "rssi": (n, frames)}
    for key, y in labels.items():
        if key not in expect:
            raise ValueError(f"{path}: unknown label {key!r}; expected some of {list(expect)}")
        if tuple(y.shape) != expect[key]:
            raise ValueError(f"{path}: label {key!r} has shape {tuple(y.shape)}, expected {expect[key]}")
        if key == "beam":
            if not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= num_beams:
                raise ValueError(f"{path}: label 'beam' must be integers in [0, {num_beams}), got {y.dtype} "
                                 f"in [{y.min()}, {y.max()}]")
        elif not np.isfinite(y).all():
            raise ValueError(f"{path}: label {key!r} has non-finite values")
    for key in INDEX:
        if key not in index:
            raise ValueError(f"{path}: index {key!r} missing; expected {list(INDEX)}")
        if index[key].shape != (n,):
            raise ValueError(f"{path}: index {key!r} has shape {index[key].shape}, expected ({n},)")
    return n


def write_sequence_file(
    path: str | os.PathLike,
    inputs: Mapping[str, np.ndarray],
    labels: Mapping[str, np.ndarray],
    index: Mapping[str, np.ndarray],
    *,
    history: int,
    num_beams: int,
    frame_rate_hz: float,
    source: str,
    preprocessing: Mapping[str, Any],
) -> Path:
    """Write one sequence file atomically (temp name beside ``path``, renamed on success); returns ``path``. A failed
    write (a full disk...) is an :class:`~wfm.data.hdf5.OutputWriteError` naming ``path``; nothing is left behind."""
    path = Path(path)
    frames = int(next(iter(inputs.values())).shape[1]) if inputs else 0
    if not 0 < history < frames:
        raise ValueError(f"{path}: history must be in [1, {frames - 1}] for windows of {frames} frames, got {history}")
    _check_arrays(path, inputs, labels, index, frames, num_beams)
    needed = sum(int(np.asarray(a).size) * 8 for group in (inputs, labels, index) for a in group.values())
    out = AtomicH5(path, needed)  # a temporary file beside path, renamed on success; removed on any error
    with out as f:
        for name, x in inputs.items():
            f.create_dataset(f"inputs/{name}", data=np.asarray(x, np.float32))
            out.check()
        for key, y in labels.items():
            dtype = np.int64 if key == "beam" else np.float32
            f.create_dataset(f"labels/{key}", data=np.asarray(y, dtype))
            out.check()
        for key in INDEX:
            f.create_dataset(f"index/{key}", data=np.asarray(index[key], np.int64))
        f.attrs.update({
            "format_version": SEQUENCE_FORMAT_VERSION,
            "layout": "sequence",
            "modality": "sequence",
            "modalities": json.dumps(list(inputs)),
            "frames": frames,
            "history": int(history),
            "num_beams": int(num_beams),
            "frame_rate_hz": float(frame_rate_hz),
            "source": str(source),
            "preprocessing": json.dumps(dict(preprocessing)),
            "labels": json.dumps({k: LABELS[k] for k in labels}),
            "stats": json.dumps({name: modality_stats(name, x) for name, x in inputs.items()}),
        })
    return path


def is_sequence_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a readable HDF5 file with the sequence layout (False for other wfm files)."""
    try:
        with h5py.File(path, "r") as f:
            layout = f.attrs.get("layout")
    except OSError:
        return False
    return isinstance(layout, (str, bytes)) and (layout.decode() if isinstance(layout, bytes) else layout) == "sequence"


@dataclass
class SequenceData:
    """A sequence file in memory: inputs (float32; standardised unless read with ``standardised=False``), labels,
    window index and metadata."""

    path: Path
    inputs: dict[str, np.ndarray]
    labels: dict[str, np.ndarray]
    index: dict[str, np.ndarray]
    frames: int
    history: int
    num_beams: int
    frame_rate_hz: float
    source: str
    preprocessing: dict[str, Any]
    stats: dict[str, dict[str, list[float]]] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(next(iter(self.index.values())))

    @property
    def modalities(self) -> tuple[str, ...]:
        return tuple(self.inputs)

    def frame_shapes(self) -> dict[str, tuple[int, ...]]:
        return {name: tuple(int(s) for s in x.shape[2:]) for name, x in self.inputs.items()}

    def standardised(self, modalities: tuple[str, ...] | None = None) -> SequenceData:
        """The inputs of ``modalities`` (default all) standardised with their recorded statistics."""
        chosen = self.modalities if modalities is None else tuple(modalities)
        missing = [m for m in chosen if m not in self.inputs]
        if missing:
            raise ValueError(f"{self.path}: no modality {missing}; the file has {list(self.inputs)}")
        return dataclasses.replace(self, inputs={m: standardise(m, self.inputs[m], self.stats[m]) for m in chosen},
                                   stats={m: self.stats[m] for m in chosen})

    def subset(self, rows: np.ndarray) -> SequenceData:
        rows = np.asarray(rows, np.int64)
        return SequenceData(self.path, {k: v[rows] for k, v in self.inputs.items()},
                            {k: v[rows] for k, v in self.labels.items()}, {k: v[rows] for k, v in self.index.items()},
                            self.frames, self.history, self.num_beams, self.frame_rate_hz, self.source,
                            self.preprocessing, self.stats)


def _attr(raw: Mapping[str, Any], path: Path, key: str) -> Any:
    if key not in raw:
        raise ValueError(f"{path}: missing attribute {key!r} of a sequence file (format version 3)")
    value = raw[key]
    return value.decode() if isinstance(value, bytes) else value


def _json(path: Path, raw: Mapping[str, Any], key: str, kind: type = dict, expected: str = "a JSON object") -> Any:
    _attr(raw, path, key)
    return attr_json(path, raw, key, kind, expected)


def _int_attr(path: Path, raw: Mapping[str, Any], key: str, lo: int = 1) -> int:
    value = _attr(raw, path, key)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < lo:
        raise ValueError(f"{path}: attribute {key!r} is {attr_repr(value)}, expected an integer >= {lo}")
    return int(value)


def _check_stats(path: Path, stats: Mapping[str, Any], names: list[str]) -> None:
    for name in names:
        entry = stats.get(name)
        ok = isinstance(entry, dict) and all(
            isinstance(entry.get(k), list) and entry[k]
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) for v in entry[k])
            for k in ("mean", "std"))
        if not ok or any(v <= 0 for v in entry["std"]):
            raise ValueError(f"{path}: attribute 'stats' has {entry!r:.80} for modality {name!r}, expected "
                             "{\"mean\": [finite numbers], \"std\": [numbers > 0]}")


def standardise(name: str, x: np.ndarray, stats: Mapping[str, Any]) -> np.ndarray:
    """``(x - mean) / std`` of one modality with its recorded statistics (per channel for images)."""
    mean = np.asarray(stats["mean"], np.float32)
    std = np.asarray(stats["std"], np.float32)
    if name == "image":
        shape = (1, 1, 3, 1, 1)
        return ((x - mean.reshape(shape)) / std.reshape(shape)).astype(np.float32)
    return ((x - mean[0]) / std[0]).astype(np.float32)


def load_sequence(path: str | os.PathLike, modalities: tuple[str, ...] | None = None,
                  standardised: bool = True) -> SequenceData:
    """Read a sequence file (all of it: these files are small) with its checks; inputs standardised by default.

    ``modalities`` keeps only those sensors (the modality-removal ablation); naming one the file lacks is an
    error that lists what it has."""
    p = Path(path)
    with open_h5(p, "expected a wfm sequence file; see docs/datasets.md",
                 "not a readable HDF5 file (truncated, corrupt or another format)") as f:
        raw = read_raw_attrs(p, f)
        layout = raw.get("layout")
        if not isinstance(layout, str) or layout != "sequence":
            raise ValueError(f"{p}: not a sequence file (no layout='sequence' attribute); frame-level files are "
                             "read by wfm.data.datasets.H5Dataset")
        version = _int_attr(p, raw, "format_version")
        if version > FORMAT_VERSION:
            raise ValueError(f"{p}: format_version {version} is newer than supported {FORMAT_VERSION}")
        names = _json(p, raw, "modalities", list, f"a list of modality names (some of {list(MODALITIES)})")
        unknown = [m for m in names if not isinstance(m, str) or m not in MODALITIES]
        if unknown or not names or len(set(names)) != len(names):
            raise ValueError(f"{p}: attribute 'modalities' is {names!r:.80}, expected distinct names from "
                             f"{list(MODALITIES)}")
        stats = _json(p, raw, "stats", dict, "an object {modality: {\"mean\": [...], \"std\": [...]}}")
        _check_stats(p, stats, names)
        chosen = tuple(names) if modalities is None else tuple(modalities)
        missing = [m for m in chosen if m not in names]
        if missing:
            raise ValueError(f"{p}: no modality {missing}; the file has {names}")
        inputs, labels, index = {}, {}, {}
        for name in chosen:
            ds = f.get(f"inputs/{name}")
            if not isinstance(ds, h5py.Dataset):
                raise ValueError(f"{p}: modality {name!r} listed but no dataset inputs/{name}")
            check_stored(p, ds, f"inputs/{name}")
            inputs[name] = ds[()].astype(np.float32)
        declared = _json(p, raw, "labels", dict, f"an object {{label key: kind and units}} (keys from {list(LABELS)})")
        for key in declared:
            if key not in LABELS:
                raise ValueError(f"{p}: attribute 'labels' declares {key!r}, expected labels from {list(LABELS)}")
            ds = f.get(f"labels/{key}")
            if not isinstance(ds, h5py.Dataset):
                raise ValueError(f"{p}: label {key!r} declared but no dataset labels/{key}")
            check_stored(p, ds, f"labels/{key}")
            labels[key] = ds[()]
        for key in INDEX:
            ds = f.get(f"index/{key}")
            if not isinstance(ds, h5py.Dataset):
                raise ValueError(f"{p}: no dataset index/{key}; expected {list(INDEX)}")
            check_stored(p, ds, f"index/{key}")
            if ds.dtype.kind not in "iu":
                raise ValueError(f"{p}: index/{key} has dtype {ds.dtype}, expected integers")
            index[key] = ds[()].astype(np.int64)
        frames, history = _int_attr(p, raw, "frames"), _int_attr(p, raw, "history")
        num_beams = _int_attr(p, raw, "num_beams")
        if history >= frames:
            raise ValueError(f"{p}: attribute 'history' is {history}, expected fewer than the {frames} frames")
        rate = _attr(raw, p, "frame_rate_hz")
        if isinstance(rate, (bool, np.bool_)) or not isinstance(rate, (int, float, np.integer, np.floating)) or not (
                np.isfinite(rate) and rate > 0):
            raise ValueError(f"{p}: attribute 'frame_rate_hz' is {attr_repr(rate)}, expected a finite number > 0")
        source = _attr(raw, p, "source")
        if not isinstance(source, str):
            raise ValueError(f"{p}: attribute 'source' is {attr_repr(source)}, expected a text")
        data = SequenceData(p, inputs, labels, index, frames, history, num_beams, float(rate), source,
                            _json(p, raw, "preprocessing"), {k: stats[k] for k in chosen})
    _check_arrays(p, data.inputs, data.labels, data.index, data.frames, data.num_beams)
    return data.standardised() if standardised else data


def split_windows(index: Mapping[str, np.ndarray], test_fraction: float = 0.3, by: SplitBy = "sequence",
                  seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Train / test rows: whole sequences (``by="sequence"``) or blocks (``"block"``) go to one side, so no
    frame of a test window was seen in training; ``"window"`` is the paper's random split of windows (leaky
    for overlapping windows, kept for comparison). Deterministic per seed; both sides non-empty."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    n = len(index["sequence"])
    rng = np.random.default_rng([seed, 7919])
    if by == "window":
        order = rng.permutation(n)
        k = min(max(int(round(test_fraction * n)), 1), n - 1)
        return np.sort(order[k:]), np.sort(order[:k])
    if by not in ("sequence", "block"):
        raise ValueError(f"split by must be 'sequence', 'block' or 'window', got {by!r}")
    groups = np.unique(index[by])
    if len(groups) < 2:
        raise ValueError(f"split by {by}: need at least 2 distinct {by} ids, the file has {len(groups)}")
    order = rng.permutation(groups)
    k = min(max(int(round(test_fraction * len(groups))), 1), len(groups) - 1)
    test_groups = order[:k]
    is_test = np.isin(index[by], test_groups)
    return np.flatnonzero(~is_test), np.flatnonzero(is_test)
