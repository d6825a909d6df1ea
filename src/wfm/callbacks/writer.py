"""``FeatureWriter``: ``wfm predict`` -> an HDF5 file of pooled (optionally per-token) features and labels.

The methods' ``predict_step(batch)`` returns ``{"features": (B, D), "tokens": (B, T, D) optional, **labels}``.
Rows are appended batch by batch to a hidden temporary file beside ``<output>`` and renamed to ``<output>``
when prediction ends (:class:`wfm.data.hdf5.AtomicH5`), so a crashed run never leaves a truncated file under
the final name; a full disk is one line naming ``<output>`` (the temporary file removed, a previous
``<output>`` unchanged), never a crash inside HDF5. Layout: datasets ``features``, ``tokens``
(zero-padded along T when token counts differ; ``num_tokens`` holds the real count), ``index`` (dataset
indices when Lightning knows them) and one dataset per label key at the root for dataloader 0, under
``dataloader_<i>/`` for further dataloaders; a string entry (the batch's ``modality``) is a fact about every
row, kept as an attribute of that group. Under DDP each rank writes ``<stem>.rank<r><suffix>``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import BasePredictionWriter

from wfm.choices import check_choice

FORMAT = "wfm-features"


def _np(value: Any) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        if value.dtype == torch.bfloat16:
            value = value.float()
        return value.numpy()
    return np.asarray(value)


def _input_files(datamodule: Any) -> Iterator[str]:
    """The existing files a datamodule was given: its string / path attributes and hyperparameters, those in
    lists or dicts, and those of the datamodules it holds (``ProbeSuite``'s tasks)."""
    from lightning.pytorch import LightningDataModule

    todo, seen = [datamodule], set()
    while todo:
        v = todo.pop()
        if id(v) in seen:
            continue
        seen.add(id(v))
        if isinstance(v, LightningDataModule):
            todo += list(vars(v).values()) + list(dict(getattr(v, "hparams", {}) or {}).values())
        elif isinstance(v, dict):
            todo += list(v.values())
        elif isinstance(v, (list, tuple)):
            todo += list(v)
        elif isinstance(v, (str, os.PathLike)) and str(v) and os.path.isfile(v):
            yield os.fspath(v)


class FeatureWriter(BasePredictionWriter):
    """Write ``predict_step`` outputs to HDF5.

    Args:
        output_path: final ``.h5`` path; None writes ``<trainer.default_root_dir>/features.h5``.
        write_tokens: also store per-token features when ``predict_step`` returns ``tokens``.
        dtype: storage dtype of features/tokens (``float32`` or ``float16``).
    """

    def __init__(self, output_path: str | None = None, write_tokens: bool = False,
                 dtype: Literal["float32", "float16"] = "float32") -> None:
        super().__init__(write_interval="batch")
        check_choice("dtype", dtype, Literal["float32", "float16"])
        self.output_path = None if output_path is None else Path(output_path)
        self.write_tokens = write_tokens
        self.dtype = np.dtype(dtype)
        self._file: Any = None
        self._final: Path | None = None
        self._out: Any = None  # the wfm.data.hdf5.AtomicH5 being written

    def _path_for(self, trainer: Trainer) -> Path:
        p = self.output_path if self.output_path is not None else Path(trainer.default_root_dir) / "features.h5"
        if trainer.world_size > 1:
            return p.with_name(f"{p.stem}.rank{trainer.global_rank}{p.suffix}")
        return p

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if stage != "predict":
            return
        from wfm.data.hdf5 import AtomicH5  # lazy: only prediction needs h5py

        self._final = self._path_for(trainer)
        self._refuse_the_input(trainer, self._final)
        self._out = AtomicH5(self._final)
        self._file = self._out.file
        self._file.attrs["format"] = FORMAT

    @staticmethod
    def _refuse_the_input(trainer: Trainer, out: Path) -> None:
        """The output must not be a file the datamodule reads: renaming the features over it at the end would
        replace the user's dataset (checked before anything is predicted)."""
        if not out.exists():
            return
        for given in _input_files(getattr(trainer, "datamodule", None)):
            try:
                same = os.path.samefile(given, out)
            except OSError:
                same = False
            if same:
                raise ValueError(f"{out}: the output path is the input dataset; choose another "
                                 "--trainer.callbacks.init_args.output_path")

    def _append(self, group: Any, name: str, data: np.ndarray) -> None:
        if name not in group:
            group.create_dataset(name, data=data, maxshape=(None, *([None] * (data.ndim - 1))), chunks=True)
            return
        ds = group[name]
        if ds.ndim != data.ndim:
            raise ValueError(
                f"FeatureWriter: '{name}' changed rank from {ds.ndim} to {data.ndim} between batches"
            )
        n = ds.shape[0]
        new_shape = [n + data.shape[0]] + [
            max(a, b) for a, b in zip(ds.shape[1:], data.shape[1:], strict=True)
        ]
        if list(ds.shape[1:]) != new_shape[1:] and name != "tokens":
            raise ValueError(
                f"FeatureWriter: '{name}' has shape {data.shape[1:]} here but {ds.shape[1:]} before"
            )
        ds.resize(new_shape)
        if data.shape[1:] != tuple(new_shape[1:]):
            # fewer tokens than earlier batches (fewer channels): zero-pad along T
            padded = np.zeros((data.shape[0], *new_shape[1:]), dtype=ds.dtype)
            padded[(slice(None), *[slice(0, s) for s in data.shape[1:]])] = data
            data = padded
        ds[n:] = data

    def write_on_batch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        prediction: Any,
        batch_indices: Sequence[int] | None,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if self._file is None:
            raise RuntimeError("FeatureWriter: no open file (setup was not called for stage 'predict')")
        if not isinstance(prediction, dict) or "features" not in prediction:
            raise TypeError("FeatureWriter expects predict_step to return a dict with 'features' (B, D)")
        group = (
            self._file if dataloader_idx == 0 else self._file.require_group(f"dataloader_{dataloader_idx}")
        )
        feats = _np(prediction["features"]).astype(self.dtype)
        b = feats.shape[0]
        self._append(group, "features", feats)
        if self.write_tokens and "tokens" in prediction:
            tokens = _np(prediction["tokens"]).astype(self.dtype)
            self._append(group, "tokens", tokens)
            self._append(group, "num_tokens", np.full(b, tokens.shape[1], dtype=np.int64))
        if batch_indices is not None and len(batch_indices) == b:
            self._append(group, "index", np.asarray(batch_indices, dtype=np.int64))
        for key, value in prediction.items():
            if key in ("features", "tokens"):
                continue
            if isinstance(value, str):
                self._set_attr(group, key, value)
                continue
            arr = _np(value)
            if arr.ndim == 0 or arr.shape[0] != b:
                raise ValueError(f"FeatureWriter: label '{key}' has shape {arr.shape}, expected {b} rows")
            self._append(group, key, arr)
        self._check()

    def _check(self) -> None:
        """A failed write (full disk) stops the prediction here, naming the output file."""
        try:
            self._out.check()
        except BaseException:
            self._file = self._out = None
            raise

    @staticmethod
    def _set_attr(group: Any, key: str, value: str) -> None:
        old = group.attrs.get(key)
        if old is not None and old != value:
            raise ValueError(f"FeatureWriter: '{key}' is {value!r} here but {old!r} in earlier batches of the same "
                             "dataloader; write each modality's features through its own dataloader")
        group.attrs[key] = value

    def on_predict_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self._out is None:
            return
        out, self._out, self._file = self._out, None, None
        out.commit()  # close, fsync, rename; a failed write raises naming the file (temporary file removed)

    def teardown(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        # an interrupted prediction: drop the partial temp file rather than leave it around
        if self._out is not None:
            out, self._out, self._file = self._out, None, None
            out.abort()
