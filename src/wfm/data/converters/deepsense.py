"""DeepSense 6G multi-sensor scenario (e.g. scenario 32) -> a wfm sequence file of JEPA-MSAC windows.

Input: a scenario folder as released, with a CSV index (the single ``*.csv`` of the folder, or ``--csv``) of one
row per sample (``row N`` in messages is the N-th data row after the header). Its columns (each renamable):

* ``seq_index`` — the sequence (drive) a sample belongs to, integer-valued;
* ``abs_index`` (else ``time_stamp``) — the order within a sequence: a number, or a time ``HH-MM-SS.ffffff``
  (``HH:MM:SS`` too, optionally wrapped as ``['...']`` as in the release);
* ``unit1_rgb`` — a camera image (.jpg / .png, any PIL-readable RGB);
* ``unit1_radar`` — a .mat (MATLAB v5, or v7.3 / HDF5) or .npy holding the raw FMCW IF cube, complex or real with
  3 dims, stored as ``--radar-layout`` (default ``rx,adc,chirp``); the array is ``--radar-key`` or the single
  non-dunder array of the .mat;
* ``unit1_lidar`` — a point cloud: .ply (ASCII or binary; x, y, z vertex properties) or .csv / .txt with x, y, z
  columns (named in a header line, else the first three);
* ``unit2_loc`` — the UE's GPS fix: a .txt of latitude then longitude (one per line, or ``lat,lon``);
* ``unit1_pwr_60ghz`` — a .txt of the K (64) linear received powers of the BS codebook beams;
* ``unit1_loc`` — the BS position, a file like ``unit2_loc`` (or ``--bs-file FILE``, ``--bs-lat-lon LAT LON``).

Paths in the CSV are relative to the scenario folder (``./unit1/...``; ``..`` and absolute paths are refused).
Per frame (the preprocessing of :mod:`wfm.data.sensors`, recorded in the file): image -> ``resize_image`` to
``--image-size``; radar -> ``range_angle_map`` (``--radar-bins A R``, static clutter removed) then
``log1p(radar_scale * map)``, stored ``(1, A, R)``; LiDAR -> ``lidar_depth_image`` (``--lidar-size``, eq. 9-10);
GPS -> local (east, north) metres around the BS (eq. 11); beam powers -> dB (floor -120 dB). Labels: ``position``
is the GPS-derived local position (the release has no other ground truth), ``beam`` the argmax of the linear
powers, ``beam_power`` the dB powers, ``rssi`` their power-domain mean in dB. Each sequence, sorted by the order
column, is cut into sliding windows of ``--window`` frames every ``--stride`` frames; ``--block-frames B`` cuts
each sequence into time blocks of B frames first (no window crosses a block border), else a block is a sequence.
Sequences shorter than a window are skipped (counted in the report); a row whose sensor file is missing is an
error, or with ``--skip-missing`` dropped (counted) and no window spans it. Every file of a frame that lies in some
window is read and checked (type, shape, finiteness, sign, range) before use; a bad one is a one-line ValueError
naming the file, its CSV row and what was expected.

    wfm-convert deepsense SCENARIO_DIR OUT.h5 [--window 13 --history 8 --stride 1] [--image-size H W]
        [--radar-bins A R] [--lidar-size H W] [--no-image] [--no-radar] [--no-lidar] [--skip-missing] ...
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import h5py
import numpy as np

from wfm.data import sensors
from wfm.data.converters.common import (
    ArgumentParser,
    Report,
    finite_float,
    int_at_least,
    load_mat,
    positive_float,
    positive_int,
    read_pil_image,
)
from wfm.data.hdf5 import check_self_contained
from wfm.data.sequence import gps_to_local, write_sequence_file

#: default CSV column of each field (all renamable by an option)
COLUMNS = {"sequence": "seq_index", "image": "unit1_rgb", "radar": "unit1_radar", "lidar": "unit1_lidar",
           "gps": "unit2_loc", "beam_power": "unit1_pwr_60ghz", "bs": "unit1_loc"}
ORDER_COLUMNS = ("abs_index", "time_stamp")  # the default order column: the first of these the CSV has
SENSORS = ("image", "radar", "lidar")  # the optional modalities (gps and beam_power are always read)
RADAR_AXES = ("rx", "chirp", "adc")  # the axis order range_angle_map takes
POWER_FLOOR_DB = -120.0
BS_SPREAD_M = 1.0  # BS fixes of different rows further apart than this are an error (a moving BS?)
MAX_RADAR_VALUES = 1 << 28
_TIME = re.compile(r"(?:\d{4}-\d{2}-\d{2}[ T])?(\d{1,2})[-:](\d{1,2})[-:](\d{1,2}(?:\.\d*)?)")
_PLY_TYPES = {"char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1", "short": "i2", "int16": "i2",
              "ushort": "u2", "uint16": "u2", "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
              "float": "f4", "float32": "f4", "double": "f8", "float64": "f8"}


@dataclass
class _Row:
    """One CSV row: its number, sequence id, order value and the sensor files (None: the cell is empty)."""

    number: int
    seq: int
    order: float
    files: dict[str, Path | None] = field(default_factory=dict)


def _bad(path: Path | str, where: str, problem: str, expected: str) -> ValueError:
    return ValueError(f"{path}: {problem}; expected {expected} ({where})")


# ----------------------------------------------------------------------------------------------- raw files


def _numbers(path: Path, where: str, expected: str) -> list[float]:
    """The numbers of a small text file (separated by white space, commas or semicolons), unchecked."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise _bad(path, where, "not a text file", expected) from None
    tokens = [t for t in re.split(r"[\s,;]+", text.strip()) if t]
    values = []
    for t in tokens:
        try:
            values.append(float(t))
        except ValueError:
            raise _bad(path, where, f"{t[:40]!r} is not a number", expected) from None
    return values


