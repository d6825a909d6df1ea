"""Tests of the synthetic multi-antenna IQ datasets: shapes, determinism, label balance and the signal physics."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from wfm.data.synthetic import iq

T = 256  # short captures keep the file fast

GENERATORS: dict[str, tuple[Callable, dict, int]] = {  # name -> (generator, options, expected A)
    "iq": (iq.generate_iq, {"antennas": (1, 2, 4)}, 4),
    "rffp": (iq.generate_rffp, {"antennas": 3}, 3),
    "interference": (iq.generate_interference, {"antennas": 2}, 2),
}
LABEL_KEYS = {"iq": {"antennas"}, "rffp": {"tx"}, "interference": {"interference", "present"}}


def _complex(x: np.ndarray) -> np.ndarray:
    return x[:, :, 0].astype(np.float64) + 1j * x[:, :, 1]


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_shapes_dtypes_chunks_and_seed(name: str) -> None:
    gen, opts, n_ant = GENERATORS[name]
    x, labels = gen(0, 12, seed=3, n_samples=T, **opts)
    assert x.shape == (12, n_ant, 2, T) and x.dtype == np.float32 and np.isfinite(x).all()
    assert set(labels) == LABEL_KEYS[name]
    for v in labels.values():
        assert v.dtype == np.int64 and v.shape == (12,)
    # chunks [0, 5) + [5, 12) reproduce [0, 12) exactly; the same call is reproducible; the seed matters
    a, la = gen(0, 5, seed=3, n_samples=T, **opts)
    b, lb = gen(5, 12, seed=3, n_samples=T, **opts)
    np.testing.assert_array_equal(np.concatenate([a, b]), x)
    for key in labels:
        np.testing.assert_array_equal(np.concatenate([la[key], lb[key]]), labels[key])
    np.testing.assert_array_equal(gen(0, 12, seed=3, n_samples=T, **opts)[0], x)
    assert not np.array_equal(gen(0, 12, seed=4, n_samples=T, **opts)[0], x)
    # empty ranges keep the layout
    e, le = gen(7, 7, seed=3, n_samples=T, **opts)
    assert e.shape == (0, n_ant, 2, T) and e.dtype == np.float32
    assert all(v.shape == (0,) and v.dtype == np.int64 for v in le.values())


def test_default_length_is_1024() -> None:
    for gen in (iq.generate_iq, iq.generate_rffp, iq.generate_interference):
        assert gen(0, 1)[0].shape[-1] == 1024


def test_steering_vectors() -> None:
    np.testing.assert_allclose(iq.steering(4, 0.0), np.ones(4))
    # broadside 30°: sin θ = 1/2, a phase step of π/2 per element
    np.testing.assert_allclose(iq.steering(3, np.pi / 6), np.exp(0.5j * np.pi * np.arange(3)), atol=1e-12)
    assert iq.steering(8, np.zeros(5)).shape == (5, 8)


def test_iq_antenna_counts_and_zero_padding() -> None:
    x, labels = iq.generate_iq(0, 24, seed=1, n_samples=T, antennas=(1, 2, 4))
    count = labels["antennas"]
    assert set(count.tolist()) <= {1, 2, 4} and len(set(count.tolist())) > 1
    power = (x.astype(np.float64) ** 2).sum(2).mean(-1)  # (n, A)
    for p, a in zip(power, count, strict=True):
        assert (p[:a] > 0.5).all()  # noise alone is unit power per real antenna
        assert (p[a:] == 0).all()
    x, labels = iq.generate_iq(0, 3, n_samples=T, antennas=2)
    assert x.shape[1] == 2 and (labels["antennas"] == 2).all()


def test_iq_array_signal_is_low_rank_over_unit_noise() -> None:
    # one emitter over <= 3 paths seen by 4 antennas: the spatial covariance has rank <= 3 plus unit-power
    # white noise, so its smallest eigenvalue is the noise power (~1) however strong the emitter is
    x, _ = iq.generate_iq(0, 10, seed=2, n_samples=T, antennas=(4,), snr_db=(30.0, 30.0), max_emitters=1)
    for y in _complex(x):
        ev = np.linalg.eigvalsh(y @ y.conj().T / T)
        assert 0.6 < ev[0] < 1.5
        assert ev[-1] > 300  # 4 antennas x SNR 1000, shared among at most 3 paths


def test_rffp_labels_balanced_and_population_fixed() -> None:
    _, labels = iq.generate_rffp(0, 19, n_samples=T, n_tx=4)
    np.testing.assert_array_equal(labels["tx"], np.arange(19) % 4)
    counts = np.bincount(labels["tx"], minlength=4)
    assert counts.max() - counts.min() <= 1
    imp = iq.transmitter_impairments(5, 2)
    assert imp == iq.transmitter_impairments(5, 2)
    assert imp != iq.transmitter_impairments(5, 3) and imp != iq.transmitter_impairments(6, 2)
    assert 0.5 <= abs(imp["iq_gain_db"]) <= 1.5 and abs(imp["iq_phase_deg"]) <= 5.0
    # transmitter k does not depend on the population size: sample 3 is tx 3 for n_tx = 4 and 8
    a, la = iq.generate_rffp(3, 4, seed=5, n_samples=T, n_tx=4)
    b, lb = iq.generate_rffp(3, 4, seed=5, n_samples=T, n_tx=8)
    assert la["tx"][0] == lb["tx"][0] == 3
    np.testing.assert_array_equal(a, b)


def test_rffp_impairment_models() -> None:
    # IQ gain imbalance g (no phase error) puts an image of a tone at -f with power ((1-g)/(1+g))^2
    n, k = 1024, 100
    tone = np.exp(2j * np.pi * k * np.arange(n) / n)
    spec = np.abs(np.fft.fft(iq._iq_imbalance(tone, 1.0, 0.0))) ** 2
    g = 10 ** (1.0 / 20)
    np.testing.assert_allclose(spec[n - k] / spec[k], ((1 - g) / (1 + g)) ** 2, rtol=1e-6)
    # a phase error alone also creates an image; a perfect modulator none
    assert np.abs(np.fft.fft(iq._iq_imbalance(tone, 0.0, 3.0)))[n - k] > 1.0
    np.testing.assert_allclose(iq._iq_imbalance(tone, 0.0, 0.0), tone)
    # Rapp PA: linear at small amplitude, never above saturation, AM/PM grows with amplitude
    r = np.array([1e-3, 0.5, 1.0, 3.0, 30.0])
    out = iq._rapp(r.astype(np.complex128), sat=1.5, p=2.0, phase_deg=10.0)
    np.testing.assert_allclose(np.abs(out[0]), 1e-3, rtol=1e-6)
    assert (np.abs(out) < 1.5).all() and (np.diff(np.abs(out)) > 0).all()
    assert (np.diff(np.angle(out)) > 0).all() and np.angle(out[-1]) < np.deg2rad(10.0)


def test_interference_labels_and_tone_physics() -> None:
    x, labels = iq.generate_interference(0, 40, seed=1, n_samples=T, antennas=2, sir_db=(0.0, 5.0))
    cls = labels["interference"]
    np.testing.assert_array_equal(cls, np.arange(40) % len(iq.INTERFERENCE_CLASSES))
    np.testing.assert_array_equal(labels["present"], (cls != 0).astype(np.int64))
    assert iq.INTERFERENCE_CLASSES == ("none", "dsss", "tone", "chirp", "noise")
    # a CW interferer (SIR <= 5 dB: >= 30 % of the signal power) concentrates its power in one or two FFT bins
    # while OFDM spreads its power over the band: the spectral peak-to-mean ratio separates the two. Compared
    # by medians: a CW through multipath sometimes lands in a deep frequency-selective fade, as it should
    win = np.hanning(T)
    psd = (np.abs(np.fft.fft(_complex(x) * win, axis=-1)) ** 2).sum(1)  # summed over antennas
    ratio = psd.max(-1) / psd.mean(-1)
    tone = ratio[cls == iq.INTERFERENCE_CLASSES.index("tone")]
    clean = ratio[cls == 0]
    assert np.median(tone) > 2.5 * np.median(clean), (tone, clean)


def test_bad_arguments() -> None:
    for gen in (iq.generate_iq, iq.generate_rffp, iq.generate_interference):
        with pytest.raises(ValueError, match="start"):
            gen(4, 2)
        with pytest.raises(ValueError, match="seed"):
            gen(0, 1, seed=-1)
        with pytest.raises(ValueError, match="n_samples"):
            gen(0, 1, n_samples=8)
        with pytest.raises(ValueError, match="antennas"):
            gen(0, 1, antennas=0)
        with pytest.raises(ValueError, match="snr_db"):
            gen(0, 1, snr_db=(10.0, 0.0))
    with pytest.raises(ValueError, match="antennas"):
        iq.generate_iq(0, 1, antennas=())
    with pytest.raises(ValueError, match="antennas"):
        iq.generate_iq(0, 1, antennas=(2, 1.5))
    with pytest.raises(ValueError, match="max_emitters"):
        iq.generate_iq(0, 1, max_emitters=0)
    with pytest.raises(ValueError, match="n_tx"):
        iq.generate_rffp(0, 1, n_tx=0)
    with pytest.raises(ValueError, match="sir_db"):
        iq.generate_interference(0, 1, sir_db=(5.0, -5.0))
    with pytest.raises(ValueError, match="seed"):
        iq.transmitter_impairments(-1, 0)
    assert iq.rffp_class_names(3) == ("tx0", "tx1", "tx2")


def test_rffp_preamble_payload() -> None:
    """payload="preamble": every capture carries the same known burst (fixed by the seed), so two captures of
    one transmitter differ only by channel, phase, CFO jitter and noise; the draw stays a function of (seed, i)."""
    a, la = iq.generate_rffp(0, 6, seed=3, n_samples=T, n_tx=4, payload="preamble")
    b, lb = iq.generate_rffp(2, 4, seed=3, n_samples=T, n_tx=4, payload="preamble")
    np.testing.assert_array_equal(a[2:4], b)
    np.testing.assert_array_equal(la["tx"][2:4], lb["tx"])
    r, _ = iq.generate_rffp(0, 6, seed=3, n_samples=T, n_tx=4)
    assert not np.allclose(a, r)
    assert iq._rffp_preamble(3, 64).shape == (64,)
    np.testing.assert_array_equal(iq._rffp_preamble(3, 64), iq._rffp_preamble(3, 64))
    assert not np.allclose(iq._rffp_preamble(3, 64), iq._rffp_preamble(4, 64))
    with pytest.raises(ValueError, match="payload must be 'random' or 'preamble'"):
        iq.generate_rffp(0, 1, payload="zeros")
