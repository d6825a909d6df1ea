"""Tests of the built-in synthetic corpus: determinism, shapes, label balance and the channel physics."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from wfm.data.synthetic import BUILTIN, describe, generate, tr38901
from wfm.data.synthetic import csi_scene as cs
from wfm.data.synthetic import spectrogram as sp


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_shapes_dtypes_and_chunk_consistency(name: str) -> None:
    spec = BUILTIN[name]
    if getattr(spec.generator, "func", None) is tr38901.generate:
        pytest.importorskip("sionna.phy", reason="the optional extra: pip install -e '.[sionna]'")
    x, labels = generate(name, 3, 15, seed=1)
    assert x.shape == (12, spec.channels, *spec.raw_shape) and x.dtype == np.float32
    assert np.isfinite(x).all()
    if spec.power or spec.modality == "csi" and name in ("positioning", "csi", "csi2"):
        assert (x >= 0).all()
    assert set(labels) == set(spec.labels)
    for key, kind in spec.labels.items():
        if kind == "classification":
            assert labels[key].dtype == np.int64 and labels[key].shape == (12,)
            assert labels[key].min() >= 0 and labels[key].max() < len(spec.class_names[key])
        else:
            assert labels[key].dtype == np.float32 and labels[key].shape[0] == 12
    # chunks [3, 7) + [7, 15) must reproduce [3, 15) exactly, and the seed must matter
    a, la = generate(name, 3, 7, seed=1)
    b, lb = generate(name, 7, 15, seed=1)
    np.testing.assert_array_equal(np.concatenate([a, b]), x)
    for key in labels:
        np.testing.assert_array_equal(np.concatenate([la[key], lb[key]]), labels[key])
    again, _ = generate(name, 3, 15, seed=1)
    np.testing.assert_array_equal(again, x)
    other, _ = generate(name, 3, 15, seed=2)
    assert not np.array_equal(other, x)


def test_empty_range_and_bad_arguments() -> None:
    x, labels = generate("beam", 5, 5)
    assert x.shape == (0, 2, 16, 64) and labels["beam"].shape == (0,)
    x, _ = generate("rfs", 0, 0)
    assert x.shape == (0, 1, 64, 64)
    with pytest.raises(ValueError, match="unknown synthetic dataset"):
        generate("nope", 0, 1)
    with pytest.raises(ValueError, match="unknown option"):
        generate("rfs", 0, 1, n_beams=4)
    with pytest.raises(ValueError, match="start"):
        generate("csi", 4, 2)
    with pytest.raises(ValueError, match="serving_bs"):
        generate("los", 0, 1, serving_bs=9)


def test_options_change_shapes() -> None:
    x, _ = generate("rfs", 0, 2, n_freq=32, n_time=48)
    assert x.shape == (2, 1, 32, 48)
    assert describe("rfs", n_freq=32, n_time=48).raw_shape == (32, 48)
    _, lab = generate("beam", 0, 4, n_beams=64)
    assert lab["beam"].max() < 64 and len(describe("beam", n_beams=64).class_names["beam"]) == 64


def test_rfs_classes_balanced() -> None:
    k = len(sp.CLASS_NAMES)
    _, labels = generate("rfs", 0, 3 * k + 2)
    counts = np.bincount(labels["label"], minlength=k)
    assert counts.min() >= 3 and counts.max() - counts.min() <= 1


def test_spectrogram_matches_scipy_stft_layout() -> None:
    # a pure tone must land in the row fftshift puts it in: DC at row F/2, +f above it
    n = sp.n_samples(64, 64)
    tone = np.exp(2j * np.pi * (8 / 64) * np.arange(n))[None]
    s = sp.power_spectrogram(tone, 64, 64)
    assert s.shape == (1, 64, 64)
    assert (s[0].argmax(0) == 32 + 8).all()


def test_los_fraction_in_range() -> None:
    _, labels = generate("los", 0, 400)
    assert 0.4 <= labels["los"].mean() <= 0.6
    # the scene is constructed for it, whatever the seed
    for seed in (1, 2):
        scene = cs.build_scene(seed, 0)
        grid = cs._free_grid(scene.config, 2.0)
        free = grid[~cs.inside_blockers(grid, scene.blockers)]
        assert 0.4 <= cs.los_map(scene, free).mean() <= 0.6


def test_segment_rectangle_intersection() -> None:
    rect = np.array([[2.0, 2.0, 4.0, 4.0]])
    p0 = np.array([[0.0, 3.0], [0.0, 0.0], [0.0, 5.0], [3.0, 0.0], [0.0, 0.0], [3.0, 3.0]])
    p1 = np.array([[6.0, 3.0], [1.9, 1.9], [6.0, 5.0], [3.0, 6.0], [6.0, 6.0], [3.5, 3.5]])
    np.testing.assert_array_equal(cs.segment_hits(p0, p1, rect), [1, 0, 0, 1, 1, 1])


def _one_bs_scene(**overrides: object) -> cs.Scene:
    cfg = dataclasses.replace(cs.SceneConfig(), n_bs=1, n_scatterers=0, **overrides)
    return cs.Scene(cfg, np.array([[10.0, 20.0, 5.0]]), np.array([[1.0, 0.0, 0.0]]),
                    np.array([[0.0, 1.0, 0.0]]), np.zeros((0, 4)), np.zeros((0, 3)), np.zeros(0),
                    np.full(4, -0.5 + 0j), -0.5 + 0j)


def test_image_method_wall_reflection() -> None:
    scene = _one_bs_scene()
    ue = np.array([[30.0, 40.0, 1.5]])
    p = cs.paths(scene, ue)
    # wall x = 0: the BS at (10, 20, 5) mirrors to (-10, 20, 5); |ue - image| = sqrt(40² + 20² + 3.5²)
    np.testing.assert_allclose(p["delay"][0, 0, 2] * cs.C0, np.sqrt(40**2 + 20**2 + 3.5**2))
    np.testing.assert_allclose(cs.mirror(scene.bs_pos[0], 0, scene.config.size), [-10.0, 20.0, 5.0])
    # wall y = Y = 60: image at (10, 100, 5)
    np.testing.assert_allclose(p["delay"][0, 0, 5] * cs.C0, np.sqrt(20**2 + 60**2 + 3.5**2))
    # LoS and ground reflection
    np.testing.assert_allclose(p["delay"][0, 0, 0] * cs.C0, np.sqrt(20**2 + 20**2 + 3.5**2))
    np.testing.assert_allclose(p["delay"][0, 0, 1] * cs.C0, np.sqrt(20**2 + 20**2 + 6.5**2))
    # free-space amplitude of the unobstructed LoS (front of the array, so no element loss)
    d = np.sqrt(20**2 + 20**2 + 3.5**2)
    np.testing.assert_allclose(abs(p["gain"][0, 0, 0]), scene.config.wavelength / (4 * np.pi * d))
    # departure toward the wall x=0 has a negative component along the array axis (+x)
    assert p["u"][0, 0, 2] < 0 and p["u"][0, 0, 3] > 0


def test_blocked_los_is_attenuated() -> None:
    scene = dataclasses.replace(_one_bs_scene(), blockers=np.array([[18.0, 28.0, 22.0, 32.0]]))
    p = cs.paths(scene, np.array([[30.0, 40.0, 1.5], [40.0, 20.0, 1.5]]))
    assert not p["los"][0, 0] and p["los"][1, 0]
    free = cs.paths(_one_bs_scene(), np.array([[30.0, 40.0, 1.5]]))
    ratio_db = 20 * np.log10(abs(free["gain"][0, 0, 0]) / abs(p["gain"][0, 0, 0]))
    np.testing.assert_allclose(ratio_db, scene.config.penetration_db)


@pytest.mark.parametrize("n_beams", [16, 32, 64])
def test_dft_codebook_recovers_single_path_angle(n_beams: int) -> None:
    m, k = 16, 8
    cb = cs.dft_codebook(m, n_beams)
    np.testing.assert_allclose(np.linalg.norm(cb, axis=1), 1.0)
    grid = -1.0 + 2.0 * np.arange(n_beams) / n_beams
    # a single path exactly on every codebook direction, with a random delay across subcarriers,
    # plus a small perturbation (less than half a grid step) that must not change the answer
    rng = np.random.default_rng(0)
    for shift in (0.0, 0.4 / n_beams, -0.4 / n_beams):
        u = grid + shift
        a = np.exp(1j * np.pi * np.outer(u, np.arange(m)))  # (B, M)
        h = a[:, :, None] * np.exp(-2j * np.pi * rng.random((n_beams, 1, 1)) * np.arange(k))
        np.testing.assert_array_equal(cs.best_beam(h, cb), np.arange(n_beams))


@pytest.mark.parametrize("n_beams", [16, 32])
def test_every_beam_reachable_in_scene(n_beams: int) -> None:
    # cheap: only the serving BS, a few subcarriers, users on a 1 m grid of the free area
    scene = cs.build_scene(0, 0)
    cfg = dataclasses.replace(scene.config, n_bs=1, n_sc=4)
    one = dataclasses.replace(scene, config=cfg, bs_pos=scene.bs_pos[:1], bs_axis=scene.bs_axis[:1],
                              bs_normal=scene.bs_normal[:1])
    grid = cs._free_grid(cfg, 1.0)
    grid = grid[~cs.inside_blockers(grid, scene.blockers)]
    h, _ = cs.channel(one, np.c_[grid, np.full(len(grid), cfg.ue_height)])
    beams = cs.best_beam(h[:, 0], cs.dft_codebook(cfg.n_ant, n_beams))
    assert np.bincount(beams, minlength=n_beams).min() > 0


def test_positions_inside_area_and_outside_blockers() -> None:
    _, labels = generate("positioning", 0, 200)
    pos = labels["position"]
    scene = cs.build_scene(0, 0)
    assert pos.shape == (200, 3)
    assert (pos[:, :2] >= 0).all() and (pos[:, 0] <= 60).all() and (pos[:, 1] <= 60).all()
    np.testing.assert_allclose(pos[:, 2], 1.5)
    assert not cs.inside_blockers(pos[:, :2].astype(np.float64), scene.blockers).any()


def test_beam_input_normalised() -> None:
    x, _ = generate("beam", 0, 6)
    np.testing.assert_allclose((x**2).sum(1).mean(axis=(1, 2)), 1.0, rtol=1e-5)


def test_scene_overrides_keep_the_layout_and_change_only_what_they_name() -> None:
    light = cs.build_scene(0, 0, {"penetration_db": 6.0})
    heavy = cs.build_scene(0, 0)
    np.testing.assert_array_equal(light.blockers, heavy.blockers)  # same buildings, hence the same LoS labels
    assert light.config.penetration_db == 6.0 and heavy.config.penetration_db == 25.0
    _, _, _, los_light = cs.sample("los", 0, 40, 0, scene={"penetration_db": 6.0})
    _, _, _, los_heavy = cs.sample("los", 0, 40, 0)
    np.testing.assert_array_equal(los_light, los_heavy)
    with pytest.raises(ValueError, match="unknown scene option"):
        cs.build_scene(0, 0, {"penetraton_db": 6.0})
    # the calibrated LoS task differs from the scene's defaults (docs/datasets_synthetic.md, "Calibration")
    x_default, y_default = generate("los", 0, 8)
    x_heavy, y_heavy = generate("los", 0, 8, snr_db=20.0, scene={"penetration_db": 25.0})
    np.testing.assert_array_equal(y_default["los"], y_heavy["los"])
    assert not np.allclose(x_default, x_heavy)


def test_single_bs_real_imag_pretraining_sets() -> None:
    for name, n_bs in (("csi_ri", 4), ("csi2_ri", 5)):
        bs = cs.pick_bs(name, 0, 400, 0, n_bs)
        assert set(bs.tolist()) == set(range(n_bs))  # every base station appears
        np.testing.assert_array_equal(cs.pick_bs(name, 100, 200, 0, n_bs), bs[100:200])
        x, labels = generate(name, 0, 6)
        assert labels == {} and x.shape[1] == 2
        np.testing.assert_allclose((x**2).sum(1).mean((1, 2)), 1.0, rtol=1e-4)  # unit mean power per sample
    raw, _ = generate("beam", 0, 4, unit_power=False)
    assert not np.allclose((raw**2).sum(1).mean((1, 2)), 1.0)


def test_snr_range_draws_one_snr_per_sample_and_keeps_users_and_noise() -> None:
    ue_a, h_a, y_a, _ = cs.sample("csi", 0, 30, 0, snr_db=(-5.0, 25.0))
    ue_b, h_b, y_b, _ = cs.sample("csi", 0, 30, 0, snr_db=10.0)
    np.testing.assert_array_equal(ue_a, ue_b)  # same users ...
    np.testing.assert_allclose(y_a - h_a, y_b - h_b, atol=1e-5)  # ... and the same noise
    gain = np.sqrt((np.abs(h_a) ** 2).mean((1, 2, 3)) / (np.abs(h_b) ** 2).mean((1, 2, 3)))
    snr = 10.0 + 20 * np.log10(gain)  # each sample's own SNR, read back from the channel's scale
    assert -5.0 <= snr.min() < 0.0 and 20.0 < snr.max() <= 25.0
    with pytest.raises(ValueError, match="snr_db must be a number or"):
        cs.sample("csi", 0, 2, 0, snr_db=(5.0, 1.0))
