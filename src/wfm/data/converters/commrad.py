"""CommRad RF spectrogram images (``<class>_<index>.png``, 20 classes) -> a wfm HDF5 file.

Each image is read as grey levels in [0, 1] (colour images are converted with ITU-R 601 luma), taken as an
already-log-scaled spectrogram (no dB step), and resized bicubically. The class is the file name up to its
last underscore; class indices follow the sorted class names (or ``--classes`` if given).

    wfm-convert commrad IMAGE_DIR OUT_DIR [--size 112] [--name commrad_rf]
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from wfm.data import transforms
from wfm.data.converters.common import Report, converter_arguments, read_pil_image
from wfm.data.hdf5 import label_meta, write_dataset_file


def read_image(path: Path) -> np.ndarray:
    """Grey levels ``(H, W)`` in [0, 1]; an unreadable image or a decompression bomb is a one-line ValueError
    (:func:`~wfm.data.converters.common.read_pil_image`)."""
    grey = read_pil_image(path, "L", expected="a PNG spectrogram image '<class>_<index>.png'")
    return grey.astype(np.float32) / 255.0


def class_of(path: Path) -> str:
    stem = path.stem
    if "_" not in stem:
        raise ValueError(f"{path}: expected a name '<class>_<index>.png'")
    return stem.rsplit("_", 1)[0]


def convert(
    image_dir: str | Path,
    out_dir: str | Path,
    size: int = 112,
    name: str = "commrad_rf",
    classes: Sequence[str] | None = None,
) -> Report:
    """Convert every ``*.png`` under ``image_dir`` to ``out_dir/<name>.h5``."""
    image_dir = Path(image_dir)
    files = sorted(image_dir.rglob("*.png"))
    if not files:
        raise FileNotFoundError(f"{image_dir}: no *.png images")
    names = [class_of(p) for p in files]
    classes = tuple(classes) if classes else tuple(sorted(set(names)))
    unknown = sorted(set(names) - set(classes))
    if unknown:
        raise ValueError(f"{image_dir}: images of classes {unknown} not in the class list {classes}")
    x = np.concatenate(
        [transforms.preprocess(read_image(p)[None, None], power=False, size=size) for p in files]
    )
    y = np.array([classes.index(c) for c in names], dtype=np.int64)
    prep = transforms.describe(False, size, image="PNG grey levels / 255 (log-scaled spectrogram image)")
    out = write_dataset_file(
        out_dir,
        name,
        x,
        {"label": y},
        label_meta({"label": "classification"}, {"label": classes}),
        f"commrad:{image_dir.name}",
        "spectrogram",
        prep,
    )
    return Report(files_read=len(files), samples_written=len(y), outputs=[out])


def main(argv: list[str] | None = None) -> Report:
    p = converter_arguments("commrad", __doc__.splitlines()[0], "image_dir", "commrad_rf")
    p.add_argument("--classes", nargs="*", default=None, help="class order (default: sorted names found)")
    a = p.parse_args(argv)
    return convert(a.image_dir, a.out_dir, a.size, a.name, a.classes)

