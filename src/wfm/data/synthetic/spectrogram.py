"""Synthetic RF spectrograms: per-technology complex-baseband waveform builders and their power STFT.

Every builder produces a unit-power complex baseband waveform at a normalised sample rate (``fs = 1``,
so frequencies are in cycles/sample and the band is ``[-0.5, 0.5)``). The channel model applied to each
emitter is: a few-tap multipath channel, a carrier-frequency offset, a random timing offset (every builder
starts at a random point of its own frame structure) and white Gaussian noise at a random SNR.

Two datasets are built from them (see :func:`generate_rfs` and :func:`generate_mixtures`):

* ``rfs``: one emitter per sample, labelled with its technology class (RF signal classification);
* ``spectrogram``: unlabelled mixtures of 1–3 emitters with random classes, powers and offsets (pretraining).

The output is the raw POWER spectrogram ``|STFT|²`` (Hann window, hop = half a window, two-sided with
DC in the centre row), shape ``(n, 1, F, T)``; dB / resize / standardisation happen in
:mod:`wfm.data.transforms`. Sample ``i`` depends only on ``np.random.default_rng([seed, stream, i])``,
so any chunking of ``[start, stop)`` gives identical arrays.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from scipy.signal import ShortTimeFFT
from scipy.signal.windows import hann

#: RF signal classification classes, in label order.
CLASS_NAMES: tuple[str, ...] = ("wifi", "lte", "nr", "bluetooth", "zigbee", "lora", "fm", "noise")

#: Random streams (second element of the per-sample seed) of the two spectrogram datasets.
STREAM_RFS = 101
STREAM_MIXTURE = 102

Builder = Callable[[np.random.Generator, int], np.ndarray]


# ----------------------------------------------------------------------------------------------- helpers
def _constellation(order: int) -> np.ndarray:
    m = int(round(np.sqrt(order)))
    levels = 2.0 * np.arange(m) - (m - 1)
    points = (levels[:, None] + 1j * levels[None, :]).ravel()
    return points / np.sqrt(2.0 * (order - 1) / 3.0)


_CONSTELLATIONS = {order: _constellation(order) for order in (4, 16, 64)}


def _qam(rng: np.random.Generator, shape: tuple[int, ...], order: int) -> np.ndarray:
    """Unit-average-power square QAM symbols (one integer draw per symbol: this is the hot path)."""
    return _CONSTELLATIONS[order][rng.integers(0, order, shape)]


def _order(rng: np.random.Generator) -> int:
    return (4, 16, 64)[int(rng.integers(3))]


def _ofdm(grid: np.ndarray, cp: int) -> np.ndarray:
    """Frequency grid ``(n_sym, nfft)`` (natural FFT order) -> time samples with cyclic prefix, flattened."""
    nfft = grid.shape[1]
    t = np.fft.ifft(grid, axis=1) * np.sqrt(nfft)
    return np.concatenate([t[:, nfft - cp:], t], axis=1).ravel()


def _signed_bins(half: int) -> np.ndarray:
    """Subcarrier indices ``-half..half`` without DC (kept empty as in WiFi / LTE downlink)."""
    return np.r_[-half:0, 1:half + 1]


def _tone(f: float, n: int) -> np.ndarray:
    """``exp(2jπ f t)``, t = 0..n-1, as an outer product of two short ramps (t = q·s + r, s ≈ √n):
    ~2√n complex exponentials instead of n, which otherwise dominate a builder's cost."""
    s = int(np.ceil(np.sqrt(n)))
    fine = np.exp(2j * np.pi * np.mod(f * np.arange(s), 1.0))
    coarse = np.exp(2j * np.pi * np.mod(f * s * np.arange(-(-n // s)), 1.0))
    return np.outer(coarse, fine).ravel()[:n]


# ------------------------------------------------------------------------------------ waveform builders
def wifi(rng: np.random.Generator, n: int) -> np.ndarray:
    """WiFi-like bursty OFDM: packets (short/long training fields + data symbols) separated by idle gaps."""
    nfft, cp = 64, 16
    half = int(rng.integers(12, 29))  # occupied bandwidth 0.38..0.9 of fs (20/40 MHz channels in a capture)
    bins = _signed_bins(half)
    out = np.zeros(n, np.complex128)
    pos = -int(rng.integers(0, 800))  # timing offset: the capture may start inside a packet
    order = _order(rng)
    while pos < n:
        # STF: only every 4th subcarrier -> 16-sample periodic; visible as a comb at the packet start.
        g = np.zeros((1, nfft), np.complex128)
        stf_bins = bins[bins % 4 == 0]
        g[0, stf_bins % nfft] = _qam(rng, (stf_bins.size,), 4) * 2.0
        stf = np.tile(np.fft.ifft(g[0]) * np.sqrt(nfft), 3)[:160]
        n_data = int(rng.integers(3, 25))
        grid = np.zeros((2 + n_data, nfft), np.complex128)
        grid[:, bins % nfft] = _qam(rng, (2 + n_data, bins.size), order)
        pkt = np.concatenate([stf, _ofdm(grid, cp)])
        pkt *= 10 ** (rng.uniform(-3, 3) / 20)  # packets from different stations arrive at different powers
        a, b = max(pos, 0), min(pos + pkt.size, n)
        if b > a:
            out[a:b] = pkt[a - pos:b - pos]
        pos += pkt.size + int(rng.integers(30, 450))  # SIFS/DIFS + random backoff
    return out


def lte(rng: np.random.Generator, n: int) -> np.ndarray:
    """LTE-like continuous OFDM downlink: full-band control region each subframe, RB-blocky data load."""
    nfft, cp, sub = 128, 9, 14
    half = int(rng.integers(24, 58))  # 0.38..0.9 of fs
    bins = _signed_bins(half)
    n_sym = -(-n // (nfft + cp)) + sub + 1
    grid = np.zeros((n_sym, nfft), np.complex128)
    rb = 12
    n_rb = -(-bins.size // rb)
    load = rng.uniform(0.3, 1.0)
    for s0 in range(0, n_sym, sub):
        s1 = min(s0 + sub, n_sym)
        n_ctrl = int(rng.integers(1, 4))
        active = np.repeat(rng.random(n_rb) < load, rb)[: bins.size]
        power = np.repeat(10 ** (rng.uniform(-4, 2, n_rb) / 20), rb)[: bins.size]
        data = _qam(rng, (s1 - s0, bins.size), 16) * (active * power)
        data[:n_ctrl] = _qam(rng, (min(n_ctrl, s1 - s0), bins.size), 4)  # PDCCH region spans the band
        # cell reference signals: every 6th subcarrier in symbols 0, 4, 7, 11 are always on
        for r in (0, 4, 7, 11):
            if r < s1 - s0:
                data[r, ::6] = _qam(rng, (data[r, ::6].size,), 4) * 1.4
        grid[s0:s1][:, bins % nfft] = data
    x = _ofdm(grid, cp)
    off = int(rng.integers(0, sub * (nfft + cp)))
    return x[off:off + n]


def nr(rng: np.random.Generator, n: int) -> np.ndarray:
    """NR-like TDD OFDM: downlink slots with contiguous allocations, silent uplink slots, periodic SSBs."""
    nfft, cp, slot = 64, 5, 7  # wider subcarrier spacing -> shorter symbols than the LTE-like class
    sym_len = nfft + cp
    half = int(rng.integers(16, 30))
    bins = _signed_bins(half)
    n_sym = -(-n // sym_len) + 4 * slot
    grid = np.zeros((n_sym, nfft), np.complex128)
    pattern = rng.permutation(np.array([1, 1, 1, 0.5, 0]))  # DDDSU in some rotation (S: half slot)
    for k, s0 in enumerate(range(0, n_sym, slot)):
        frac = pattern[k % pattern.size]
        n_on = int(round(frac * slot))
        if n_on == 0:
            continue
        # contiguous allocation (bandwidth part), random width and position
        width = int(rng.integers(max(4, bins.size // 4), bins.size + 1))
        lo = int(rng.integers(0, bins.size - width + 1))
        sel = bins[lo:lo + width]
        s1 = min(s0 + n_on, n_sym)
        grid[s0:s1][:, sel % nfft] = _qam(rng, (s1 - s0, sel.size), _order(rng))
    # SSB: 4 symbols x 10 subcarriers, boosted, repeating with a fixed period, transmitted even in UL slots
    period = int(rng.integers(8, 16))
    centre = int(rng.integers(-half + 6, half - 5))
    ssb = np.arange(centre - 5, centre + 5)
    for s0 in range(int(rng.integers(0, period)), n_sym - 4, period):
        grid[s0:s0 + 4] = 0.0
        grid[s0:s0 + 4][:, ssb % nfft] = _qam(rng, (4, ssb.size), 4) * 2.0
    x = _ofdm(grid, cp)
    off = int(rng.integers(0, 2 * slot * sym_len))
    return x[off:off + n]


def _gfsk(rng: np.random.Generator, n: int, sps: int, h: float, bt: float) -> np.ndarray:
    """Continuous-phase Gaussian FSK at baseband (frequency-pulse shaped NRZ bits)."""
    n_bits = n // sps + 8
    nrz = np.repeat(2.0 * rng.integers(0, 2, n_bits) - 1.0, sps)
    # Gaussian filter with bandwidth-time product bt, spanning 3 symbols
    t = np.arange(-1.5 * sps, 1.5 * sps + 1) / sps
    sigma = np.sqrt(np.log(2)) / (2 * np.pi * bt)
    g = np.exp(-(t**2) / (2 * sigma**2))
    freq = np.convolve(nrz, g / g.sum(), mode="same") * h / (2 * sps)
    return np.exp(2j * np.pi * np.cumsum(freq))[:n]


def bluetooth(rng: np.random.Generator, n: int) -> np.ndarray:
    """Bluetooth-like frequency hopping GFSK: a new narrow channel every slot, packets fill part of a slot."""
    sps = int(rng.integers(6, 14))
    x = _gfsk(rng, n, sps, h=0.32, bt=0.5)
    slot = int(rng.integers(240, 400))
    out = np.zeros(n, np.complex128)
    t = np.arange(n)
    for s0 in range(-int(rng.integers(0, slot)), n, slot):
        if rng.random() > 0.8:
            continue  # idle slot
        a, b = max(s0, 0), min(s0 + int(slot * rng.uniform(0.4, 0.9)), n)
        if b > a:
            out[a:b] = x[a:b] * np.exp(2j * np.pi * rng.uniform(-0.45, 0.45) * t[a:b])
    return out


def zigbee(rng: np.random.Generator, n: int) -> np.ndarray:
    """ZigBee-like O-QPSK with half-sine chips (DSSS), fixed channel, bursty frames."""
    sps = int(rng.integers(3, 7))  # samples per chip
    n_chips = n // (2 * sps) + 4
    pulse = np.sin(np.pi * np.arange(2 * sps) / (2 * sps))

    def branch() -> np.ndarray:
        up = np.zeros(n_chips * 2 * sps)
        up[:: 2 * sps] = 2.0 * rng.integers(0, 2, n_chips) - 1.0
        return np.convolve(up, pulse)[: up.size]

    i, q = branch(), branch()
    x = (i + 1j * np.roll(q, sps))[:n]  # Q branch offset by half a symbol (offset QPSK)
    x *= _tone(rng.uniform(-0.35, 0.35), n)
    out = np.zeros(n, np.complex128)
    pos = -int(rng.integers(0, 800))
    while pos < n:
        length = int(rng.integers(400, 1200))
        a, b = max(pos, 0), min(pos + length, n)
        if b > a:
            out[a:b] = x[a:b]
        pos += length + int(rng.integers(100, 700))
    return out


def lora(rng: np.random.Generator, n: int) -> np.ndarray:
    """LoRa-like chirp spread spectrum: preamble up-chirps, sync down-chirps, cyclically shifted data."""
    sf = int(rng.integers(5, 8))
    m = 2**sf
    sym_len = int(rng.integers(max(128, 2 * m), 520))  # samples per symbol; bandwidth = m / sym_len
    bw = m / sym_len
    n_data = n // sym_len + 4
    shifts = np.concatenate([np.zeros(8), np.full(2, -1.0), rng.integers(0, m, n_data).astype(float)])
    t = np.arange(sym_len) / sym_len
    up = bw * (np.mod(t + shifts[:, None] / m, 1.0) - 0.5)  # cyclically shifted up-chirps
    freq = np.where(shifts[:, None] < 0, bw * (0.5 - t), up).ravel()  # shift -1 marks a sync down-chirp
    fc = rng.uniform(-(0.5 - bw / 2), 0.5 - bw / 2) * 0.9
    phase = np.cumsum(freq)
    off = int(rng.integers(-n // 3, phase.size - n))  # the packet may start inside the capture
    out = np.zeros(n, np.complex128)
    a = max(0, -off)
    seg = phase[max(off, 0): max(off, 0) + n - a]  # only the captured part is turned into samples
    out[a:] = np.exp(2j * np.pi * (np.mod(seg, 1.0) + fc * np.arange(a, n)))
    return out


def fm(rng: np.random.Generator, n: int) -> np.ndarray:
    """Narrowband analogue FM: a few low-frequency tones frequency-modulate a random carrier."""
    t = np.arange(n)
    k = int(rng.integers(1, 4))
    msg = (rng.uniform(0.3, 1.0, (k, 1)) * np.sin(2 * np.pi * rng.uniform(0.0005, 0.006, (k, 1)) * t
                                                 + rng.uniform(0, 2 * np.pi, (k, 1)))).sum(0)
    msg /= np.abs(msg).max() + 1e-12
    dev = rng.uniform(0.005, 0.04)
    fc = rng.uniform(-0.4, 0.4)
    return np.exp(2j * np.pi * np.cumsum(fc + dev * msg))


def noise(rng: np.random.Generator, n: int) -> np.ndarray:
    """No emitter: the sample is receiver noise only."""
    return np.zeros(n, np.complex128)


BUILDERS: dict[str, Builder] = {
    "wifi": wifi, "lte": lte, "nr": nr, "bluetooth": bluetooth, "zigbee": zigbee,
    "lora": lora, "fm": fm, "noise": noise,
}


# ------------------------------------------------------------------------------------------- channel
def emitter(rng: np.random.Generator, name: str, n: int, snr_db: float) -> np.ndarray:
    """One emitter of class ``name`` through multipath + CFO, scaled to ``snr_db`` over unit-power noise.

    SNR is the signal power while the emitter transmits (bursty classes are not penalised for their
    idle time) relative to the total noise power in the band.
    """
    if name not in BUILDERS:
        raise ValueError(f"unknown emitter class {name!r}; expected one of {sorted(BUILDERS)}")
    x = BUILDERS[name](rng, n)
    if name == "noise":
        return x
    # few-tap channel: LoS-like first tap, exponentially decaying later taps (delay spread of a few samples)
    n_taps = int(rng.integers(1, 5))
    delays = np.concatenate([[0], np.sort(rng.permutation(8)[: n_taps - 1] + 1)])
    gains = (rng.standard_normal(n_taps) + 1j * rng.standard_normal(n_taps)) / np.sqrt(2)
    gains *= np.exp(-delays / 3.0)
    gains[0] = 1.0
    h = np.zeros(delays[-1] + 1, np.complex128)
    h[delays] = gains
    x = np.convolve(x, h)[:n]
    x *= _tone(rng.uniform(-0.02, 0.02), n)  # carrier-frequency offset
    on = np.abs(x) > 1e-9
    p = np.mean(np.abs(x[on]) ** 2) if on.any() else 1.0
    return x * np.sqrt(10 ** (snr_db / 10) / p)


def _awgn(rng: np.random.Generator, n: int) -> np.ndarray:
    return (rng.standard_normal(n) + 1j * rng.standard_normal(n)) / np.sqrt(2)


def n_samples(n_freq: int, n_time: int) -> int:
    """Waveform length giving exactly ``n_time`` STFT frames of ``n_freq`` samples, hop ``n_freq // 2``."""
    return n_freq + (n_time - 1) * (n_freq // 2)


def power_spectrogram(x: np.ndarray, n_freq: int, n_time: int) -> np.ndarray:
    """Power STFT of waveforms ``(n, L)`` -> ``(n, n_freq, n_time)`` float32, DC in the centre row.

    Hann window of ``n_freq`` samples, hop ``n_freq // 2``, only frames fully inside the waveform.
    """
    hop = n_freq // 2
    sft = ShortTimeFFT(hann(n_freq, sym=False), hop=hop, fs=1.0, fft_mode="centered")
    # p0 = first slice fully inside the signal: with scipy's centring that is slice n_freq/(2*hop) = 1
    p0 = sft.lower_border_end[1]
    s = sft.spectrogram(x, p0=p0, p1=p0 + n_time, axis=-1)
    if s.shape[-1] != n_time:
        raise ValueError(f"waveform of {x.shape[-1]} samples is too short for {n_time} frames")
    return s.astype(np.float32)


def _check(start: int, stop: int, seed: int, n_freq: int, n_time: int) -> None:
    if not (0 <= start <= stop):
        raise ValueError(f"need 0 <= start <= stop, got start={start}, stop={stop}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    if n_freq < 8 or n_freq % 2 or n_time < 1:
        raise ValueError(f"n_freq must be an even integer >= 8 and n_time >= 1, got {n_freq}, {n_time}")


def _snr_range(snr_db: tuple[float, float]) -> tuple[float, float]:
    lo, hi = (float(v) for v in snr_db)
    if lo > hi:
        raise ValueError(f"snr_db must be (low, high) with low <= high, got {snr_db}")
    return lo, hi


# ------------------------------------------------------------------------------------------- datasets
def generate_rfs(
    start: int, stop: int, seed: int = 0, *, n_freq: int = 64, n_time: int = 64,
    snr_db: tuple[float, float] = (-5.0, 20.0),
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Labelled single-emitter spectrograms: ``(n, 1, n_freq, n_time)`` power and ``{"label": (n,) int64}``.

    The class of sample ``i`` is ``i % len(CLASS_NAMES)`` so every class is equally represented.
    """
    _check(start, stop, seed, n_freq, n_time)
    lo, hi = _snr_range(snr_db)
    n = n_samples(n_freq, n_time)
    idx = np.arange(start, stop)
    labels = (idx % len(CLASS_NAMES)).astype(np.int64)
    wave = np.empty((idx.size, n), np.complex128)
    for j, i in enumerate(idx):
        rng = np.random.default_rng([seed, STREAM_RFS, int(i)])
        snr = rng.uniform(lo, hi)
        wave[j] = emitter(rng, CLASS_NAMES[labels[j]], n, snr) + _awgn(rng, n)
    x = power_spectrogram(wave, n_freq, n_time) if idx.size else np.zeros((0, n_freq, n_time), np.float32)
    return x[:, None], {"label": labels}


def generate_mixtures(
    start: int, stop: int, seed: int = 0, *, n_freq: int = 64, n_time: int = 64,
    max_emitters: int = 3, snr_db: tuple[float, float] = (0.0, 20.0), rel_power_db: float = 15.0,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Unlabelled mixtures of 1..``max_emitters`` emitters of random (non-noise) classes: ``(n, 1, F, T)``.

    The strongest emitter has an SNR drawn from ``snr_db``; the others are up to ``rel_power_db`` weaker.
    """
    _check(start, stop, seed, n_freq, n_time)
    lo, hi = _snr_range(snr_db)
    if max_emitters < 1:
        raise ValueError(f"max_emitters must be >= 1, got {max_emitters}")
    n = n_samples(n_freq, n_time)
    classes = [c for c in CLASS_NAMES if c != "noise"]
    wave = np.empty((stop - start, n), np.complex128)
    for j, i in enumerate(range(start, stop)):
        rng = np.random.default_rng([seed, STREAM_MIXTURE, i])
        k = int(rng.integers(1, max_emitters + 1))
        top = rng.uniform(lo, hi)
        x = _awgn(rng, n)
        for e in range(k):
            snr = top if e == 0 else top - rng.uniform(0.0, rel_power_db)
            x += emitter(rng, classes[int(rng.integers(len(classes)))], n, snr)
        wave[j] = x
    out = power_spectrogram(wave, n_freq, n_time) if len(wave) else np.zeros((0, n_freq, n_time), np.float32)
    return out[:, None], {}


def shape_fields(options: Mapping[str, Any]) -> dict[str, Any]:
    """What the options of a spectrogram dataset change in its description: the raw ``(n_freq, n_time)``."""
    return {"raw_shape": (int(options["n_freq"]), int(options["n_time"]))}
