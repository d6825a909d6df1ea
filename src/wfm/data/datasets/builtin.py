"""The built-in synthetic corpus as HDF5: generated once per (name, n, seed, size), cached, read as a file."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from wfm.data.datasets.h5 import H5Dataset
from wfm.data.hdf5 import H5Writer, label_meta
from wfm.data.modalities import get_modality
from wfm.data.split import train_test_split


def default_cache_dir() -> Path:
    """``$WFM_CACHE`` if set, else ``~/.cache/wfm``."""
    return Path(os.environ.get("WFM_CACHE") or Path.home() / ".cache" / "wfm")


def builtin_path(
    name: str,
    n: int,
    seed: int,
    size: int | Sequence[int],
    root: str | os.PathLike | None,
    options: Mapping[str, Any] | None = None,
) -> Path:
    """``<root>/<name>-n<N>-s<seed>-<H>x<W>-g<generator version>[-o<options hash>].h5``.

    The generator version is in the name so a cache built by an older generator is never read as the
    current one; non-default generator ``options`` get a hash of their canonical JSON.
    """
    from wfm.data import synthetic

    if name not in synthetic.BUILTIN:
        raise ValueError(f"unknown built-in dataset {name!r}; expected one of {sorted(synthetic.BUILTIN)}")
    h, w = get_modality(synthetic.BUILTIN[name].modality).sample_hw(size)
    tag = f"-g{synthetic.GENERATOR_VERSION}"
    if options:
        canon = json.dumps(dict(options), sort_keys=True, default=list)
        tag += "-o" + hashlib.sha1(canon.encode()).hexdigest()[:10]
    return Path(root if root is not None else default_cache_dir()) / f"{name}-n{n}-s{seed}-{h}x{w}{tag}.h5"


def build_builtin(
    name: str,
    n: int,
    seed: int = 0,
    size: int | Sequence[int] = 112,
    root: str | os.PathLike | None = None,
    chunk: int = 256,
    stats_seed: int = 0,
    train_frac: float = 0.8,
    options: Mapping[str, Any] | None = None,
) -> Path:
    """Generate the built-in dataset ``name`` into the cache (if not there yet) and return the file path.

    Samples are generated ``chunk`` at a time and prepared as their modality stores them
    (:meth:`~wfm.data.modalities.DataModality.prepare`: grid-like sets brought to dB when they are powers and
    resized with ``wfm.data.transforms``, raw IQ generated at the requested length and kept); statistics are
    streamed over the training part of split ``stats_seed``.
    A lock file serialises concurrent builders (e.g. DDP ranks), and the file appears by atomic rename,
    so a second process either waits and reuses it or sees nothing. ``options`` are the generator's
    per-dataset options (``wfm.data.synthetic.generate``), e.g. ``{"snr_db": 5.0}``.
    """
    from wfm.data import synthetic  # late import: the generator is heavy and optional for file-based use

    if name not in synthetic.BUILTIN:
        raise ValueError(f"unknown built-in dataset {name!r}; expected one of {sorted(synthetic.BUILTIN)}")
    if n < 2:
        raise ValueError(f"built-in dataset {name!r}: n must be >= 2, got {n}")
    options = dict(options or {})
    spec = synthetic.describe(name, **options)  # unknown options fail here, before anything is written
    kind = get_modality(spec.modality)
    gen_options = {**options, **kind.generator_options(size)}
    path = builtin_path(name, n, seed, size, root, options)
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if path.exists():  # another process built it while we waited
                return path
            hw = kind.sample_hw(size)
            meta = label_meta(
                dict(spec.labels),
                dict(getattr(spec, "class_names", {}) or {}),
                dict(getattr(spec, "units", {}) or {}),
                supervised=dict(getattr(spec, "supervised", {}) or {}),
                stratify=dict(getattr(spec, "stratify", {}) or {}),
            )
            train_idx, _ = train_test_split(n, stats_seed, train_frac)
            is_train = np.zeros(n, dtype=bool)
            is_train[train_idx] = True
            source = {"generator": f"wfm.data.synthetic:{name}", "seed": seed}
            prep = kind.preprocessing(bool(spec.power), hw, **source)
            writer = H5Writer(
                path,
                (int(spec.channels), *hw),
                meta,
                source=f"builtin:{name} (seed {seed})",
                modality=spec.modality,
                preprocessing=prep,
                extra_attrs={
                    "stats_split": {"seed": stats_seed, "train_frac": train_frac},
                    "description": str(getattr(spec, "description", "")),
                    "generator_version": synthetic.GENERATOR_VERSION,
                    "generator_options": json.dumps(options, sort_keys=True, default=list),
                    **({"complex_pairs": [list(p) for p in pairs]} if (pairs := getattr(spec, "complex_pairs", ()))
                       else {}),
                },
                expected_rows=n,
            )
            with writer:
                for start in range(0, n, chunk):
                    stop = min(start + chunk, n)
                    raw, labels = synthetic.generate(name, start, stop, seed=seed, **gen_options)
                    x = kind.prepare(raw, bool(spec.power), hw)
                    writer.append(x, {k: labels[k] for k in meta}, stats_rows=is_train[start:stop])
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return path


class BuiltinDataset(H5Dataset):
    """A built-in synthetic dataset (a name of the registry :data:`wfm.data.synthetic.BUILTIN`: ``rfs``,
    ``positioning``, ``beam``, ``los``, ``spectrogram``, ``csi``, ``iq2``, ...); samples as :class:`H5Dataset`'s.

    Built into the cache (:func:`builtin_path`) on first use and read from there after; ``options`` are
    the generator's per-dataset options (e.g. ``{"snr_db": 5.0}`` for a CSI task).
    """

    def __init__(
        self,
        name: str,
        n: int,
        seed: int = 0,
        size: int | Sequence[int] = 112,
        root: str | os.PathLike | None = None,
        target: str | None = None,
        channels: Sequence[int] | None = None,
        labels: bool = True,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        self.name = name
        path = build_builtin(name, n, seed, size, root, options=options)
        super().__init__(path, target=target, channels=channels, size=size, labels=labels)


def is_builtin(name: str) -> bool:
    """True for a built-in dataset name (not a path)."""
    if os.sep in name or name.endswith((".h5", ".hdf5")):
        return False
    from wfm.data import synthetic

    return name in synthetic.BUILTIN
