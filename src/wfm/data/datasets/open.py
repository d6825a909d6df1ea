"""One entry point for "a dataset by name": a built-in synthetic set (generated and cached) or a wfm HDF5 file."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from wfm.data.datasets.builtin import BuiltinDataset, is_builtin
from wfm.data.datasets.h5 import H5Dataset


def open_dataset(
    name: str,
    n: int,
    size: int | Sequence[int],
    seed: int = 0,
    cache_dir: str | None = None,
    target: str | None = None,
    labels: bool = True,
    options: dict | None = None,
) -> H5Dataset:
    """A built-in name (generated/cached with ``n`` samples and generator ``options``) or a path to a wfm
    HDF5 file (``options`` must then be empty)."""
    if is_builtin(name):
        return BuiltinDataset(
            name, n, seed=seed, size=size, root=cache_dir, target=target, labels=labels, options=options
        )
    if options:
        raise ValueError(f"{name}: generator options {options} only apply to built-in datasets")
    if not Path(name).exists():
        raise FileNotFoundError(f"{name}: not a built-in dataset name and no such HDF5 file")
    return H5Dataset(name, target=target, size=size, labels=labels)


def dataset_modality(name: str) -> str:
    """The modality (``spectrogram``, ``csi``, ``iq``) of a built-in name or a wfm HDF5 file, without
    generating or reading any sample."""
    if is_builtin(name):
        from wfm.data import synthetic

        return synthetic.BUILTIN[name].modality
    if not Path(name).exists():
        raise FileNotFoundError(f"{name}: not a built-in dataset name and no such HDF5 file")
    from wfm.data.hdf5 import read_attrs

    return str(read_attrs(name)["modality"])
