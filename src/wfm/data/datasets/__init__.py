"""Datasets reading prepared wfm HDF5 files: one reader for every file (the format carries the differences),
the cached built-in corpus, and :func:`open_dataset` (a built-in name or a file path)."""

from wfm.data.datasets.builtin import BuiltinDataset, build_builtin, default_cache_dir
from wfm.data.datasets.h5 import H5Dataset
from wfm.data.datasets.open import open_dataset

__all__ = ["BuiltinDataset", "H5Dataset", "build_builtin", "default_cache_dir", "open_dataset"]
