"""Raw complex baseband (``iq``, format version 2): samples ``(A, 2, T)`` = antennas x (I, Q) x time samples.

Antennas play the part of channels (sampled, padded and embedded alike); the statistics are one pair per
component I / Q, shared by every antenna; raw streams are stored as they are (no dB, no resize), so a built-in
IQ set is generated at the requested length ``T``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from wfm.data import transforms
from wfm.data.modalities import DataModality, pair


@dataclass(frozen=True, repr=False)
class IQModality(DataModality):
    """Raw IQ streams: ``(antennas, 2, T)`` samples, ``mean``/``std`` of shape ``(2,)`` (I, Q)."""

    name: str = "iq"
    stats_per: str = "one per component I, Q"
    stream = True

    def num_stats(self, channels: int) -> int:
        return 2

    def stats_view(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x).transpose(0, 2, 1, 3)  # (n, A, 2, T) -> (n, 2, A, T): statistics per component

    def sample_hw(self, size: int | Sequence[int]) -> tuple[int, int]:
        """``(2, size)`` (I / Q x time samples) for an int, else the given pair."""
        if isinstance(size, (int, np.integer)):
            return 2, int(size)
        return pair(size)

    def check_sample_shape(self, path: str | os.PathLike, shape: Sequence[int]) -> None:
        if len(shape) != 3 or int(shape[1]) != 2 or int(shape[2]) < 1:
            raise ValueError(f"{path}: iq samples must be (antennas, 2, T) = antennas x (I, Q) x time, "
                             f"got {tuple(shape)}")

    def stats_arrays(
        self, mean: np.ndarray, std: np.ndarray, channel_index: Sequence[int]
    ) -> tuple[np.ndarray, np.ndarray]:
        # one (I, Q) pair of statistics for every antenna, whichever antennas are kept
        return (np.asarray(mean).reshape(1, 2, 1).astype(np.float32),
                np.asarray(std).reshape(1, 2, 1).astype(np.float32))

    def prepare(self, raw: np.ndarray, power: bool, hw: tuple[int, int]) -> np.ndarray:
        return raw  # raw streams are kept as they are, generated at the requested length

    def preprocessing(self, power: bool, hw: tuple[int, int], **source: Any) -> dict[str, Any]:
        return transforms.describe_iq(**source)

    def generator_options(self, size: int | Sequence[int]) -> dict[str, Any]:
        return {"n_samples": self.sample_hw(size)[1]}


IQ = IQModality()
