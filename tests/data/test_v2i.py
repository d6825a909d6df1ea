"""The built-in V2I scene (wfm.data.synthetic.v2i) and the JEPA-MSAC sensor preprocessing (wfm.data.sensors)."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from wfm.data.sensors import beam_power_db, lidar_depth_image, range_angle_map, resize_image, rssi_db
from wfm.data.sequence import gps_to_local, load_sequence, local_to_gps
from wfm.data.synthetic.v2i import generate_v2i, write_v2i

SMALL = dict(frames_per_sequence=20, window=6, history=3, stride=3, image_hw=(8, 12), radar_bins=(8, 8),
             lidar_hw=(8, 32), num_beams=16, num_antennas=8, camera_supersample=1)
STARTS = len(range(0, 20 - 6 + 1, 3))  # windows per sequence


@pytest.fixture(scope="module")
def small():
    return generate_v2i(2, seed=3, **SMALL)


def _flat(d):
    return {f"{g}/{k}": v for g in ("inputs", "labels", "index") for k, v in d[g].items()}


def test_deterministic_per_seed_and_prefix_stable(small):
    again = generate_v2i(2, seed=3, **SMALL)
    a, b = _flat(small), _flat(again)
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]), k
    other = _flat(generate_v2i(2, seed=4, **SMALL))
    for k in ("inputs/image", "inputs/radar", "inputs/lidar", "inputs/gps", "inputs/beam_power"):
        assert not np.array_equal(a[k], other[k]), k
    longer = _flat(generate_v2i(3, seed=3, **SMALL))
    n = 2 * STARTS
    for k in a:
        assert np.array_equal(longer[k][:n], a[k]), k
    assert len(longer["index/sequence"]) == 3 * STARTS


def test_shapes_and_dtypes_follow_the_sequence_layout(small):
    n, t = 2 * STARTS, 6
    expect = {"image": (n, t, 3, 8, 12), "radar": (n, t, 1, 8, 8), "lidar": (n, t, 1, 8, 32), "gps": (n, t, 2),
              "beam_power": (n, t, 16)}
    assert small["inputs"].keys() == expect.keys()
    for k, shape in expect.items():
        x = small["inputs"][k]
        assert x.shape == shape and x.dtype == np.float32 and np.isfinite(x).all(), k
    img, lidar = small["inputs"]["image"], small["inputs"]["lidar"]
    assert img.min() >= 0 and img.max() <= 1
    assert lidar.min() > 0 and lidar.max() == 1.0  # sky / out of range is 1, everything else a normalised depth
    assert small["inputs"]["radar"].min() >= 0
    lab = small["labels"]
    assert lab["position"].shape == (n, t, 2) and lab["position"].dtype == np.float32
    assert lab["beam"].shape == (n, t) and lab["beam"].dtype == np.int64
    assert lab["beam_power"].shape == (n, t, 16) and lab["rssi"].shape == (n, t) and lab["rssi"].dtype == np.float32
    idx = small["index"]
    assert all(v.shape == (n,) and v.dtype == np.int64 for v in idx.values())
    assert np.array_equal(idx["sequence"], np.repeat([0, 1], STARTS))
    assert np.array_equal(idx["start"], np.tile(np.arange(0, 15, 3), 2))
    assert np.array_equal(idx["block"], idx["sequence"] % 4)  # the route id
    assert small["meta"]["los_blocked"].shape == (n, t)
    # windows reuse frames: window 1 starts 3 frames after window 0 of the same sequence
    assert np.array_equal(small["inputs"]["image"][1, :3], small["inputs"]["image"][0, 3:])


def test_labels_are_argmax_and_rssi_of_beam_power(small):
    bp = small["inputs"]["beam_power"]
    assert np.array_equal(small["labels"]["beam_power"], bp)
    assert np.array_equal(small["labels"]["beam"], np.argmax(bp, -1))
    assert np.array_equal(small["labels"]["rssi"], rssi_db(bp))
    # the UE drives past the BS: the best beam moves through several codebook entries in every sequence
    for s in (0, 1):
        assert len(np.unique(small["labels"]["beam"][small["index"]["sequence"] == s])) >= 3


def test_write_and_load_round_trip(tmp_path, small):
    path = write_v2i(tmp_path / "v2i.h5", num_sequences=2, seed=3, **SMALL)
    data = load_sequence(path, standardised=False)
    assert data.frames == 6 and data.history == 3 and data.num_beams == 16 and data.frame_rate_hz == 10.0
    assert data.source == "synthetic:v2i"
    for k, x in small["inputs"].items():
        assert np.array_equal(data.inputs[k], x), k
    for k, y in small["labels"].items():
        assert np.array_equal(data.labels[k], y), k
    for k, y in small["index"].items():
        assert np.array_equal(data.index[k], y), k
    pre = data.preprocessing
    assert pre["seed"] == 3 and pre["image_hw"] == [8, 12] and pre["gps_noise_m"] == 1.0
    assert {"image", "radar", "lidar", "gps", "beam_power"} <= set(pre)
    with h5py.File(path, "r") as f:
        assert json.loads(f.attrs["modalities"]) == ["image", "radar", "lidar", "gps", "beam_power"]
    std = load_sequence(path, modalities=("gps", "beam_power"))
    assert abs(float(std.inputs["gps"].mean())) < 1e-3 and abs(float(std.inputs["gps"].std()) - 1) < 1e-3


def test_options_are_checked():
    with pytest.raises(TypeError, match="unknown option"):
        generate_v2i(1, bogus=1, **SMALL)
    with pytest.raises(ValueError, match="history"):
        generate_v2i(1, **{**SMALL, "history": 6})


def test_eq11_round_trip():
    bs = (33.42, -111.93)
    p = np.random.default_rng(0).uniform(-300, 300, (100, 2))
    ll = local_to_gps(p, bs)
    assert np.abs(ll - np.array(bs)).max() < 0.01
    np.testing.assert_allclose(gps_to_local(ll, bs), p, rtol=0, atol=1e-6)


def test_gps_input_is_noisy_by_about_gps_noise_m():
    opts = {**SMALL, "frames_per_sequence": 40, "window": 40, "history": 8, "stride": 40}
    for sigma, bias in ((2.0, 0.0), (1.0, 0.5)):
        d = generate_v2i(3, seed=1, gps_noise_m=sigma, gps_bias_m=bias, **opts)
        err = d["inputs"]["gps"] - d["labels"]["position"]
        rms = float(np.sqrt(np.mean(err**2)))  # per axis
        expect = np.hypot(sigma, bias)
        assert 0.75 * expect < rms < 1.25 * expect, (sigma, bias, rms)
        assert abs(float(err.mean())) < 0.6 * expect
    clean = generate_v2i(1, seed=1, gps_noise_m=0.0, gps_bias_m=0.0, **opts)
    # only the 1e-7 deg rounding of the receiver's lat / lon remains (about 1 cm)
    assert np.abs(clean["inputs"]["gps"] - clean["labels"]["position"]).max() < 0.02


def test_lidar_depth_image_follows_eq_9_10():
    yaw, pitch = np.deg2rad(30.0), np.deg2rad(5.0)
    unit = np.array([np.cos(pitch) * np.cos(yaw), np.cos(pitch) * np.sin(yaw), np.sin(pitch)])
    pts = np.stack([20.0 * unit, 10.0 * unit, 30.0 * unit, 150.0 * -unit, np.zeros(3)])
    img = lidar_depth_image(pts, height=64, width=256, f_up_deg=15.0, f_down_deg=-15.0, d_max=100.0)
    assert img.shape == (1, 64, 256) and img.dtype == np.float32
    u = int(np.floor((30.0 + 180.0) / 360.0 * 256))  # eq. 9: 149
    v = int(np.floor((1 - (5.0 + 15.0) / 30.0) * 64))  # eq. 10: 21
    assert (u, v) == (149, 21)
    assert img[0, v, u] == pytest.approx(0.1)  # the nearest of the three points in that pixel
    mask = np.ones_like(img, bool)
    mask[0, v, u] = False
    assert np.all(img[mask] == 1.0)  # no other pixel has a return (the 150 m and the zero point are dropped)
    assert lidar_depth_image(pts[[2, 1, 0]])[0, v, u] == pytest.approx(0.1)  # order does not matter
    with pytest.raises(ValueError, match="N, 3"):
        lidar_depth_image(np.zeros((4, 2)))


def test_range_angle_map_peaks_at_the_scatterers_bins():
    n_rx, n_ch, n_adc, bins = 4, 16, 32, 64
    m, c, n = np.meshgrid(np.arange(n_rx), np.arange(n_ch), np.arange(n_adc), indexing="ij")
    nu, beat_bin, doppler = 0.125, 7, 0.3  # cycles per antenna, fast-time cycles per N_adc, cycles per chirp
    cube = np.exp(2j * np.pi * (nu * m + beat_bin * n / n_adc + doppler * c))
    ra = range_angle_map(cube, angle_bins=bins)
    assert ra.shape == (bins, n_adc // 2) and ra.dtype == np.float32
    assert np.unravel_index(ra.argmax(), ra.shape) == (bins // 2 + int(nu * bins), beat_bin)
    assert ra.max() == pytest.approx(n_rx * n_adc, rel=0.1)
    static = np.exp(2j * np.pi * (nu * m + beat_bin * n / n_adc))  # zero Doppler: static clutter
    assert range_angle_map(static, bins).max() < 1e-6 * n_rx * n_adc
    kept = range_angle_map(static, bins, range_bins=10, remove_static=False)
    assert kept.shape == (bins, 10) and np.unravel_index(kept.argmax(), kept.shape) == (bins // 2 + 8, beat_bin)
    with pytest.raises(ValueError, match="IF cube"):
        range_angle_map(np.zeros((4, 32), complex))


def test_beam_power_and_rssi_db():
    np.testing.assert_allclose(beam_power_db(np.array([1.0, 1e-3, 0.0])), [0.0, -30.0, -120.0], atol=1e-5)
    with pytest.raises(ValueError, match=">= 0"):
        beam_power_db(np.array([1.0, -1e-9]))
    with pytest.raises(ValueError, match="non-finite"):
        beam_power_db(np.array([np.nan]))
    p = np.array([[-60.0, -60.0, -60.0, -60.0], [-50.0, -200.0, -200.0, -200.0]])
    np.testing.assert_allclose(rssi_db(p), [-60.0, -50.0 - 10 * np.log10(4)], atol=1e-4)
    low = rssi_db(np.full((2, 3), -4000.0), axis=0)  # 10^-400: a naive power-domain mean underflows
    assert low.shape == (3,) and np.all(low == -4000.0)


def test_resize_image():
    rgb = np.zeros((40, 60, 3), np.uint8)
    rgb[..., 0] = 255
    out = resize_image(rgb, 10, 12)
    assert out.shape == (3, 10, 12) and out.dtype == np.float32
    np.testing.assert_allclose(out[0], 1.0)
    np.testing.assert_allclose(out[1:], 0.0)
    ramp = np.repeat(np.linspace(0, 1, 8)[None, :, None], 3, 2).repeat(4, 0)  # (4, 8, 3), x ramp
    half = resize_image(ramp, 4, 4)  # align_corners=False: output pixel j averages input pixels 2j, 2j + 1
    np.testing.assert_allclose(half[0, 0], (ramp[0, 0::2, 0] + ramp[0, 1::2, 0]) / 2, atol=1e-6)
    with pytest.raises(ValueError, match="H, W, 3"):
        resize_image(np.zeros((4, 4)), 2, 2)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        resize_image(np.full((4, 4, 3), 2.0), 2, 2)
