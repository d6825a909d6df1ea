"""The data modalities of the wfm format: what one sample of each kind is, and what follows from that.

A file's ``modality`` attribute (``spectrogram``, ``csi``, ``iq``) names one :class:`DataModality` here, and
that object answers every question the format, the readers and the built-in corpus ask about a sample: how
many ``mean``/``std`` entries a file carries and over which axis they are computed, the ``(H, W)`` of one
channel for a requested size, which per-sample shapes are valid, how the statistics broadcast over a sample,
and how raw generator output becomes stored inputs (with the ``preprocessing`` attribute describing it).
Nothing else branches on the modality's name. Every sample a dataset yields, and every batch, carries the
name (``"modality"``), so a model reads it instead of guessing it from tensor shapes.

A new modality is one module defining a :class:`DataModality` subclass and one :func:`register_modality`
line below (plus its tests); the encoder's side is a tokenizer that names the modality
(:mod:`wfm.models.tokenizers`).
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np


class DataModality(ABC):
    """One kind of sample of the format: ``(C, H, W)`` float32, with what ``C``, ``H``, ``W`` mean fixed here.

    Attributes:
        name: the value of the files' ``modality`` attribute and of ``sample["modality"]``.
        stats_per: how the ``mean``/``std`` attributes are laid out, for error messages
            (``"one per channel"``).
    """

    name: str
    stats_per: str
    #: samples are streams in time (sized by a length, e.g. ``iq_length``) rather than grids (sized by ``size``);
    #: pretraining batches streams and grids apart and round-robins between them
    stream = False

    @abstractmethod
    def num_stats(self, channels: int) -> int:
        """Entries of the ``mean``/``std`` attributes of a file whose samples have ``channels`` channels."""

    @abstractmethod
    def stats_view(self, x: np.ndarray) -> np.ndarray:
        """``(n, C, H, W)`` arranged so that axis 1 is what statistics are computed over."""

    @abstractmethod
    def sample_hw(self, size: int | Sequence[int]) -> tuple[int, int]:
        """The ``(H, W)`` of one channel of a sample of the requested ``size`` (an int or ``(H, W)``)."""

    @abstractmethod
    def check_sample_shape(self, path: str | os.PathLike, shape: Sequence[int]) -> None:
        """Raise a ValueError naming ``path`` if a per-sample ``shape`` ``(C, H, W)`` does not fit this modality."""

    @abstractmethod
    def stats_arrays(
        self, mean: np.ndarray, std: np.ndarray, channel_index: Sequence[int]
    ) -> tuple[np.ndarray, np.ndarray]:
        """A file's ``mean``/``std`` shaped to broadcast over a ``(C, H, W)`` sample that keeps the channels
        ``channel_index``: standardising is ``(x - mean) / std``."""

    @abstractmethod
    def prepare(self, raw: np.ndarray, power: bool, hw: tuple[int, int]) -> np.ndarray:
        """Raw generator output ``(n, C, ...)`` -> the stored inputs ``(n, C, *hw)`` (not standardised);
        ``power``: the raw values are powers (brought to dB)."""

    @abstractmethod
    def preprocessing(self, power: bool, hw: tuple[int, int], **source: Any) -> dict[str, Any]:
        """The ``preprocessing`` attribute matching :meth:`prepare` (``source``: a first ``source`` step)."""

    def generator_options(self, size: int | Sequence[int]) -> dict[str, Any]:
        """Options a built-in generator is given so that its raw output has the requested ``size`` (none when
        :meth:`prepare` resizes)."""
        return {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


#: modality name -> modality, in registration order
MODALITIES: dict[str, DataModality] = {}


def register_modality(modality: DataModality) -> DataModality:
    """Add ``modality`` to the registry under its name (a name is taken once); returns it."""
    known = MODALITIES.get(modality.name)
    if known is not None and known is not modality:
        raise ValueError(f"a data modality named {modality.name!r} is already registered ({known!r})")
    MODALITIES[modality.name] = modality
    return modality


def get_modality(name: str) -> DataModality:
    """The registered modality ``name``; a ValueError lists the known ones otherwise."""
    try:
        return MODALITIES[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown data modality {name!r}; expected one of {modality_names()}") from None


def modality_names() -> tuple[str, ...]:
    """Names of the registered modalities, in registration order."""
    return tuple(MODALITIES)


def batch_modality(names: Sequence[str | None], where: str = "batch") -> str | None:
    """The one modality of samples named ``names`` (None when no sample names one); a ValueError when they mix
    modalities, or when only some samples name theirs: a batch holds one kind of sample."""
    distinct = set(names)
    if len(distinct) <= 1:
        return next(iter(distinct), None)
    if None in distinct:
        raise ValueError(f"{where}: some samples name their modality ({sorted(distinct - {None})}) and some "
                         "do not; a batch holds one modality")
    raise ValueError(f"{where} mixes samples of modalities {sorted(distinct)}; a batch holds one modality "
                     "(group a mix of datasets by modality, e.g. PretrainDataModule(group_by_channels=True))")


def pair(size: int | Sequence[int], what: str = "size") -> tuple[int, int]:
    """``(size, size)`` for an int, else the given ``(H, W)``."""
    if isinstance(size, (int, np.integer)):
        return int(size), int(size)
    hw = tuple(int(s) for s in size)
    if len(hw) != 2:
        raise ValueError(f"{what} must be an int or (H, W), got {size}")
    return hw  # type: ignore[return-value]


# The registry: one line per modality module.
from wfm.data.modalities.grid import CSI, SPECTROGRAM  # noqa: E402
from wfm.data.modalities.iq import IQ  # noqa: E402

for _m in (SPECTROGRAM, CSI, IQ):
    register_modality(_m)

__all__ = [
    "CSI",
    "IQ",
    "MODALITIES",
    "SPECTROGRAM",
    "DataModality",
    "batch_modality",
    "get_modality",
    "modality_names",
    "pair",
    "register_modality",
]
