"""Data path: raw files -> tools/convert_<name>.py -> HDF5 -> datasets/<name>.py -> datamodules/<name>.py."""
