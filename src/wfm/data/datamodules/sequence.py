"""``SequenceDataModule``: windows of time-synchronised sensor frames (a sequence file, or the built-in V2I scene).

``dataset`` is a path to a sequence file (``wfm-convert deepsense``, :func:`wfm.data.synthetic.v2i.write_v2i`) or
``v2i`` — the built-in scene, generated once per option set into the cache (``$WFM_CACHE``, else
``~/.cache/wfm``; the options' hash is in the file name) and read from there after. The split is by sequence by
default (no frame of a test window was seen in training), ``block`` for whole routes or time blocks, ``window``
for the paper's random split of windows (leaky with overlapping windows). Batches are
``{"inputs": {modality: (B, T, ...)}, "labels": {...}, "raw": {"gps", "beam_power"}}``: standardised inputs, the
labels, and the un-standardised history the heads' coarse estimates need (metres, dB).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning import LightningDataModule
from torch.utils.data import DataLoader, Dataset

from wfm.choices import check_choice, check_loader
from wfm.data.datamodules.pretrain import EpochShuffleSampler
from wfm.data.datamodules.resumable import ResumableDataLoader
from wfm.data.datasets.builtin import default_cache_dir
from wfm.data.sequence import SequenceData, SplitBy, load_sequence, split_windows, standardise
from wfm.lightning_adapter import epoch_batches_done

#: bumped whenever the built-in V2I generator's output for the same options changes
V2I_VERSION = 1


def v2i_path(options: dict[str, Any], cache_dir: str | Path | None = None) -> Path:
    """Cache file of the built-in V2I scene for ``options``."""
    key = json.dumps({"version": V2I_VERSION, **options}, sort_keys=True, default=list)
    h = hashlib.sha1(key.encode()).hexdigest()[:12]
    return Path(cache_dir if cache_dir is not None else default_cache_dir()) / f"v2i-v{V2I_VERSION}-{h}.h5"


def resolve_sequence_file(dataset: str, options: dict[str, Any] | None = None,
                          cache_dir: str | Path | None = None) -> Path:
    """The file behind ``dataset``: a path as given, or the built-in ``v2i`` scene (generated if not cached)."""
    if dataset != "v2i":
        path = Path(dataset)
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such sequence file (or use dataset: v2i, the built-in scene)")
        return path
    from wfm.data.synthetic.v2i import write_v2i

    opts = dict(options or {})
    path = v2i_path(opts, cache_dir)
    if not path.exists():
        write_v2i(path, **opts)
    return path


class SequenceWindows(Dataset):
    """Windows of a :class:`SequenceData` as dicts of tensors."""

    def __init__(self, data: SequenceData, raw: dict[str, np.ndarray]) -> None:
        self.data, self.raw = data, raw

    def __len__(self) -> int:
        return self.data.n

    def __getitem__(self, i: int) -> dict[str, Any]:
        d = self.data
        return {
            "inputs": {k: torch.from_numpy(v[i]) for k, v in d.inputs.items()},
            "labels": {k: torch.from_numpy(np.asarray(v[i])) for k, v in d.labels.items()},
            "raw": {k: torch.from_numpy(v[i]) for k, v in self.raw.items()},
            "index": torch.tensor(i),
        }


class SequenceDataModule(LightningDataModule):
    """Train / test windows of one sequence file.

    Args:
        dataset: a sequence file path, or ``v2i`` (the built-in scene with ``v2i`` options).
        v2i: options of :func:`wfm.data.synthetic.v2i.generate_v2i` for ``dataset: v2i``.
        modalities: the sensors to use (default all the file has): the modality-removal ablation.
        split_by: ``sequence`` | ``block`` | ``window`` (see the module doc).
        test_fraction: share of sequences (or blocks, windows) held out (the paper: 30 %).
        batch_size, num_workers: loaders.
        split_seed: the split and the shuffling order (a pure function of it and the epoch: exact resume); kept
            apart from the method's ``seed`` so that runs of several pretraining seeds share one test set.
        cache_dir: where the built-in scene is cached.
    """

    def __init__(self, dataset: str = "v2i", v2i: dict[str, Any] | None = None, modalities: list[str] | None = None,
                 split_by: SplitBy = "sequence", test_fraction: float = 0.3, batch_size: int = 32,
                 num_workers: int = 0, split_seed: int = 0, cache_dir: str | None = None) -> None:
        super().__init__()
        check_loader(batch_size, num_workers)
        check_choice("split_by", split_by, SplitBy)
        self.save_hyperparameters()
        self.dataset, self.v2i = dataset, dict(v2i or {})
        self.modalities = tuple(modalities) if modalities else None
        self.split_by, self.test_fraction = split_by, test_fraction
        self.batch_size, self.num_workers, self.seed = batch_size, num_workers, split_seed
        self.cache_dir = cache_dir
        self.data: SequenceData | None = None

    @property
    def path(self) -> Path:
        return resolve_sequence_file(self.dataset, self.v2i, self.cache_dir)

    def prepare_data(self) -> None:
        self.path  # noqa: B018 — generate the built-in scene once, before any worker reads it

    def setup(self, stage: str | None = None) -> None:
        if self.data is not None:
            return
        raw_data = load_sequence(self.path, standardised=False)  # read once: the heads need gps / beam power raw
        data = raw_data.standardised(self.modalities)
        missing = [k for k in ("gps", "beam_power") if k not in raw_data.inputs]
        if missing:
            raise ValueError(f"{self.path}: no {missing} input; the heads' coarse estimates need gps and beam_power")
        self.raw = {k: raw_data.inputs[k] for k in ("gps", "beam_power")}
        self.data = data
        self.train_rows, self.test_rows = split_windows(data.index, self.test_fraction, self.split_by, self.seed)

    # facts the method builds its networks from
    @property
    def frame_shapes(self) -> dict[str, tuple[int, ...]]:
        self.setup()
        return self.data.frame_shapes()

    @property
    def frames(self) -> int:
        self.setup()
        return self.data.frames

    @property
    def history(self) -> int:
        self.setup()
        return self.data.history

    def windows(self, split: str) -> SequenceWindows:
        """The ``train`` or ``test`` windows."""
        self.setup()
        rows = self.train_rows if split == "train" else self.test_rows
        return SequenceWindows(self.data.subset(rows), {k: v[rows] for k, v in self.raw.items()})

    def stats(self, name: str) -> dict[str, Any]:
        self.setup()
        return self.data.stats[name]

    def standardise(self, name: str, x: np.ndarray) -> np.ndarray:
        return standardise(name, x, self.stats(name))

    def train_dataloader(self) -> DataLoader:
        ds = self.windows("train")
        loader = ResumableDataLoader(ds, batch_size=self.batch_size, sampler=EpochShuffleSampler(len(ds), self.seed),
                                     drop_last=len(ds) > self.batch_size, num_workers=self.num_workers)
        loader.progress = lambda: epoch_batches_done(self.trainer)
        return loader

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.windows("test"), batch_size=self.batch_size, shuffle=False,
                          num_workers=self.num_workers)

    def test_dataloader(self) -> DataLoader:
        return self.val_dataloader()
