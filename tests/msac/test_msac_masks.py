"""Temporal block masks: one contiguous run of floor(rho T) frames per modality; random and checkerboard patterns with
the same count; token indices that partition the sequence."""

from __future__ import annotations

import numpy as np
import pytest

from wfm.views.temporal import frame_mask, masked_frames, token_masks


@pytest.mark.parametrize("ratio", [0.25, 0.5, 0.75])
def test_temporal_masks_are_one_contiguous_run_of_exact_length(ratio: float) -> None:
    m = frame_mask(64, 13, 5, ratio, np.random.default_rng(0), "temporal")
    k = int(np.floor(ratio * 13))
    assert (m.sum(1) == k).all()
    for b in range(64):
        for j in range(5):
            idx = np.flatnonzero(m[b, :, j])
            assert (np.diff(idx) == 1).all()
    # modalities independent: not every sample masks the same frames in all modalities
    assert any(not (m[b] == m[b, :, :1]).all() for b in range(64))


def test_random_and_checkerboard_mask_the_same_count() -> None:
    rng = np.random.default_rng(1)
    r = frame_mask(32, 13, 5, 0.5, rng, "random")
    c = frame_mask(32, 13, 5, 0.5, rng, "checkerboard")
    assert (r.sum(1) == 6).all() and (c.sum(1) == 6).all()
    assert any((np.diff(np.flatnonzero(r[b, :, 0])) > 1).any() for b in range(32))
    # checkerboard: masked frames of one modality never adjacent; neighbouring modalities alternate
    for b in range(32):
        idx = np.flatnonzero(c[b, :, 0])
        assert (np.diff(idx) == 2).all()
        assert not (c[b, :12, 0] & c[b, :12, 1]).any()


def test_token_masks_partition_a_time_major_sequence() -> None:
    m = frame_mask(4, 5, 3, 0.4, np.random.default_rng(2), "temporal")
    keep, masked = token_masks(m, [2, 1, 3])
    assert keep.shape == (4, 5 * 6 - 2 * 6) and masked.shape == (4, 2 * 6)
    for b in range(4):
        assert sorted(keep[b].tolist() + masked[b].tolist()) == list(range(30))
        # token 6 * t + 2 + 0 is modality 1 of frame t
        for t in range(5):
            assert (6 * t + 2 in masked[b].tolist()) == bool(m[b, t, 1])


def test_mask_ratio_that_masks_nothing_or_everything_is_refused() -> None:
    with pytest.raises(ValueError, match="masks 0 of 13 frames"):
        masked_frames(13, 0.05)
    with pytest.raises(ValueError, match="pattern"):
        frame_mask(1, 13, 1, 0.5, np.random.default_rng(0), "diagonal")  # type: ignore[arg-type]