def read_lat_lon(path: Path, where: str) -> tuple[float, float]:
    """(latitude, longitude) degrees of a GPS .txt (latitude then longitude), range-checked."""
    expected = "latitude then longitude in degrees (one per line, or 'lat,lon')"
    v = _numbers(path, where, expected)
    if len(v) != 2:
        raise _bad(path, where, f"{len(v)} values", expected)
    lat, lon = v
    if not (math.isfinite(lat) and -90.0 <= lat <= 90.0):
        raise _bad(path, where, f"latitude {lat}", "a finite latitude in [-90, 90] degrees")
    if not (math.isfinite(lon) and -180.0 <= lon <= 180.0):
        raise _bad(path, where, f"longitude {lon}", "a finite longitude in [-180, 180] degrees")
    return lat, lon


def read_beam_powers(path: Path, where: str, num_beams: int) -> np.ndarray:
    """The ``num_beams`` linear received powers of a .txt, checked finite and >= 0 (float64)."""
    expected = f"{num_beams} finite linear powers >= 0"
    v = np.array(_numbers(path, where, expected), np.float64)
    if v.size != num_beams:
        raise _bad(path, where, f"{v.size} values", expected + " (--num-beams)")
    if not np.isfinite(v).all():
        raise _bad(path, where, f"a non-finite power at beam {int(np.argmin(np.isfinite(v)))}", expected)
    if (v < 0).any():
        k = int(np.argmin(v))
        raise _bad(path, where, f"power {v[k]:.6g} < 0 at beam {k}", expected)
    return v


def read_image(path: Path, where: str) -> np.ndarray:
    """An image file as uint8 ``(H, W, 3)`` RGB (an unreadable image or a decompression bomb, PIL's warning
    included, is a one-line ValueError: :func:`~wfm.data.converters.common.read_pil_image`)."""
    rgb = read_pil_image(path, "RGB", where, "an RGB .jpg / .png")
    if rgb.ndim != 3 or rgb.shape[2] != 3 or min(rgb.shape) < 1 or rgb.dtype != np.uint8:
        raise _bad(path, where, f"image of shape {rgb.shape} dtype {rgb.dtype}", "an (H, W, 3) uint8 RGB image")
    return rgb


