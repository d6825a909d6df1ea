"""wfm: pretraining and evaluating wireless foundation models (JEPA, MAE, supervised) on spectrograms and CSI."""

__version__ = "0.1.0"
