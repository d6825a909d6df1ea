"""The data path, read in one direction:

raw files -> :mod:`wfm.data.converters` (``wfm-convert NAME``) -> HDF5 (:mod:`wfm.data.hdf5`, preprocessing by
:mod:`wfm.data.transforms`) -> :mod:`wfm.data.datasets` (one reader; the built-in corpus of
:mod:`wfm.data.synthetic` is generated into the same format) -> :mod:`wfm.data.datamodules` (pretraining
mix, one downstream task, a probe suite) -> a method or the evaluation.
"""