def _stored_fully(ds: h5py.Dataset) -> bool:
    if ds.size == 0:
        return True
    if ds.chunks is not None:
        expected = int(np.prod([-(-n // c) for n, c in zip(ds.shape, ds.chunks, strict=True)]))
        return ds.id.get_num_chunks() >= expected
    return ds.id.get_storage_size() >= ds.id.get_type().get_size() * ds.size


def _mat73_arrays(path: Path, where: str) -> dict[str, Any]:
    """The top-level datasets of a MATLAB v7.3 (HDF5) file, in MATLAB axis order, complex where stored so."""
    expected = "a MATLAB .mat holding the radar IF cube"
    out: dict[str, Any] = {}
    try:
        with h5py.File(path, "r") as f:
            check_self_contained(path, f)
            for name, ds in f.items():
                if name.startswith("#") or not isinstance(ds, h5py.Dataset):
                    continue
                if ds.size > MAX_RADAR_VALUES or not _stored_fully(ds):
                    raise _bad(path, where, f"variable {name!r} of shape {ds.shape} is oversized or truncated",
                               expected)
                fields = ds.dtype.names or ()
                if set(fields) == {"real", "imag"}:
                    raw = ds[()]
                    re_, im_ = raw["real"], raw["imag"]
                    if re_.dtype.kind not in "iuf" or im_.dtype.kind not in "iuf":
                        raise _bad(path, where, f"variable {name!r} has parts of dtype {re_.dtype}", expected)
                    out[name] = (re_.astype(np.float64) + 1j * im_.astype(np.float64)).T
                else:
                    out[name] = ds[()].T if ds.dtype.kind in "iufcb" else ds.dtype  # a dtype: reported below
    except (OSError, RuntimeError, KeyError, TypeError) as e:  # h5py on a corrupt file: one line naming it
        raise _bad(path, where, f"not a readable MATLAB v7.3 file ({type(e).__name__}: {e})", expected) from None
    return out


def read_radar(path: Path, where: str, key: str | None, layout: tuple[str, str, str]) -> np.ndarray:
    """The raw radar IF cube of a .mat (or .npy), checked (numeric, 3 dims, finite) and permuted to (rx, chirp, adc)."""
    expected = f"a complex or real 3-D radar IF cube laid out as ({','.join(layout)})"
    if path.suffix.lower() == ".npy":
        try:
            arrays = {"array": np.load(path, allow_pickle=False)}
        except (ValueError, OSError, EOFError, MemoryError) as e:
            raise _bad(path, where, f"not a readable .npy file ({type(e).__name__}: {e})", expected) from None
        key = "array"
    elif h5py.is_hdf5(path):
        arrays = _mat73_arrays(path, where)
    else:
        try:
            arrays = load_mat(path, f"{expected} ({where})")  # corrupt: a one-line ValueError (MatReadError...)
        except NotImplementedError as e:
            raise _bad(path, where, f"not a readable .mat file ({type(e).__name__}: {e})", expected) from None
    if key is None:
        names = [k for k, v in arrays.items() if isinstance(v, np.ndarray)]
        if len(names) != 1:
            raise _bad(path, where, f"{len(names)} arrays {sorted(names)}", "exactly one array, or name it with "
                       "--radar-key")
        key = names[0]
    if key not in arrays:
        raise _bad(path, where, f"no variable {key!r} (has {sorted(arrays)})", f"--radar-key {key} in the file")
    x = arrays[key]
    if not isinstance(x, np.ndarray) or x.dtype.kind not in "iufc":
        kind = x if isinstance(x, np.dtype) else x.dtype if isinstance(x, np.ndarray) else type(x).__name__
        raise _bad(path, where, f"variable {key!r} is {kind}", expected)
    if x.ndim != 3 or min(x.shape) < 1:
        raise _bad(path, where, f"variable {key!r} has shape {x.shape}", expected)
    if not np.isfinite(x).all():
        raise _bad(path, where, f"variable {key!r} has non-finite samples", expected)
    return np.transpose(x, [layout.index(a) for a in RADAR_AXES])


def _ply_points(path: Path, where: str) -> np.ndarray:
    expected = "a PLY point cloud with x, y, z vertex properties"
    raw = path.read_bytes()
    end = raw.find(b"end_header")
    if not raw.startswith(b"ply") or end < 0:
        raise _bad(path, where, "no 'ply' ... 'end_header' header", expected)
    nl = raw.find(b"\n", end)
    body = raw[nl + 1:] if nl >= 0 else b""
    try:
        header = [ln.strip().split() for ln in raw[:end].decode("ascii").splitlines()]
    except UnicodeDecodeError:
        raise _bad(path, where, "a non-ASCII header", expected) from None
    fmt, elements = None, []  # elements: [name, count, [(type, name)], has_list]
    for words in header[1:]:
        if not words or words[0] in ("comment", "obj_info"):
            continue
        if words[0] == "format" and len(words) >= 2:
            fmt = words[1]
        elif words[0] == "element" and len(words) == 3 and words[2].isdigit():
            elements.append([words[1], int(words[2]), [], False])
        elif words[0] == "property" and elements and len(words) == 3 and words[1] in _PLY_TYPES:
            elements[-1][2].append((words[1], words[2]))
        elif words[0] == "property" and elements and len(words) == 5 and words[1] == "list":
            elements[-1][3] = True
        else:
            raise _bad(path, where, f"header line {' '.join(words)[:60]!r}", expected)
    if fmt not in ("ascii", "binary_little_endian", "binary_big_endian"):
        raise _bad(path, where, f"format {fmt!r}", "ascii, binary_little_endian or binary_big_endian PLY")
    if not elements or elements[0][0] != "vertex":
        raise _bad(path, where, "no vertex element first", expected)
    _, count, props, has_list = elements[0]
    names = [n for _, n in props]
    if has_list or not {"x", "y", "z"} <= set(names):
        raise _bad(path, where, f"vertex properties {names}{' and a list' if has_list else ''}", expected)
    if fmt == "ascii":
        lines = body.split(b"\n", count)[:count]
        if len(lines) < count or any(len(ln.split()) != len(names) for ln in lines):
            raise _bad(path, where, "fewer vertex lines, or lines of another length, than the header says",
                       f"{count} lines of {len(names)} numbers")
        try:
            table = np.array(b" ".join(lines).split(), dtype=np.float64).reshape(count, len(names))
        except ValueError:
            raise _bad(path, where, "a vertex value that is not a number", expected) from None
        return table[:, [names.index(a) for a in "xyz"]]
    order = "<" if fmt == "binary_little_endian" else ">"
    dtype = np.dtype([(n, order + _PLY_TYPES[t]) for t, n in props])
    if len(body) < count * dtype.itemsize:
        raise _bad(path, where, f"{len(body)} bytes of vertex data", f"{count} vertices of {dtype.itemsize} bytes")
    table = np.frombuffer(body, dtype, count)
    return np.stack([table[a].astype(np.float64) for a in "xyz"], 1)


def _table_points(path: Path, where: str) -> np.ndarray:
    expected = "a point table with x, y, z columns (named in a header line, else the first three)"
    try:
        lines = [ln for ln in path.read_text(encoding="utf-8-sig").splitlines() if ln.strip()]
    except UnicodeDecodeError:
        raise _bad(path, where, "not a text file", expected) from None
    split = (lambda s: [t.strip() for t in s.split(",")]) if lines and "," in lines[0] else str.split
    rows = [split(ln) for ln in lines]
    cols = [0, 1, 2]
    if rows:
        try:
            [float(t) for t in rows[0]]
        except ValueError:  # a header line
            head = [t.strip().strip("'\"").lower() for t in rows.pop(0)]
            if {"x", "y", "z"} <= set(head):
                cols = [head.index(a) for a in "xyz"]
    width = len(rows[0]) if rows else 3
    if width < 3 or any(len(r) != width for r in rows):
        raise _bad(path, where, "rows of fewer than 3 or of differing numbers of values", expected)
    try:
        return np.array([[r[c] for c in cols] for r in rows], dtype=np.float64).reshape(-1, 3)
    except ValueError:
        raise _bad(path, where, "a value that is not a number", expected) from None


def read_points(path: Path, where: str) -> np.ndarray:
    """A LiDAR point cloud file as finite ``(N, 3)`` float64 metres."""
    suffix = path.suffix.lower()
    if suffix == ".ply":
        points = _ply_points(path, where)
    elif suffix in (".csv", ".txt"):
        points = _table_points(path, where)
    else:
        raise _bad(path, where, f"a {suffix or 'suffix-less'} file", "a .ply, .csv or .txt point cloud")
    if points.ndim != 2 or points.shape[1] != 3:
        raise _bad(path, where, f"points of shape {points.shape}", "(N, 3) points")
    if not np.isfinite(points).all():
        bad = int(np.argmin(np.isfinite(points).all(1)))
        raise _bad(path, where, f"a non-finite coordinate at point {bad}", "(N, 3) finite x, y, z metres")
    return points


# ----------------------------------------------------------------------------------------------- the CSV


def _find_csv(root: Path, name: str | None) -> Path:
    if name is not None:
        path = Path(name) if Path(name).is_absolute() else root / name
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such CSV index (--csv)")
        return path
    found = sorted(root.glob("*.csv"))
    if len(found) != 1:
        listed = ", ".join(p.name for p in found) if found else "none"
        raise ValueError(f"{root}: expected exactly one *.csv index in the scenario folder, found {listed}; "
                         "choose one with --csv NAME")
    return found[0]


def _cell_path(root: Path, cell: str, where: str, column: str) -> Path | None:
    text = cell.strip().replace("\\", "/")
    if not text or text.lower() == "nan":
        return None
    rel = PurePosixPath(text)
    if rel.is_absolute() or ".." in rel.parts:
        raise ValueError(f"{where}: column {column!r} holds {text[:80]!r}; expected a path relative to the "
                         "scenario folder (no '..', not absolute)")
    return root / rel


def _integer(cell: str, where: str, column: str) -> int:
    try:
        value = float(cell)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value.is_integer()):
        raise ValueError(f"{where}: column {column!r} holds {cell[:40]!r}; expected an integer sequence id")
    return int(value)


def _order(cell: str, where: str, column: str) -> float:
    text = cell.strip().strip("[]'\" ")
    try:
        value = float(text)
    except ValueError:
        m = _TIME.fullmatch(text)
        if m is None:
            raise ValueError(f"{where}: column {column!r} holds {cell[:40]!r}; expected a number or a time "
                             "HH-MM-SS.ffffff") from None
        value = int(m[1]) * 3600.0 + int(m[2]) * 60.0 + float(m[3])
    if not math.isfinite(value):
        raise ValueError(f"{where}: column {column!r} holds {cell[:40]!r}; expected a finite order value")
    return value


def read_index(csv_path: Path, root: Path, columns: dict[str, str], order_column: str | None) -> tuple[
        list[_Row], str]:
    """The rows of the CSV index (sequence id, order value, file paths of the fields in ``columns``); a file that is
    not UTF-8 text or not CSV (a NUL byte, an oversized field) is a one-line ValueError naming it and the row."""
    try:
        return _read_index(csv_path, root, columns, order_column)
    except UnicodeDecodeError as e:
        raise ValueError(f"{csv_path}: not UTF-8 text ({e.reason} at byte {e.start}); expected the CSV index"
                         ) from None
    except csv.Error as e:
        raise ValueError(f"{csv_path}: not a readable CSV file ({e}); expected the CSV index") from None


def _read_index(csv_path: Path, root: Path, columns: dict[str, str], order_column: str | None) -> tuple[
        list[_Row], str]:
    with open(csv_path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            raise ValueError(f"{csv_path}: empty CSV; expected a header line and one row per sample")
        header = [h.strip() for h in header]
        if len(set(header)) != len(header):
            raise ValueError(f"{csv_path}: duplicate column names in the header {header}")
        if order_column is None:
            order_column = next((c for c in ORDER_COLUMNS if c in header), None)
            if order_column is None:
                raise ValueError(f"{csv_path}: none of the order columns {list(ORDER_COLUMNS)}; name one with "
                                 f"--order-column (columns: {header})")
        for field_name, column in {"sequence": columns["sequence"], "order": order_column, **columns}.items():
            if column not in header and field_name != "bs":
                raise ValueError(f"{csv_path}: no column {column!r} ({field_name}; rename with the --*-column "
                                 f"options or switch the sensor off); columns: {header}")
        at = {c: header.index(c) for c in header}
        rows = []
        for number, cells in enumerate(reader, 1):
            if not any(c.strip() for c in cells):
                continue
            where = f"{csv_path.name} row {number}"
            if len(cells) != len(header):
                raise ValueError(f"{csv_path}: row {number} has {len(cells)} cells; expected {len(header)} as the "
                                 "header")
            row = _Row(number, _integer(cells[at[columns["sequence"]]], where, columns["sequence"]),
                       _order(cells[at[order_column]], where, order_column))
            for name, column in columns.items():
                if name != "sequence" and column in at:
                    row.files[name] = _cell_path(root, cells[at[column]], where, column)
            rows.append(row)
    if not rows:
        raise ValueError(f"{csv_path}: no rows; expected one row per sample")
    return rows, order_column


# ----------------------------------------------------------------------------------------------- windows


def cut_windows(length: int, kept: np.ndarray, window: int, stride: int, block_frames: int | None
                ) -> tuple[list[tuple[int, int]], int]:
    """Window starts of one sequence of ``length`` sorted frames (``kept``: False for a skipped frame) as
    ``(start, block_within_sequence)``, and the number of time blocks; no window spans a skipped frame or
    a block border."""
    block_len = block_frames or length
    starts: list[tuple[int, int]] = []
    blocks = -(-length // block_len)
    for b in range(blocks):
        lo, hi = b * block_len, min((b + 1) * block_len, length)
        run = lo
        while run < hi:
            if not kept[run]:
                run += 1
                continue
            end = run
            while end < hi and kept[end]:
                end += 1
            starts += [(s, b) for s in range(run, end - window + 1, stride)]
            run = end
    return starts, blocks


# ----------------------------------------------------------------------------------------------- convert


def convert(
    scenario_dir: str | Path,
    out_path: str | Path,
    *,
    csv_name: str | None = None,
    window: int = 13,
    history: int = 8,
    stride: int = 1,
    block_frames: int | None = None,
    image: bool = True,
    radar: bool = True,
    lidar: bool = True,
    image_size: tuple[int, int] = (24, 32),
    radar_bins: tuple[int, int] = (32, 32),
    radar_scale: float = 1.0,
    radar_key: str | None = None,
    radar_layout: str = "rx,adc,chirp",
    lidar_size: tuple[int, int] = (16, 64),
    lidar_fov: tuple[float, float] = (15.0, -15.0),
    lidar_max_range: float = 100.0,
    num_beams: int = 64,
    bs_lat_lon: tuple[float, float] | None = None,
    bs_file: str | None = None,
    order_column: str | None = None,
    columns: dict[str, str] | None = None,
    frame_rate_hz: float = 10.0,
    skip_missing: bool = False,
) -> Report:
    """Convert one DeepSense 6G scenario folder to the sequence file ``out_path`` (see the module docstring)."""
    root, out = Path(scenario_dir), Path(out_path)
    _check_options(out, window, history, stride, block_frames, image_size, radar_bins, radar_scale, lidar_size,
                   lidar_fov, lidar_max_range, num_beams, frame_rate_hz, bs_lat_lon)
    layout = tuple(a.strip() for a in radar_layout.split(","))
    if sorted(layout) != sorted(RADAR_AXES):
        raise ValueError(f"--radar-layout {radar_layout!r}: expected the stored axis order as a permutation of "
                         "rx,adc,chirp (e.g. rx,adc,chirp)")
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such scenario folder")
    modalities = [m for m, on in zip(SENSORS, (image, radar, lidar), strict=True) if on]
    cols = {**COLUMNS, **(columns or {})}
    unknown = sorted(set(cols) - set(COLUMNS))
    if unknown:
        raise ValueError(f"columns: unknown field {unknown}; expected some of {list(COLUMNS)}")
    use_bs_column = bs_lat_lon is None and bs_file is None
    wanted = {k: v for k, v in cols.items() if k in ("sequence", "gps", "beam_power", *modalities)
              or (k == "bs" and use_bs_column)}
    csv_path = _find_csv(root, csv_name)
    rows, order_column = read_index(csv_path, root, wanted, order_column)
    report = Report(files_read=1)
    file_fields = [k for k in wanted if k != "sequence" and (k != "bs" or any("bs" in r.files for r in rows))]
    if use_bs_column and "bs" not in file_fields:
        raise ValueError(f"{csv_path}: no BS position: no {cols['bs']!r} column; pass --bs-lat-lon LAT LON or "
                         "--bs-file FILE")

    # missing files: an error naming the row, or (--skip-missing) the row is dropped and windows avoid it
    missing = {}
    for r in rows:
        for k in file_fields:
            p = r.files.get(k)
            if p is None or not p.is_file():
                missing.setdefault(r.number, (k, p))
    if missing and not skip_missing:
        number, (k, p) = next(iter(missing.items()))
        shown = p if p is not None else f"(empty cell in column {cols[k]!r})"
        raise ValueError(f"{shown}: no such file; expected the {k} file of {csv_path.name} row {number} (column "
                         f"{cols[k]!r}; --skip-missing drops such rows)")
    if missing:
        report.skip("row with a missing sensor file (--skip-missing)", len(missing))

    # sequences, sorted by the order column; windows
    seq_ids = sorted({r.seq for r in rows})
    plans = []  # (new sequence id, sorted rows, window starts, block offset)
    n_blocks = 0
    for new_id, sid in enumerate(seq_ids):
        seq_rows = sorted((r for r in rows if r.seq == sid), key=lambda r: r.order)
        for a, b in zip(seq_rows, seq_rows[1:], strict=False):
            if a.order == b.order:
                raise ValueError(f"{csv_path}: rows {a.number} and {b.number} of sequence {sid} share "
                                 f"{order_column} {a.order:g}; expected a strict order within a sequence")
        kept = np.array([r.number not in missing for r in seq_rows])
        if len(seq_rows) < window:
            report.skip(f"sequence shorter than a window of {window} frames", 1)
            starts, blocks = [], 0
        else:
            starts, blocks = cut_windows(len(seq_rows), kept, window, stride, block_frames)
        plans.append((new_id, sid, seq_rows, starts, n_blocks))
        n_blocks += blocks
    if not any(p[3] for p in plans):
        lengths = {sid: len(seq_rows) for _, sid, seq_rows, _, _ in plans}
        raise ValueError(f"{csv_path}: no window of {window} frames (sequence id -> frames: {lengths}"
                         f"{', after skipping rows with missing files' if missing else ''})")

    # frames used by some window, read and preprocessed once
    used = {}
    for _, _, seq_rows, starts, _ in plans:
        for s, _ in starts:
            for r in seq_rows[s:s + window]:
                used.setdefault(r.number, r)
    bs, bs_from = _bs_position(root, csv_path, rows, missing, bs_lat_lon, bs_file, report)
    frames: dict[str, list[np.ndarray]] = {k: [] for k in (*modalities, "gps", "beam_power", "linear")}
    slot = {}
    radar_shape: tuple[int, ...] | None = None
    for number, r in sorted(used.items()):
        where = f"{csv_path.name} row {number}"
        slot[number] = len(slot)
        for k in modalities:
            p = r.files[k]
            w = f"{where}, column {cols[k]!r}"
            if k == "image":
                frames[k].append(sensors.resize_image(read_image(p, w), *image_size))
            elif k == "radar":
                cube = read_radar(p, w, radar_key, layout)
                if radar_shape is not None and cube.shape != radar_shape:
                    raise _bad(p, w, f"a radar cube of (rx, chirp, adc) shape {cube.shape}",
                               f"{radar_shape} as the other frames")
                radar_shape = cube.shape
                if radar_bins[1] > cube.shape[2] or radar_bins[0] < cube.shape[0]:
                    raise _bad(p, w, f"{cube.shape[0]} receive antennas and {cube.shape[2]} ADC samples",
                               f"--radar-bins A R with A >= the antennas and R <= the ADC samples, got "
                               f"{radar_bins[0]} {radar_bins[1]} (check --radar-layout)")
                m = sensors.range_angle_map(cube, angle_bins=radar_bins[0], range_bins=radar_bins[1])
                frames[k].append(np.log1p(radar_scale * m.astype(np.float64))[None].astype(np.float32))
            else:
                points = read_points(p, w)
                frames[k].append(sensors.lidar_depth_image(points, *lidar_size, f_up_deg=lidar_fov[0],
                                                           f_down_deg=lidar_fov[1], d_max=lidar_max_range))
        frames["gps"].append(np.array(read_lat_lon(r.files["gps"], f"{where}, column {cols['gps']!r}")))
        power = read_beam_powers(r.files["beam_power"], f"{where}, column {cols['beam_power']!r}", num_beams)
        frames["linear"].append(power)
        frames["beam_power"].append(sensors.beam_power_db(power, POWER_FLOOR_DB))
        report.files_read += len(modalities) + 2

    stacked = {k: np.stack(v) for k, v in frames.items()}
    local = gps_to_local(stacked["gps"], bs).astype(np.float32)
    idx, index = [], {"sequence": [], "start": [], "block": []}
    for new_id, _, seq_rows, starts, block0 in plans:
        for s, b in starts:
            idx.append([slot[r.number] for r in seq_rows[s:s + window]])
            index["sequence"].append(new_id)
            index["start"].append(s)
            index["block"].append(new_id if block_frames is None else block0 + b)
    idx = np.array(idx, np.int64)
    inputs = {k: stacked[k][idx] for k in modalities}
    inputs["gps"] = local[idx]
    inputs["beam_power"] = stacked["beam_power"][idx]
    labels = {"position": local[idx], "beam": stacked["linear"].argmax(axis=1).astype(np.int64)[idx],
              "beam_power": stacked["beam_power"][idx], "rssi": sensors.rssi_db(stacked["beam_power"])[idx]}
    prep = _preprocessing(csv_path, cols, wanted, order_column, modalities, image_size, radar_bins, radar_scale,
                          radar_key, radar_layout, lidar_size, lidar_fov, lidar_max_range, num_beams, bs, bs_from,
                          window, history, stride, block_frames, seq_ids, len(missing), skip_missing)
    report.outputs.append(write_sequence_file(
        out, inputs, {k: np.asarray(v) for k, v in labels.items()},
        {k: np.array(v, np.int64) for k, v in index.items()}, history=history, num_beams=num_beams,
        frame_rate_hz=frame_rate_hz, source=f"deepsense:{root.resolve().name}", preprocessing=prep))
    report.samples_written = len(idx)
    return report


def _check_options(out: Path, window: int, history: int, stride: int, block_frames: int | None,
                   image_size: Sequence[int], radar_bins: Sequence[int], radar_scale: float,
                   lidar_size: Sequence[int], lidar_fov: Sequence[float], lidar_max_range: float, num_beams: int,
                   frame_rate_hz: float, bs_lat_lon: Sequence[float] | None) -> None:
    def ints(name: str, values: Sequence[int], n: int) -> None:
        if len(values) != n or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1
                                   for v in values):
            raise ValueError(f"{name}: expected {n} positive integer(s), got {values}")

    ints("--window", [window], 1)
    ints("--stride", [stride], 1)
    ints("--num-beams", [num_beams], 1)
    ints("--image-size", list(image_size), 2)
    ints("--radar-bins", list(radar_bins), 2)
    ints("--lidar-size", list(lidar_size), 2)
    if window < 2:
        raise ValueError(f"--window: expected at least 2 frames (history + future), got {window}")
    if not (isinstance(history, int) and 1 <= history < window):
        raise ValueError(f"--history: expected an integer in [1, {window - 1}] for windows of {window}, got {history}")
    if block_frames is not None:
        ints("--block-frames", [block_frames], 1)
        if block_frames < window:
            raise ValueError(f"--block-frames: expected at least the window ({window}) frames, got {block_frames}")
    for name, v in (("--radar-scale", radar_scale), ("--lidar-max-range", lidar_max_range),
                    ("--frame-rate", frame_rate_hz)):
        if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
            raise ValueError(f"{name}: expected a positive number, got {v}")
    if len(lidar_fov) != 2 or not all(math.isfinite(v) for v in lidar_fov) or not lidar_fov[0] > lidar_fov[1]:
        raise ValueError(f"--lidar-fov: expected UP DOWN degrees with UP > DOWN, got {lidar_fov}")
    if bs_lat_lon is not None:
        lat, lon = bs_lat_lon
        if not (math.isfinite(lat) and -90 <= lat <= 90 and math.isfinite(lon) and -180 <= lon <= 180):
            raise ValueError(f"--bs-lat-lon: expected a latitude in [-90, 90] and a longitude in [-180, 180], got "
                             f"{lat} {lon}")
    if out.suffix != ".h5" or out.is_dir():
        raise ValueError(f"{out}: expected the output sequence file's path, ending in .h5")


def _bs_position(root: Path, csv_path: Path, rows: list[_Row], missing: dict, bs_lat_lon: Sequence[float] | None,
                 bs_file: str | None, report: Report) -> tuple[tuple[float, float], str]:
    """The BS (lat, lon): ``--bs-lat-lon``, ``--bs-file`` or the BS column's files (all within BS_SPREAD_M)."""
    if bs_lat_lon is not None:
        return (float(bs_lat_lon[0]), float(bs_lat_lon[1])), "--bs-lat-lon"
    if bs_file is not None:
        path = Path(bs_file) if Path(bs_file).is_absolute() else root / bs_file
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such file (--bs-file, the BS latitude and longitude)")
        report.files_read += 1
        return read_lat_lon(path, "--bs-file"), f"--bs-file {bs_file}"
    fixes: dict[Path, tuple[float, float]] = {}
    first = None
    for r in sorted(rows, key=lambda r: (r.seq, r.order)):
        p = r.files["bs"]
        if r.number in missing or p is None:
            continue
        if p not in fixes:
            fixes[p] = read_lat_lon(p, f"{csv_path.name} row {r.number}, BS position")
            report.files_read += 1
        first = first or (p, fixes[p])
    assert first is not None  # rows with a missing BS file are skipped or an error; some row has windows
    spread = gps_to_local(np.array(list(fixes.values())), first[1])
    far = np.hypot(spread[:, 0], spread[:, 1])
    if (far > BS_SPREAD_M).any():
        worst = list(fixes)[int(far.argmax())]
        raise ValueError(f"{worst}: BS position {far.max():.1f} m from that of {first[0]}; expected one fixed BS "
                         f"(within {BS_SPREAD_M} m); pass --bs-lat-lon LAT LON")
    return first[1], f"{first[0].relative_to(root).as_posix()}"


def _preprocessing(csv_path: Path, cols: dict, wanted: dict, order_column: str, modalities: list[str],
                   image_size, radar_bins, radar_scale, radar_key, radar_layout, lidar_size, lidar_fov,
                   lidar_max_range, num_beams, bs, bs_from, window, history, stride, block_frames, seq_ids,
                   skipped_rows, skip_missing) -> dict[str, Any]:
    prep: dict[str, Any] = {
        "converter": "deepsense",
        "csv": csv_path.name,
        "columns": {k: v for k, v in cols.items() if k in wanted},
        "order_column": order_column,
    }
    if "image" in modalities:
        prep["image"] = {"resize": list(image_size), "method": "bilinear, align_corners=False (sensors.resize_image)",
                         "range": [0.0, 1.0], "normalise": "eq. 7 with the recorded ImageNet mean / std (readers)"}
    if "radar" in modalities:
        prep["radar"] = {"key": radar_key, "stored_layout": radar_layout,
                         "range_angle_map": {"angle_bins": radar_bins[0], "range_bins": radar_bins[1],
                                             "remove_static": True, "function": "sensors.range_angle_map (eq. 8)"},
                         "compression": "log1p(scale * magnitude)", "scale": radar_scale, "shape": "(1, A, R)"}
    if "lidar" in modalities:
        prep["lidar"] = {"depth_image": list(lidar_size), "f_up_deg": lidar_fov[0], "f_down_deg": lidar_fov[1],
                         "d_max_m": lidar_max_range, "function": "sensors.lidar_depth_image (eq. 9-10)"}
    prep["gps"] = {"projection": "eq. 11 equirectangular, (east, north) m", "bs_lat_lon": list(bs),
                   "bs_from": bs_from}
    prep["beam_power"] = {"from": "linear powers", "units": "dB", "floor_db": POWER_FLOOR_DB,
                          "num_beams": num_beams}
    prep["labels"] = {
        "position": "the UE's GPS fix in local metres (the same values as inputs/gps): the release has no other "
                    "position ground truth",
        "beam": "argmax of the linear beam powers",
        "beam_power": "the dB beam powers (as inputs/beam_power)",
        "rssi": "power-domain mean of the beam powers, dB (sensors.rssi_db)",
    }
    prep["windows"] = {"frames": window, "history": history, "stride": stride,
                       "block_frames": block_frames, "block": "sequence" if block_frames is None else "time block"}
    prep["sequence_ids"] = {str(i): sid for i, sid in enumerate(seq_ids)}  # index/sequence -> the CSV's seq id
    prep["skip_missing"] = skip_missing
    prep["skipped_rows"] = skipped_rows
    return prep


def main(argv: list[str] | None = None) -> Report:
    p = ArgumentParser(prog="wfm-convert deepsense", description=__doc__.splitlines()[0])
    p.add_argument("scenario_dir", help="the scenario folder (holding the CSV index)")
    p.add_argument("out_path", help="the output sequence file (.h5)")
    p.add_argument("--csv", default=None, help="the CSV index, relative to the folder (default: its single *.csv)")
    g = p.add_argument_group("windows")
    g.add_argument("--window", type=int_at_least(2), default=13, help="frames per window (default 13)")
    g.add_argument("--history", type=positive_int, default=8, help="observed frames of a window (default 8)")
    g.add_argument("--stride", type=positive_int, default=1, help="frames between window starts (default 1)")
    g.add_argument("--block-frames", type=positive_int, default=None,
                   help="cut sequences into time blocks of this many frames (default: a block is a sequence)")
    g.add_argument("--frame-rate", type=positive_float, default=10.0, help="Hz, recorded (default 10)")
    s = p.add_argument_group("sensors")
    s.add_argument("--no-image", action="store_true")
    s.add_argument("--no-radar", action="store_true")
    s.add_argument("--no-lidar", action="store_true")
    s.add_argument("--image-size", type=positive_int, nargs=2, default=(24, 32), metavar=("H", "W"),
                   help="resized image (default 24 32)")
    s.add_argument("--radar-bins", type=positive_int, nargs=2, default=(32, 32), metavar=("A", "R"),
                   help="angle bins (>= antennas) and the first R range bins kept (<= ADC samples; default 32 32)")
    s.add_argument("--radar-scale", type=positive_float, default=1.0,
                   help="radar map stored as log1p(scale * magnitude) (default 1)")
    s.add_argument("--radar-key", default=None, help="the .mat variable (default: its single array)")
    s.add_argument("--radar-layout", default="rx,adc,chirp",
                   help="axis order of the stored cube, a permutation of rx,adc,chirp (default rx,adc,chirp)")
    s.add_argument("--lidar-size", type=positive_int, nargs=2, default=(16, 64), metavar=("H", "W"),
                   help="depth image (default 16 64)")
    s.add_argument("--lidar-fov", type=finite_float, nargs=2, default=(15.0, -15.0), metavar=("UP", "DOWN"),
                   help="vertical field of view, degrees (default 15 -15)")
    s.add_argument("--lidar-max-range", type=positive_float, default=100.0, help="d_max, metres (default 100)")
    s.add_argument("--num-beams", type=positive_int, default=64, help="codebook size K (default 64)")
    b = p.add_argument_group("BS position (default: the files of the BS column)")
    b.add_argument("--bs-lat-lon", type=finite_float, nargs=2, default=None, metavar=("LAT", "LON"))
    b.add_argument("--bs-file", default=None, help="a .txt of the BS latitude and longitude, relative to the folder")
    c = p.add_argument_group("CSV columns")
    c.add_argument("--order-column", default=None, help=f"order within a sequence (default: first of "
                                                       f"{', '.join(ORDER_COLUMNS)})")
    for name, default in COLUMNS.items():
        c.add_argument(f"--{name.replace('_', '-')}-column", dest=f"col_{name}", default=default, metavar="NAME",
                       help=f"default {default}")
    p.add_argument("--skip-missing", action="store_true",
                   help="drop rows with a missing sensor file (counted; no window spans one) instead of an error")
    a = p.parse_args(argv)
    if not a.history < a.window:
        p.error(f"--history ({a.history}) must be smaller than --window ({a.window})")
    return convert(a.scenario_dir, a.out_path, csv_name=a.csv, window=a.window, history=a.history,
                   stride=a.stride, block_frames=a.block_frames, image=not a.no_image, radar=not a.no_radar,
                   lidar=not a.no_lidar, image_size=tuple(a.image_size), radar_bins=tuple(a.radar_bins),
                   radar_scale=a.radar_scale, radar_key=a.radar_key, radar_layout=a.radar_layout,
                   lidar_size=tuple(a.lidar_size), lidar_fov=tuple(a.lidar_fov), lidar_max_range=a.lidar_max_range,
                   num_beams=a.num_beams, bs_lat_lon=tuple(a.bs_lat_lon) if a.bs_lat_lon else None,
                   bs_file=a.bs_file, order_column=a.order_column, columns={k: getattr(a, f"col_{k}") for k in COLUMNS},
                   frame_rate_hz=a.frame_rate, skip_missing=a.skip_missing)
