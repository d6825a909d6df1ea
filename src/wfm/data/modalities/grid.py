"""Grid-like modalities: samples ``(C, H, W)`` of channels x frequency x time (``spectrogram``) or channels x
antennas x subcarriers (``csi``), statistics per channel, built-ins resized to the requested ``(H, W)``."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from wfm.data import transforms
from wfm.data.modalities import DataModality, pair


@dataclass(frozen=True, repr=False)
class GridModality(DataModality):
    """A modality whose channels are 2-D grids: one ``mean``/``std`` entry per channel, any ``(H, W)``."""

    name: str
    stats_per: str = "one per channel"

    def num_stats(self, channels: int) -> int:
        return int(channels)

    def stats_view(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x)

    def sample_hw(self, size: int | Sequence[int]) -> tuple[int, int]:
        return pair(size)

    def check_sample_shape(self, path: str | os.PathLike, shape: Sequence[int]) -> None:
        return None  # any (C, H, W): the writer and reader check the rank and C >= 1

    def stats_arrays(
        self, mean: np.ndarray, std: np.ndarray, channel_index: Sequence[int]
    ) -> tuple[np.ndarray, np.ndarray]:
        idx = list(channel_index)
        return (np.asarray(mean)[idx].reshape(-1, 1, 1).astype(np.float32),
                np.asarray(std)[idx].reshape(-1, 1, 1).astype(np.float32))

    def prepare(self, raw: np.ndarray, power: bool, hw: tuple[int, int]) -> np.ndarray:
        return transforms.preprocess(raw, bool(power), hw)

    def preprocessing(self, power: bool, hw: tuple[int, int], **source: Any) -> dict[str, Any]:
        return transforms.describe(bool(power), hw, **source)


SPECTROGRAM = GridModality("spectrogram")
CSI = GridModality("csi")
