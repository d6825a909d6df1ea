"""Band masking (the paper's frequency and time masks): ``M`` non-overlapping bands across one grid axis."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from wfm.views.masks import MaskGeometry


class BandMask(MaskGeometry):
    """``M`` non-overlapping bands of ``band_fraction`` of one axis each (at least one row/column), uniformly
    over all placements, spanning the whole other axis; the context block is the whole grid by default, which
    reproduces the paper's effective mask ratios M/7 on the 7 x 7 grid (Table III).

    Args:
        num_targets: ``M``.
        band_fraction: share of the banded axis covered by one band.
        context_scale, min_context: as :class:`~wfm.views.masks.MaskGeometry`.
    """

    #: the banded grid axis: 0 (rows, frequency) or 1 (columns, time)
    axis = 0

    def __init__(self, num_targets: int = 4, band_fraction: float = 1 / 7,
                 context_scale: Sequence[float] | None = None, min_context: int = 10) -> None:
        super().__init__(num_targets, context_scale, min_context)
        if not 0 < band_fraction <= 1:
            raise ValueError(f"masking band_fraction must be in (0, 1], got {band_fraction}")
        self.band_fraction = float(band_fraction)

    def band_width(self, length: int) -> int:
        return max(1, round(self.band_fraction * length))

    def check_grid(self, gh: int, gw: int) -> None:
        length = (gh, gw)[self.axis]
        width = self.band_width(length)
        if self.num_targets * width > length:
            raise ValueError(
                f"{self.name} masking: {self.num_targets} bands of {width} don't fit on an axis of {length} "
                f"grid positions (grid {gh}x{gw}); lower num_targets or band_fraction"
            )

    def targets(self, b: int, gh: int, gw: int, rng: np.random.Generator) -> np.ndarray:
        m = self.num_targets
        length = (gh, gw)[self.axis]
        start, stop = self.bands(b, length, rng)  # (B, M) each
        pos = np.arange(length)
        on = (pos >= start[..., None]) & (pos < stop[..., None])  # (B, M, length)
        band = on[..., :, None] if self.axis == 0 else on[..., None, :]
        return np.broadcast_to(band, (b, m, gh, gw)).copy()

    def bands(self, b: int, length: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """M non-overlapping runs of the band width per sample, uniformly over all placements: (start, stop)
        (B, M)."""
        width = self.band_width(length)
        m = self.num_targets
        free = length - m * width  # positions left over once the bands are placed
        # stars and bars: which m of the free + m slots hold a band, uniformly (first m of a random order)
        cuts = np.sort(np.argsort(rng.random((b, free + m)), axis=1)[:, :m], axis=1)
        starts = cuts - np.arange(m) + np.arange(m) * width
        # targets in random order, not sorted by position
        starts = np.take_along_axis(starts, np.argsort(rng.random((b, m)), axis=1), axis=1)
        return starts, starts + width


class FrequencyMask(BandMask):
    """Frequency masking: bands of rows (sub-bands), each over the whole time axis."""

    name = "frequency"
    axis = 0


class TimeMask(BandMask):
    """Time masking: bands of columns (time spans), each over the whole frequency axis; on the ``1 x S`` grid
    of IQ segments, spans of segments on every antenna."""

    name = "time"
    axis = 1
