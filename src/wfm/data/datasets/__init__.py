"""Datasets reading prepared wfm HDF5 files (one module per dataset kind that needs its own logic)."""

from wfm.data.datasets.builtin import BuiltinDataset, build_builtin, default_cache_dir
from wfm.data.datasets.h5 import H5Dataset

__all__ = ["BuiltinDataset", "H5Dataset", "build_builtin", "default_cache_dir"]
