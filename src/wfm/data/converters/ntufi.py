"""NTU-Fi HAR WiFi CSI (``.mat`` with ``CSIamp`` (342, T), class = folder name) -> wfm HDF5 files.

``CSIamp`` holds 3 antennas × 114 subcarriers stacked on its first axis; it becomes ``(3, 114, T)`` (antenna
= channel), resized bicubically. Layout ``ROOT/{train_amp,test_amp}/<class>/*.mat`` gives two files,
``<name>_train.h5`` and ``<name>_test.h5`` (the test file carries the training statistics); a root with
class folders directly gives one file ``<name>.h5``. v5 ``.mat`` is read with scipy, v7.3 with h5py.

    wfm-convert ntufi NTU-Fi_HAR OUT_DIR [--size 112] [--name ntufi_har]
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from wfm.data import transforms
from wfm.data.converters.common import Report, check_real_array, converter_arguments, load_mat
from wfm.data.hdf5 import check_stored, label_meta, open_h5, safe_output_path, write_dataset_file, write_h5

CLASSES = ("box", "circle", "clean", "fall", "run", "walk")
ANTENNAS, SUBCARRIERS = 3, 114


def read_csiamp(path: Path) -> np.ndarray:
    """``CSIamp`` of one file as ``(3, 114, T)`` float32, checked first: a real (not complex), finite
    ``(342, T)`` array with T >= 1. A corrupt or foreign file is a one-line ValueError naming it."""
    expected = "an NTU-Fi .mat file with CSIamp (342, T)"
    try:
        variables = load_mat(path, expected)
        if "CSIamp" not in variables:
            raise ValueError(f"{path}: no 'CSIamp' variable (has {sorted(variables)}); expected {expected}")
        amp = variables["CSIamp"]
    except NotImplementedError:  # MATLAB v7.3 is HDF5, stored with axes reversed
        with open_h5(path, "expected an NTU-Fi .mat file", "not a MATLAB v7.3 (HDF5) file") as f:
            ds = f.get("CSIamp")
            if not isinstance(ds, h5py.Dataset):
                raise ValueError(f"{path}: no 'CSIamp' variable") from None
            check_stored(path, ds, "'CSIamp'")
            try:
                amp = np.asarray(ds[()]).T
            except (OSError, RuntimeError) as err:
                raise ValueError(f"{path}: cannot read 'CSIamp' ({' '.join(str(err).split())[:200]}); the file is "
                                 "corrupt or truncated") from None
    if not isinstance(amp, np.ndarray):
        raise ValueError(f"{path}: CSIamp is a {type(amp).__name__}; expected {expected}")
    if amp.ndim != 2 or amp.shape[0] != ANTENNAS * SUBCARRIERS or amp.shape[1] < 1:
        raise ValueError(f"{path}: CSIamp has shape {amp.shape}, expected ({ANTENNAS * SUBCARRIERS}, T) with T >= 1")
    amp = check_real_array(amp, str(path), "CSIamp", item="subcarrier row").astype(np.float32)
    return amp.reshape(ANTENNAS, SUBCARRIERS, -1)


def _read_folder(root: Path, size: int, report: Report) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for cls_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        if cls_dir.name not in CLASSES:
            raise ValueError(f"{cls_dir}: unknown class folder; expected one of {CLASSES}")
        for mat in sorted(cls_dir.glob("*.mat")):
            xs.append(transforms.preprocess(read_csiamp(mat)[None], power=False, size=size))
            report.files_read += 1
            ys.append(CLASSES.index(cls_dir.name))
    if not xs:
        raise FileNotFoundError(f"{root}: no <class>/*.mat files")
    return np.concatenate(xs), np.array(ys, dtype=np.int64)


def convert(root: str | Path, out_dir: str | Path, size: int = 112, name: str = "ntufi_har") -> Report:
    """Convert an NTU-Fi HAR folder; the report lists the written files (train and test, or one)."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder")
    meta = label_meta({"label": "classification"}, {"label": CLASSES})
    prep = transforms.describe(False, size, csiamp="(342, T) -> (3 antennas, 114 subcarriers, T)")
    common = {"source": f"ntufi:{root.name}", "modality": "csi", "preprocessing": prep, "labels": meta}
    report = Report()
    if (root / "train_amp").is_dir() and (root / "test_amp").is_dir():
        train_path = safe_output_path(out_dir, f"{name}_train")
        test_path = safe_output_path(out_dir, f"{name}_test")
        x_tr, y_tr = _read_folder(root / "train_amp", size, report)
        x_te, y_te = _read_folder(root / "test_amp", size, report)
        mean, std = transforms.channel_stats(x_tr)
        report.samples_written = len(y_tr) + len(y_te)
        report.outputs += [
            write_h5(train_path, x_tr, {"label": y_tr}, {**common, "mean": mean, "std": std}),
            write_h5(
                test_path,
                x_te,
                {"label": y_te},
                {**common, "mean": mean, "std": std, "stats_from": train_path.name},
            ),
        ]
        return report
    x, y = _read_folder(root, size, report)
    report.outputs.append(write_dataset_file(out_dir, name, x, {"label": y}, meta, common["source"], "csi", prep))
    report.samples_written = len(y)
    return report


def main(argv: list[str] | None = None) -> Report:
    p = converter_arguments("ntufi", __doc__.splitlines()[0], "root", "ntufi_har")
    a = p.parse_args(argv)
    return convert(a.root, a.out_dir, a.size, a.name)

