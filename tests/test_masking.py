"""Mask geometries on the (frequency x time) grid, the paper's Table III mask ratios, and termination."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from wfm.views import FrequencyMask, MaskGeometry, MixedMask, RandomMask, RegionMask, TimeMask, mask_to_indices

GRID = (7, 7)
GEOMETRIES = {"region": RegionMask, "frequency": FrequencyMask, "time": TimeMask, "random": RandomMask,
              "mixed": MixedMask}


def geometry(strategy: str, num_targets: int = 4, **kw) -> MaskGeometry:
    """A geometry by its name, as a config names it by class_path (random masking has one target)."""
    if strategy not in GEOMETRIES:
        raise ValueError(f"masking strategy must be one of {tuple(GEOMETRIES)}, got {strategy!r}")
    return GEOMETRIES[strategy](**kw) if strategy == "random" else GEOMETRIES[strategy](num_targets, **kw)


def draw(strategy: str, m: int = 4, b: int = 64, seed: int = 0, grid=GRID, **kw):
    gen = geometry(strategy, num_targets=m, **kw)
    gen.check(grid)
    return gen(b, grid, np.random.default_rng(seed))


@pytest.mark.parametrize("strategy", ["region", "frequency", "time", "random", "mixed"])
def test_context_and_targets_are_disjoint_and_context_is_large_enough(strategy: str) -> None:
    for m in range(2, 7):
        masks = draw(strategy, m)
        assert not (masks.context[:, None] & masks.targets).any()
        assert (masks.context.sum(-1) >= 10).all()
        assert masks.targets.any(-1).any(-1).all()  # every sample has something to predict


def test_frequency_bands_span_all_time_columns_and_time_bands_all_rows() -> None:
    freq = draw("frequency", 3).targets.view(64, 3, 7, 7)
    rows = freq.any(-1)  # (B, M, 7) rows touched by each band
    assert (freq.sum(-1)[rows] == 7).all()  # a touched row is covered over the whole time axis
    time = draw("time", 3).targets.view(64, 3, 7, 7)
    cols = time.any(-2)
    assert (time.sum(-2)[cols] == 7).all()


def test_paper_table_iii_effective_mask_ratios() -> None:
    # Table III: M = 2..6 -> 29, 43, 57, 71, 80 % for frequency and time; random 75 %
    expected = {2: 29, 3: 43, 4: 57, 5: 71, 6: 80}
    for strategy in ("frequency", "time"):
        for m, pct in expected.items():
            ratio = draw(strategy, m, b=500).mask_ratio().mean().item() * 100
            assert round(ratio) == pct, (strategy, m, ratio)
    ratio = draw("random", b=500).mask_ratio().mean().item() * 100
    assert abs(ratio - 75) < 1


@pytest.mark.parametrize("grid", [(1, 64), (4, 16), (7, 14), (14, 7)])
def test_band_masks_hide_only_their_bands_on_non_square_grids(grid) -> None:
    """With the full-grid context block (scale 1) the context is every position no band covers, whatever the
    grid's shape: on the 1 x 64 IQ segment grid, 4 bands of 1/8 hide exactly half of it."""
    for strategy in ("frequency", "time"):
        if strategy == "frequency" and grid[0] < 4:
            continue
        masks = draw(strategy, 4, b=200, grid=grid, band_fraction=1 / 8, min_context=4)
        torch.testing.assert_close(masks.context, ~masks.targets.any(1))
    ratio = draw("time", 4, b=200, grid=(1, 64), band_fraction=1 / 8, min_context=10).mask_ratio()
    assert torch.allclose(ratio, torch.full_like(ratio, 0.5))


def test_every_grid_position_can_be_masked() -> None:
    # the I-JEPA reference never reaches the last row/column; here every position is a target sometimes
    for strategy in ("region", "frequency", "time", "random"):
        masks = draw(strategy, 2, b=400)
        assert masks.targets.any(1).any(0).all(), strategy


def test_sampling_terminates_on_tiny_grids_and_is_reproducible() -> None:
    gen = RegionMask(num_targets=6, target_scale=(0.9, 1.0), min_context=3)
    gen.check((2, 2))
    a = gen(32, (2, 2), np.random.default_rng(1))
    b = gen(32, (2, 2), np.random.default_rng(1))
    assert (a.context.sum(-1) >= 3).all()
    assert torch.equal(a.context, b.context) and torch.equal(a.targets, b.targets)


def test_mixed_draws_one_geometry_per_batch() -> None:
    seen = {draw("mixed", 2, b=4, seed=s).strategy for s in range(40)}
    assert seen == {"region", "frequency", "time", "random"}


@pytest.mark.parametrize(
    "kwargs, grid, match",
    [
        (dict(strategy="frequency", num_targets=8), GRID, "don't fit"),
        (dict(strategy="region", min_context=49), GRID, "leaves nothing to predict"),
        (dict(strategy="region", target_scale=(0.2, 1.5)), GRID, "target_scale"),
        (dict(strategy="diagonal"), GRID, "strategy must be one of"),
        (dict(strategy="random", ratio=1.0), GRID, "ratio must be in"),
    ],
)
def test_impossible_parameters_fail_clearly(kwargs: dict, grid, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        geometry(**kwargs).check(grid)


def test_mask_to_indices_round_trip() -> None:
    mask = torch.tensor([[True, False, True, False], [False, False, False, True]])
    idx, valid = mask_to_indices(mask)
    assert idx.tolist() == [[0, 2], [3, 0]]
    assert valid.tolist() == [[True, True], [True, False]]
