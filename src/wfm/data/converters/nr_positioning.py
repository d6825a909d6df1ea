"""5G NR positioning CSI (MATLAB v7.3: ``features`` (N, C, 16, 193), ``labels/position``) -> a wfm HDF5 file.

MATLAB v7.3 files are HDF5 written column-major, so h5py sees every array with its axes reversed:
``features`` as (193, 16, C, N) and ``labels/position`` as (3, N). They are transposed back here (a file
written row-major by other tools, already (N, C, 16, 193), is also accepted). Features are real CSI
magnitudes: no dB, bicubic resize per base station, streamed in chunks.

    wfm-convert nr_positioning FILE.mat OUT_DIR [--size 112] [--name nr_positioning]
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from wfm.data import transforms
from wfm.data.converters.common import Report, check_real_array, converter_arguments, read_h5, require_file
from wfm.data.hdf5 import H5Writer, check_stored, label_meta, open_h5, safe_output_path
from wfm.data.split import train_test_split

SUBCARRIER_SHAPE = (16, 193)


def _layout(path: Path, shape: tuple[int, ...]) -> bool:
    """True if ``features`` is stored MATLAB-style (axes reversed)."""
    if len(shape) != 4:
        raise ValueError(f"{path}: 'features' has shape {shape}, expected 4-D (N, C, 16, 193)")
    if tuple(shape[:2]) == SUBCARRIER_SHAPE[::-1]:
        return True
    if tuple(shape[2:]) == SUBCARRIER_SHAPE:
        return False
    raise ValueError(
        f"{path}: 'features' has shape {shape}; expected (N, C, 16, 193) or MATLAB's (193, 16, C, N)"
    )


def _dataset(path: Path, f: h5py.File, key: str) -> h5py.Dataset:
    """``f[key]``, checked: present, a dataset (not a group), real numbers, every claimed sample stored; HDF5
    failing to open it (a corrupt object header) is a ValueError naming the file."""
    try:
        obj = f.get(key)
    except (OSError, RuntimeError, KeyError, ValueError) as err:
        raise ValueError(f"{path}: cannot read '{key}' ({' '.join(str(err).split())[:200]}); the file is corrupt or "
                         "truncated") from None
    if obj is None:
        raise ValueError(f"{path}: '{key}' missing; expected features and labels/position")
    if not isinstance(obj, h5py.Dataset):
        kind = "group" if isinstance(obj, h5py.Group) else type(obj).__name__
        raise ValueError(f"{path}: '{key}' is a {kind}, expected a dataset (a MATLAB array)")
    check_stored(path, obj, f"'{key}'")
    return obj


def convert(
    mat_path: str | Path, out_dir: str | Path, size: int = 112, name: str = "nr_positioning", chunk: int = 256
) -> Report:
    """Convert one ``.mat`` file to ``out_dir/<name>.h5`` (statistics from the seed-0 training split)."""
    mat_path = require_file(mat_path, "the release's .mat file (MATLAB v7.3, HDF5) with features and labels/position")
    out = safe_output_path(out_dir, name)
    with open_h5(mat_path, "expected the release's .mat file", "not a MATLAB v7.3 (HDF5) file") as f:
        feats, pos_ds = (_dataset(mat_path, f, key) for key in ("features", "labels/position"))
        matlab = _layout(mat_path, feats.shape)
        n = feats.shape[-1] if matlab else feats.shape[0]
        c = feats.shape[2] if matlab else feats.shape[1]
        if n < 2 or c < 1:
            raise ValueError(f"{mat_path}: 'features' holds {n} sample(s) of {c} base station(s); expected at least "
                             "2 samples (the file is split 80/20) of one or more")
        if len(pos_ds.shape) != 2 or sorted(pos_ds.shape) != sorted((n, 3)):
            raise ValueError(f"{mat_path}: labels/position has shape {pos_ds.shape}, expected ({n}, 3) (or MATLAB's "
                             f"(3, {n}))")
        pos = read_h5(mat_path, pos_ds, (), "labels/position")
        pos = pos.T if matlab else pos
        if pos.shape != (n, 3):
            raise ValueError(
                f"{mat_path}: labels/position is {pos.shape} after layout fix, expected ({n}, 3)"
            )
        pos = check_real_array(pos, str(mat_path), "labels/position", item="sample").astype(np.float64)
        train_idx, _ = train_test_split(n, 0)
        is_train = np.zeros(n, bool)
        is_train[train_idx] = True
        prep = transforms.describe(
            False,
            size,
            source_layout="matlab_v7.3_transposed" if matlab else "row_major",
            features="CSI magnitude (N, C, 16, 193)",
        )
        meta = label_meta({"position": "regression"}, units={"position": "m"})
        with H5Writer(
            out,
            (c, *((size, size) if isinstance(size, int) else size)),
            meta,
            source=f"nr_positioning:{mat_path.name}",
            modality="csi",
            preprocessing=prep,
            extra_attrs={"stats_split": {"seed": 0, "train_frac": 0.8}},
            expected_rows=n,
        ) as w:
            for s in range(0, n, chunk):
                e = min(s + chunk, n)
                block = (
                    read_h5(mat_path, feats, (Ellipsis, slice(s, e)), "features").transpose(3, 2, 1, 0) if matlab
                    else read_h5(mat_path, feats, slice(s, e), "features")
                )
                check_real_array(block, str(mat_path), "'features'", item="sample", first=s)  # before the cast
                w.append(
                    transforms.preprocess(block, power=False, size=size),
                    {"position": pos[s:e]},
                    stats_rows=is_train[s:e],
                )
    return Report(files_read=1, samples_written=n, outputs=[out])


def main(argv: list[str] | None = None) -> Report:
    p = converter_arguments("nr_positioning", __doc__.splitlines()[0], "mat", "nr_positioning")
    a = p.parse_args(argv)
    return convert(a.mat, a.out_dir, a.size, a.name)

