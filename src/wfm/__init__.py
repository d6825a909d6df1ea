"""wfm: pretraining and evaluating wireless foundation models (JEPA, MAE, supervised) on spectrograms and CSI."""

__version__ = "0.1.0"

__all__ = ["__version__", "load_pretrained"]


def __getattr__(name: str):
    # lazy: ``import wfm`` stays free of torch for the command-line tools that do not need it
    if name == "load_pretrained":
        from wfm.pretrained import load_pretrained

        return load_pretrained
    raise AttributeError(f"module 'wfm' has no attribute {name!r}")
