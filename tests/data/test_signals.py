"""Tests of the radio-signal corpus (:mod:`wfm.data.synthetic.signals`): the catalogue, each family's waveform
physics (constellations through the matched filter, OFDM cyclic prefix and occupancy, FSK tones, MSK phase,
chirp sweeps), each impairment moving the statistic it should, the SNR, determinism, the two views, the
wideband boxes, the registry entries and option errors."""

from __future__ import annotations

import json
from typing import Any

import h5py
import numpy as np
import pytest
from scipy import fft as sfft
from scipy import signal as ss

from wfm.data.synthetic import signals as S

N_CLASSES = len(S.CLASSES)
ISSUE_FAMILIES = ("psk", "qam", "apsk", "pam", "fsk", "cpm", "ofdm", "am", "fm", "chirp", "fhss", "tone", "noise")


def _off(**on: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every impairment off, then those in ``on`` at ``p = 1`` with the given parameters."""
    out: dict[str, dict[str, Any]] = {k: {"p": 0.0} for k in S.IMPAIRMENTS}
    for key, params in on.items():
        out[key] = {"p": 1.0, **params}
    return out


def _peak_freq(y: np.ndarray, pad: int = 16) -> np.ndarray:
    """Per row, the frequency (cycles/sample) of the strongest bin of the Hann-windowed, zero-padded spectrum."""
    n = y.shape[-1]
    spec = np.abs(sfft.fft(y * np.hanning(n), n * pad, axis=-1))
    return sfft.fftfreq(n * pad)[np.argmax(spec, axis=-1)]


def _dtft(y: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Per row, the Hann-windowed DTFT of ``y`` at frequency ``f`` (cycles/sample)."""
    n = y.shape[-1]
    t = np.arange(n)
    return np.sum(y * np.hanning(n) * np.exp(-2j * np.pi * np.asarray(f)[:, None] * t), axis=-1)


# ------------------------------------------------------------------------------------------------ catalogue
def test_catalogue() -> None:
    names = S.class_names()
    assert len(S.CLASSES) >= 40 and len(names) == len(S.CLASSES)
    assert len(set(names)) == len(names)
    assert set(ISSUE_FAMILIES) <= set(S.FAMILIES) and len(S.FAMILIES) == len(set(S.FAMILIES))
    assert S.family_names() == S.FAMILIES
    assert all(c.family in S.FAMILIES for c in S.CLASSES)
    # a family name selects its members, a class name itself, both in label order
    psk = tuple(c.name for c in S.CLASSES if c.family == "psk")
    assert len(psk) >= 5 and {"bpsk", "qpsk", "8psk"} <= set(psk)
    assert S.class_names(["psk", "16qam"]) == (*psk, "16qam")
    assert S.class_names(["16qam", "psk"]) == (*psk, "16qam")
    assert S.family_names(["16qam", "psk"]) == ("psk", "qam")
    with pytest.raises(ValueError, match="17qam"):
        S.class_names(["psk", "17qam"])


@pytest.mark.parametrize("n", [1000, 257, 64])
def test_every_class_renders(n: int) -> None:
    rng = np.random.default_rng(0)
    for c in S.CLASSES:
        x = S.render(c.name, rng, n)
        assert x.shape == (n,) and np.iscomplexobj(x), c.name
        assert np.isfinite(x).all(), c.name
        p = np.abs(x) ** 2
        # unit mean power while it transmits: every class transmits throughout (OOK's zero symbols included)
        assert abs(p.mean() - 1.0) < 1e-6, c.name
    with pytest.raises(ValueError, match="nosuch"):
        S.render("nosuch", rng, 64)
    with pytest.raises(ValueError, match="foo"):
        S.render("8psk", rng, 64, foo=1)


# ------------------------------------------------------------------------------------------- constellations
def _matched(name: str, n: int, sps: int, offset: int = 0, seed: int = 0) -> np.ndarray:
    """Symbol-spaced samples (starting at ``offset``) of a clean ``name`` waveform through its RRC matched
    filter, unit power."""
    x = S.render(name, np.random.default_rng(seed), n, sps=sps, beta=0.35, pulse=0, tau=0.0)
    h = S._pulse_response(sfft.fftfreq(n), np.array([float(sps)]), np.array([0.35]), np.array([0]))[0]
    return sfft.ifft(sfft.fft(x) * h)[offset::sps][10:-10]


def _distinct(z: np.ndarray, tol: float = 1e-6) -> np.ndarray:
    """The distinct points of ``z`` at tolerance ``tol`` (one representative each)."""
    keys = np.stack([np.round(z.real / tol), np.round(z.imag / tol)], -1).astype(np.int64)
    _, first = np.unique(keys, axis=0, return_index=True)
    return z[np.sort(first)]


def _levels(v: np.ndarray, tol: float = 1e-6) -> np.ndarray:
    return np.unique(np.round(v / tol)) * tol


CONSTELLATIONS = {"bpsk": 2, "qpsk": 4, "8psk": 8, "16psk": 16, "32psk": 32, "16qam": 16, "32qam": 32, "64qam": 64,
                  "128qam": 128, "256qam": 256, "512qam": 512, "1024qam": 1024, "16apsk": 16, "32apsk": 32,
                  "64apsk": 64, "4pam": 4, "8pam": 8, "4ask": 4, "8ask": 8, "ook": 2}


@pytest.mark.parametrize("name", sorted(CONSTELLATIONS, key=lambda k: (S.class_names().index(k))))
def test_constellation_order(name: str) -> None:
    m = CONSTELLATIONS[name]
    # a pulse that is Nyquist through its matched filter leaves the symbols exactly: with ~16 symbols per
    # point every point occurs, and the count is the order (a neighbouring order, M/2 or 2M, differs)
    z = _matched(name, max(4096, 32 * m), sps=2)
    z = z / np.sqrt(np.mean(np.abs(z) ** 2))
    pts = _distinct(z)
    assert len(pts) == m
    assert len(_distinct(z, 0.01)) == m  # the points are well apart, not split rounding noise
    pts = pts / np.sqrt(np.mean(np.abs(pts) ** 2))  # each point once: the constellation at unit power
    family = S._BY_NAME[name].family
    if family == "psk":
        np.testing.assert_allclose(np.abs(pts), 1.0, atol=1e-9)
        step = np.angle(pts * np.exp(-1j * np.angle(pts[0]))) / (2 * np.pi / m)
        np.testing.assert_allclose(step, np.round(step), atol=1e-6)  # angles on the 2π/M grid
    elif family == "qam":
        bits = int(np.log2(m))
        side = 2 ** (bits // 2) if bits % 2 == 0 else 6 * 2 ** ((bits - 5) // 2)  # cross QAM: 6x6 - 4 for 32
        re, im = _levels(pts.real), _levels(pts.imag)
        assert len(re) == len(im) == side
        np.testing.assert_allclose(np.diff(re), np.diff(re)[0], atol=1e-5)  # a square lattice
        np.testing.assert_allclose(re, -re[::-1], atol=1e-5)
    elif family == "apsk":
        radii, counts = np.unique(np.round(np.abs(pts), 6), return_counts=True)
        assert tuple(counts) == {16: (4, 12), 32: (4, 12, 16), 64: (4, 12, 20, 28)}[m]  # DVB-S2(X) rings
    else:  # PAM / ASK / OOK: real levels equally spaced, bipolar symmetric or unipolar from 0
        np.testing.assert_allclose(pts.imag, 0.0, atol=1e-9)
        lv = np.sort(pts.real)
        np.testing.assert_allclose(np.diff(lv), np.diff(lv)[0], atol=1e-6)
        if name.endswith("pam"):
            np.testing.assert_allclose(lv, -lv[::-1], atol=1e-6)
        else:
            assert abs(lv[0]) < 1e-6


def test_oqpsk_rails_half_a_symbol_apart() -> None:
    # OQPSK: the I rail sampled at the symbol instants, the Q rail half a symbol later, give QPSK
    s = 8
    i_rail = _matched("oqpsk", 4096, s, 0).real
    q_rail = _matched("oqpsk", 4096, s, s // 2).imag
    z = i_rail + 1j * q_rail
    pts = _distinct(z / np.sqrt(np.mean(np.abs(z) ** 2)))
    assert len(pts) == 4
    np.testing.assert_allclose(np.abs(pts.real), np.sqrt(0.5), atol=1e-9)
    np.testing.assert_allclose(np.abs(pts.imag), np.sqrt(0.5), atol=1e-9)
    # sampled on the same instant the Q rail is mid-transition: not 4 points
    zz = _matched("oqpsk", 4096, s, 0)
    assert len(_distinct(zz, 0.01)) > 4


def test_rect_pulse_is_a_rectangle() -> None:
    # pulse kind 3: one symbol long, flat (band-limited: Gibbs ripple at its edges), zero outside
    s, n = 16, 512
    h = S._pulse_response(sfft.fftfreq(n), np.array([float(s)]), np.array([0.35]), np.array([3]))[0]
    p = sfft.fftshift(sfft.ifft(h).real) * s
    t = np.arange(n) - n // 2
    inside, outside = np.abs(t) <= s / 2 - 3, np.abs(t) >= s / 2 + 3
    np.testing.assert_allclose(p[inside], 1.0, atol=0.05)
    assert np.abs(p[outside]).max() < 0.05
    assert abs(p.sum() - s) < 1e-9  # area of one symbol
    # BPSK through it is (nearly) constant-envelope away from the symbol transitions
    x = S.render("bpsk", np.random.default_rng(1), 2048, sps=s, beta=0.35, pulse=3, tau=0.0)
    mid = np.concatenate([x[k::s] for k in range(-3, 4)])[4:-4]
    np.testing.assert_allclose(np.abs(mid.real), 1.0, atol=0.08)


# ----------------------------------------------------------------------------------------------------- OFDM
@pytest.mark.parametrize("nfft", [64, 128, 256, 512])
def test_ofdm_cyclic_prefix_and_occupancy(nfft: int) -> None:
    name = f"ofdm{nfft}"
    for os_ in (1, 2):
        size = nfft * os_
        for seed in range(2):  # the cyclic-prefix length drawn (1/16..1/4 of the symbol)
            x = S.render(name, np.random.default_rng(seed), 48 * size, oversample=os_, pilots=0)
            r = np.abs(sfft.ifft(np.abs(sfft.fft(x, 2 * x.size)) ** 2)[: 3 * size])
            # beyond the main lobe of the autocorrelation (the signal's band), its peak is the CP's lag
            assert size // 2 + int(np.argmax(r[size // 2:])) == size, (os_, seed)
    for occ in (0.6, 0.9):
        x = S.render(name, np.random.default_rng(3), 256 * nfft, oversample=1, pilots=0, occupancy=occ)
        seg = 4 * nfft
        _, p = ss.welch(x, nperseg=seg, return_onesided=False, window="hann", detrend=False)
        level = np.median(p[p > 0.1 * p.max()])
        occupied = np.sum(p > 0.5 * level) * nfft / seg
        assert abs(occupied - 2 * round(occ * nfft / 2)) <= 2, occ


# ------------------------------------------------------------------------------------------------ FSK / MSK
@pytest.mark.parametrize("m", [2, 4, 8])
def test_fsk_tones(m: int) -> None:
    s, h, n = 8, 1.0, 8192
    x = S.render(f"{m}fsk", np.random.default_rng(0), n, sps=s, h=h, tau=0.0)
    tones = h * (2 * np.arange(m) - m + 1) / (2 * s)  # cycles/sample
    # integer h: the spectrum has a line at each of the M tones, the M strongest bins
    spec = np.abs(sfft.fft(x)) ** 2
    strongest = np.sort(sfft.fftfreq(n)[np.argsort(spec)[::-1][:m]])
    np.testing.assert_allclose(strongest, tones, atol=0.5 / n)
    order = np.argsort(spec)[::-1]
    assert spec[order[:m]].sum() / spec.sum() > 0.5 / m  # lines, not the continuous part's peaks
    assert spec[order[m - 1]] > 10 * spec[order[m]]
    # the instantaneous frequency at mid-symbol is one of the tones, and each occurs
    x = S.render(f"{m}fsk", np.random.default_rng(0), n, sps=16, h=h, tau=0.0)
    inst = np.angle(x[1:] * np.conj(x[:-1])) / (2 * np.pi)  # inst[t - 1]: frequency of sample t
    mid = inst[16 // 2 - 1::16][2:-2]
    tones16 = h * (2 * np.arange(m) - m + 1) / (2 * 16)
    nearest = np.argmin(np.abs(mid[:, None] - tones16[None, :]), axis=1)
    assert np.abs(mid - tones16[nearest]).max() < 0.25 * (tones16[1] - tones16[0])
    assert set(nearest) == set(range(m))


@pytest.mark.parametrize("sps", [4, 8, 16])
def test_msk_phase_quarter_turn_per_symbol(sps: int) -> None:
    # the cumulative phase is the frequency's sum up to the sample (a half-sample lead), so with tau = 1/2 the
    # symbol boundaries fall on samples; the frequency pulse is band-limited to the sample rate, which leaves
    # an O(1/sps) ripple
    x = S.render("msk", np.random.default_rng(0), 8192, sps=sps, tau=0.5)
    d = np.diff(np.unwrap(np.angle(x))[::sps])[2:-2]
    np.testing.assert_allclose(np.abs(d), np.pi / 2, atol=0.4 / sps)
    assert 0.4 < np.mean(d > 0) < 0.6
    # GMSK has the same h = 1/2: its phase moves by at most a quarter turn per symbol
    g = S.render("gmsk", np.random.default_rng(0), 8192, sps=sps, tau=0.5)
    dg = np.diff(np.unwrap(np.angle(g))[::sps])
    assert np.abs(dg).max() < np.pi / 2 + 0.4 / sps and np.abs(dg).max() > 0.9 * np.pi / 2


# --------------------------------------------------------------------------------------- chirps / analogue
@pytest.mark.parametrize(("name", "sign"), [("lfm_up", 1.0), ("lfm_down", -1.0)])
def test_chirp_sweep_direction(name: str, sign: float) -> None:
    period, sweep, n = 256, 0.5, 4096
    x = S.render(name, np.random.default_rng(2), n, period=period, sweep=sweep)
    inst = np.angle(x[1:] * np.conj(x[:-1])) / (2 * np.pi)
    assert np.abs(inst).max() <= sweep / 2 + 1e-9
    d = np.diff(inst)
    within = np.isclose(d, sign * sweep / period, atol=1e-9)  # a linear sweep at sweep / period per sample
    wraps = np.isclose(d, -sign * sweep * (1 - 1 / period), atol=1e-9)  # back to the start of the sweep
    assert (within | wraps).all()
    assert wraps.sum() in ((n - 2) // period, (n - 2) // period + 1)


def test_single_sideband() -> None:
    n = 8192
    f = sfft.fftfreq(n)
    for name, empty in (("am_usb", f < 0), ("am_lsb", f > 0)):
        spec = np.abs(sfft.fft(S.render(name, np.random.default_rng(4), n))) ** 2
        assert spec[empty].sum() / spec.sum() < 1e-20, name
    spec = np.abs(sfft.fft(S.render("am_dsb_sc", np.random.default_rng(4), n))) ** 2
    assert 0.4 < spec[f < 0].sum() / spec.sum() < 0.6


# ----------------------------------------------------------------------------------------------- impairments
def _tones(n: int, imp: dict[str, dict[str, Any]], stop: int = 8, snr: float = 60.0, seed: int = 5) -> np.ndarray:
    y, _ = S.generate_captures(0, stop, seed=seed, n_samples=n, classes=["tone"], snr_db=(snr, snr),
                               impairments=imp)
    return y


def test_cfo_shifts_the_spectrum_by_the_drawn_offset() -> None:
    n = 4096
    base = _peak_freq(_tones(n, _off()))
    assert np.abs(base).max() <= 0.01 + 1e-4  # the tone class's own offset
    np.testing.assert_array_equal(_tones(n, _off(cfo={"max": 0.0})), _tones(n, _off()))
    shift = {m: _peak_freq(_tones(n, _off(cfo={"max": m}))) - base for m in (0.05, 0.2)}
    for m, s in shift.items():
        assert np.abs(s).max() <= m + 1e-4
    # the same draw scaled by the range: the offset is uniform(-1, 1) x max, per capture
    np.testing.assert_allclose(shift[0.2], 4 * shift[0.05], atol=2e-4)
    assert shift[0.2].std() > 0.02 and (shift[0.2] > 0).any() and (shift[0.2] < 0).any()


def test_iq_imbalance_image() -> None:
    n = 4096
    g_db, ph_deg = 1.0, 5.0
    imp = _off(cfo={"max": 0.2}, iq_imbalance={"gain_db": (g_db, g_db), "phase_deg": (ph_deg, ph_deg)})
    y = _tones(n, imp, stop=16)
    f0 = _peak_freq(y)
    keep = np.abs(f0) > 0.02  # tone and image apart
    assert keep.sum() >= 6
    ratio_db = 20 * np.log10(np.abs(_dtft(y[keep], -f0[keep])) / np.abs(_dtft(y[keep], f0[keep])))
    g, ph = 10 ** (g_db / 20), np.deg2rad(ph_deg)
    mu, nu = (1 + g * np.exp(-1j * ph)) / 2, (1 - g * np.exp(1j * ph)) / 2
    np.testing.assert_allclose(ratio_db, 20 * np.log10(abs(nu) / abs(mu)), atol=0.5)
    clean = _tones(n, _off(cfo={"max": 0.2}), stop=16)[keep]
    assert (20 * np.log10(np.abs(_dtft(clean, -f0[keep])) / np.abs(_dtft(clean, f0[keep]))) < -60).all()


def test_dc_offset() -> None:
    n = 2048
    y0 = _tones(n, _off(), snr=10.0)
    y1 = _tones(n, _off(dc_offset={"level_db": (-20.0, -20.0)}), snr=10.0)
    dc = y1 - y0
    np.testing.assert_allclose(dc, dc[:, :1] * np.ones((1, n)), atol=1e-12)  # a constant added, nothing else
    rms = np.sqrt(np.mean(np.abs(y0) ** 2, -1))
    np.testing.assert_allclose(np.abs(dc[:, 0]) / rms, 0.1, rtol=1e-9)
    np.testing.assert_allclose(np.mean(y1, -1) - np.mean(y0, -1), dc[:, 0], atol=1e-12)
    # the default range, -30..-10 dB of the rms
    y2 = _tones(n, _off(dc_offset={}), snr=10.0, stop=20)
    y3 = _tones(n, _off(), snr=10.0, stop=20)
    level = 20 * np.log10(np.abs((y2 - y3)[:, 0]) / np.sqrt(np.mean(np.abs(y3) ** 2, -1)))
    assert (level >= -30 - 1e-9).all() and (level <= -10 + 1e-9).all() and level.std() > 2


def test_quantization() -> None:
    n = 4096
    imp = _off(quantization={"bits": (4, 4), "full_scale": (2.0, 2.0)})
    y0 = _tones(n, _off(), snr=-10.0)  # mostly Gaussian noise: the amplitudes reach full scale
    y1 = _tones(n, imp, snr=-10.0)
    for a, q in zip(y0, y1, strict=True):
        re, im = np.unique(q.real), np.unique(q.imag)
        assert len(re) == 16 and len(im) == 16  # 2^bits mid-rise levels, every one used (clipping at full scale)
        step = 2 * 2.0 * np.sqrt(np.mean(np.abs(a) ** 2)) / 16
        np.testing.assert_allclose(np.diff(re), step, rtol=1e-9)
        expect = (np.clip(np.floor(a.real / step) + 0.5, -7.5, 7.5)
                  + 1j * np.clip(np.floor(a.imag / step) + 0.5, -7.5, 7.5)) * step
        np.testing.assert_allclose(q, expect, rtol=0, atol=1e-9)
    assert len(np.unique(y0[0].real)) > 1000


def test_phase_noise_increments() -> None:
    n = 16384
    for std in (0.01, 0.003):
        y = _tones(n, _off(phase_noise={"std": (std, std)}), stop=4, snr=90.0)
        inc = np.diff(np.unwrap(np.angle(y)), axis=-1)
        var = np.var(inc, axis=-1)
        np.testing.assert_allclose(var, std ** 2, rtol=0.06)
    y = _tones(n, _off(), stop=4, snr=90.0)
    assert np.var(np.diff(np.unwrap(np.angle(y)), axis=-1), axis=-1).max() < 1e-7


def test_pa_compression() -> None:
    n = 4096
    kw = dict(seed=7, n_samples=n, classes=["ofdm"], snr_db=(100.0, 100.0))
    y0, _ = S.generate_captures(0, 8, impairments=_off(), **kw)
    p, phi = 2.0, 10.0
    y1, _ = S.generate_captures(0, 8, impairments=_off(pa={"backoff_db": (0.0, 0.0), "smoothness": (p, p),
                                                         "am_pm_deg": (phi, phi)}), **kw)

    def papr(y: np.ndarray) -> np.ndarray:
        return 10 * np.log10(np.max(np.abs(y) ** 2, -1) / np.mean(np.abs(y) ** 2, -1))

    assert (papr(y0) > 7).all() and (papr(y1) < papr(y0) - 2).all()
    # the Rapp curve: saturation at the input rms (0 dB back-off), AM/PM φ r²/(1+r²), up to a constant
    r = np.abs(y0) / np.sqrt(np.mean(np.abs(y0) ** 2, -1, keepdims=True))
    ratio = y1 / y0 * (1 + r ** (2 * p)) ** (1 / (2 * p)) * np.exp(-1j * np.deg2rad(phi) * r ** 2 / (1 + r ** 2))
    big = r > 0.2
    for row, sel in zip(ratio, big, strict=True):
        np.testing.assert_allclose(row[sel] / row[sel].mean(), 1.0, atol=1e-3)


def test_multipath() -> None:
    n = 2048
    kw = dict(seed=8, n_samples=n, classes=["qpsk", "16qam"], snr_db=(100.0, 100.0))
    y0, _ = S.generate_captures(0, 6, impairments=_off(), **kw)
    flat = _off(multipath={"taps": (1, 1), "doppler": (0.0, 0.0), "k_db": (100.0, 100.0)})
    y1, _ = S.generate_captures(0, 6, impairments=flat, **kw)
    ratio = y1 / y0
    np.testing.assert_allclose(np.abs(ratio), 1.0, atol=1e-3)  # one tap of unit power: a phase only
    np.testing.assert_allclose(ratio / ratio[:, :1], 1.0, atol=1e-3)  # constant over the capture
    # several Rayleigh taps: frequency selective, no longer a constant factor
    y2, _ = S.generate_captures(0, 6, impairments=_off(multipath={"taps": (4, 4), "doppler": (0.0, 0.0),
                                                                  "k_db": (-10.0, -10.0)}), **kw)
    r2 = y2 / y0
    assert (np.std(r2, -1) / np.abs(np.mean(r2, -1)) > 0.1).all()


@pytest.mark.parametrize(("key", "params", "band", "rel_db"), [
    ("adjacent", {"offset": (0.3, 0.3), "power_db": (10.0, 10.0)}, (0.29, 0.31), 10.0),
    ("cochannel", {"offset": (0.04, 0.04), "sir_db": (10.0, 10.0)}, (0.03, 0.05), -10.0),
])
def test_other_emitters(key: str, params: dict[str, Any], band: tuple[float, float], rel_db: float) -> None:
    n, snr = 4096, 30.0
    y, labels = S.generate_captures(0, 8, seed=9, n_samples=n, classes=["tone"], snr_db=(snr, snr),
                                    impairments=_off(**{key: params}))
    pad = 16
    spec = np.abs(sfft.fft(y * np.hanning(n), n * pad, axis=-1)) ** 2
    f = sfft.fftfreq(n * pad)
    near = np.abs(f) <= 0.0101  # the signal's own tone (offset within ±0.01)
    other = (np.abs(f) >= band[0]) & (np.abs(f) <= band[1])
    if key == "cochannel":
        other = (f >= band[0]) & (f <= band[1])
    p_sig, p_other = spec[:, near].max(-1), spec[:, other].max(-1)
    np.testing.assert_allclose(10 * np.log10(p_other / p_sig), rel_db, atol=0.3)
    # the capture's power: noise 1 + the signal at its SNR + the other emitter at its level
    s = 10 ** (snr / 10)
    np.testing.assert_allclose(np.mean(np.abs(y) ** 2, -1) - 1, s * (1 + 10 ** (rel_db / 10)), rtol=0.01)
    np.testing.assert_allclose(labels["snr_db"], snr)


# ------------------------------------------------------------------------------------------------------- SNR
def test_snr() -> None:
    n = 16384
    y, labels = S.generate_captures(0, N_CLASSES, seed=4, n_samples=n, snr_db=(3.0, 20.0), impairments=_off())
    assert labels["snr_db"].shape == (N_CLASSES, 1) and labels["snr_db"].dtype == np.float32
    s = 10 ** (labels["snr_db"][:, 0].astype(np.float64) / 10)
    # P = S + 1 up to the noise's power estimate (std 1/√n) and the signal-noise cross term (std √(2S/n))
    err = np.mean(np.abs(y) ** 2, -1) - 1 - s
    worst = [S.CLASSES[i].name for i in np.argsort(-np.abs(err / s))[:3]]
    assert (np.abs(err) < 4 * np.sqrt((2 * s + 1) / n)).all(), worst
    assert (np.abs(err / s) < 0.05).all()
    # the classes with zero-amplitude symbols: those samples are part of the emitter's power too
    y, labels = S.generate_captures(0, 24, seed=4, n_samples=n, classes=["ook", "4ask", "8ask"], snr_db=(3.0, 20.0),
                                    impairments=_off())
    s = 10 ** (labels["snr_db"][:, 0].astype(np.float64) / 10)
    assert (np.abs(np.mean(np.abs(y) ** 2, -1) - 1 - s) < 4 * np.sqrt((2 * s + 1) / n)).all()
    _, lab = S.generate_captures(0, 300, seed=1, n_samples=64, snr_db=(-5.0, 7.0))
    v = lab["snr_db"][:, 0]
    assert v.min() >= -5.0 and v.max() <= 7.0 and v.min() < -4.5 and v.max() > 6.5


# ------------------------------------------------------------------------------------------------ determinism
def test_determinism_and_chunking() -> None:
    a, la = S.generate_captures(0, 40, seed=3)
    b, lb = S.generate_captures(0, 40, seed=3)
    np.testing.assert_array_equal(a, b)
    for k in la:
        np.testing.assert_array_equal(la[k], lb[k])
    c1, l1 = S.generate_captures(0, 17, seed=3)
    c2, l2 = S.generate_captures(17, 40, seed=3)
    c = np.concatenate([c1, c2])
    assert np.abs(c - a).max() <= 1e-9 * np.abs(a).max()
    for k in la:
        np.testing.assert_array_equal(np.concatenate([l1[k], l2[k]]), la[k])
    d, _ = S.generate_captures(0, 40, seed=4)
    assert np.abs(d - a).max() > 1.0
    np.testing.assert_array_equal(la["label"], np.arange(40) % N_CLASSES)
    _, lab = S.generate_captures(5, 50, seed=0, n_samples=64, classes=["psk", "qam"], balanced=True)
    n_sel = len(S.class_names(["psk", "qam"]))
    np.testing.assert_array_equal(lab["label"], np.arange(5, 50) % n_sel)
    fams = S.family_names(["psk", "qam"])
    names = S.class_names(["psk", "qam"])
    np.testing.assert_array_equal(lab["family"], [fams.index(S._BY_NAME[names[i]].family) for i in lab["label"]])
    _, lu = S.generate_captures(0, 200, seed=0, n_samples=64, balanced=False)
    assert not np.array_equal(lu["label"], np.arange(200) % N_CLASSES)
    assert len(np.unique(lu["label"])) > 30


def test_views_share_one_draw() -> None:
    x, lx = S.generate_iq(3, 9, seed=2)
    s, ls = S.generate_spectrogram(3, 9, seed=2)
    assert x.shape == (6, 1, 2, 1024) and x.dtype == np.float32
    assert s.shape == (6, 1, 64, 61) and s.dtype == np.float32
    for k in lx:
        np.testing.assert_array_equal(lx[k], ls[k])
    z = x[:, 0, 0].astype(np.float64) + 1j * x[:, 0, 1]
    ref = S.stft_power(z, 64, 16)
    scale = ref.max(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(s[:, 0], ref, rtol=1e-4, atol=1e-5 * scale.max())
    assert np.abs(s[:, 0] - ref).max() / scale.max() < 1e-5
    iq, sp, lv = S.generate_views(3, 9, seed=2)
    np.testing.assert_array_equal(iq, x)
    np.testing.assert_array_equal(sp, s)
    # another draw gives another spectrogram
    other, _ = S.generate_spectrogram(3, 9, seed=5)
    assert not np.allclose(other, s)


# --------------------------------------------------------------------------------------------------- wideband
def test_wideband_boxes() -> None:
    e_max, nfft, hop, n = 4, 64, 64, 4096
    x, labels = S.generate_wideband(0, 12, seed=1, snr_db=(20.0, 25.0), max_emitters=e_max)
    frames = S.spectrogram_frames(n, nfft, hop)
    assert x.shape == (12, 1, nfft, frames)
    boxes = labels["boxes"].reshape(12, e_max, 4)
    cls = labels["box_classes"]
    present = cls >= 0
    np.testing.assert_array_equal(labels["count"], present.sum(1) - 1)
    assert len(np.unique(labels["count"])) >= 3
    for j in range(12):
        k = int(present[j].sum())
        assert present[j, :k].all() and not present[j, k:].any()  # emitters first, then absent slots
        np.testing.assert_array_equal(boxes[j, k:], -1.0)
        b = boxes[j, :k]
        assert ((b >= 0) & (b <= 1)).all()
        assert (b[:, 0] < b[:, 1]).all() and (b[:, 2] < b[:, 3]).all()
        assert ((cls[j, :k] >= 0) & (cls[j, :k] < N_CLASSES)).all()
        # the spectrogram's cells: frame t covers [t, t+1)/frames of the capture; row r is centred on r/nfft of
        # the band (from -0.5)
        t_lo = np.arange(frames) * hop / n
        t_hi = (np.arange(frames) * hop + nfft) / n
        f_c = np.arange(nfft) / nfft
        spec = x[j, 0].astype(np.float64)
        outside = np.ones_like(spec, dtype=bool)
        for t0, t1, f0, f1 in b:
            near_t = (t_hi > t0 - 2 / frames) & (t_lo < t1 + 2 / frames)
            near_f = (f_c > f0 - 3 / nfft) & (f_c < f1 + 3 / nfft)
            outside &= ~(near_f[:, None] & near_t[None, :])
        assert outside.sum() > 100
        floor = np.median(spec[outside])
        for t0, t1, f0, f1 in b:
            in_t = (t_lo >= t0) & (t_hi <= t1)
            in_f = (f_c >= f0) & (f_c <= f1)
            if not in_f.any():  # narrower than a row: the row at its centre
                in_f = np.abs(f_c - (f0 + f1) / 2) == np.abs(f_c - (f0 + f1) / 2).min()
            inside = spec[np.ix_(in_f, in_t)]
            assert inside.size and np.median(inside) > 10 * floor
    # deterministic and chunkable
    y, ly = S.generate_wideband(5, 12, seed=1, snr_db=(20.0, 25.0), max_emitters=e_max)
    np.testing.assert_allclose(y, x[5:], rtol=1e-5, atol=1e-6 * x.max())
    np.testing.assert_array_equal(ly["boxes"], labels["boxes"][5:])


# --------------------------------------------------------------------------------------------------- registry
def test_registry(tmp_path: Any) -> None:
    from wfm.data.datamodules import DownstreamDataModule
    from wfm.data.datasets.builtin import build_builtin
    from wfm.data.synthetic import BUILTIN, describe

    for name in ("signals", "signals_iq", "modulation", "modulation_iq", "signal_family", "signals_wideband"):
        assert name in BUILTIN
    spec = describe("modulation")
    assert len(spec.class_names["label"]) == 42 and spec.class_names["label"] == S.class_names()
    assert spec.stratify == {"label": "snr_db"} and spec.downstream
    assert describe("signal_family").stratify == {"family": "snr_db"}
    assert len(describe("signal_family").class_names["family"]) == len(S.FAMILIES)
    assert describe("modulation", classes=["psk"]).class_names["label"] == S.class_names(["psk"])

    path = build_builtin("modulation", 84, size=32, root=tmp_path)
    with h5py.File(path, "r") as f:
        meta = json.loads(f.attrs["labels"])
        assert f["inputs"].shape[0] == 84
        np.testing.assert_array_equal(f["label"][:], np.arange(84) % 42)
    assert meta["label"]["kind"] == "classification" and meta["label"]["stratify"] == "snr_db"
    assert meta["label"]["num_classes"] == 42 and meta["snr_db"]["kind"] == "regression"

    dm = DownstreamDataModule(dataset="modulation", n=84, size=32, cache_dir=str(tmp_path))
    task = dm.task
    assert dm.target == "label" and task.target == "label"  # the SNR stratifies, it is not the task
    assert task.stratify == "snr_db" and task.num_classes == 42

    path = build_builtin("modulation_iq", 84, size=256, root=tmp_path)
    with h5py.File(path, "r") as f:
        assert f["inputs"].shape == (84, 1, 2, 256)
        assert json.loads(f.attrs["labels"])["label"]["stratify"] == "snr_db"


# ------------------------------------------------------------------------------------------------ bad options
def test_bad_options() -> None:
    with pytest.raises(ValueError, match="'nope'"):
        S.impairment_options({"nope": {"p": 0.5}})
    with pytest.raises(ValueError, match="bogus"):
        S.impairment_options({"cfo": {"bogus": 1.0}})
    for p in (1.5, -0.1):
        with pytest.raises(ValueError, match="'cfo'.*p must be in"):
            S.impairment_options({"cfo": {"p": p}})
    with pytest.raises(ValueError, match="'pa'"):
        S.impairment_options({"pa": 0.3})
    opts = S.impairment_options({"cfo": {"max": 0.02}, "pa": {"p": 0}})
    assert opts["cfo"] == {"p": 1.0, "max": 0.02} and opts["pa"]["p"] == 0
    assert S.IMPAIRMENTS["cfo"]["max"] == 0.05  # the defaults are not modified
    with pytest.raises(ValueError, match="'nope'"):
        S.generate_captures(0, 2, n_samples=64, impairments={"nope": {}})
    with pytest.raises(ValueError, match="quantisation|bitz"):
        S.generate_iq(0, 2, n_samples=64, impairments={"quantization": {"bitz": (4, 4)}})
    with pytest.raises(ValueError, match="'dc_offset'.*p must be in"):
        S.generate_wideband(0, 1, impairments={"dc_offset": {"p": 2}})
    with pytest.raises(ValueError, match="snr_db"):
        S.generate_captures(0, 2, n_samples=64, snr_db=(10.0, 0.0))
    with pytest.raises(ValueError, match="n_samples"):
        S.generate_captures(0, 2, n_samples=32)
    with pytest.raises(ValueError, match="bandwidth"):
        S.generate_wideband(0, 1, bandwidth=(0.1, 0.6))
