"""Synthetic RAW multi-antenna IQ samples: pretraining mixtures, RF fingerprinting and interference detection.

Every generator returns ``x`` float32 of shape ``(n, A, 2, T)`` — receive antennas × (I, Q) × time samples
(default ``T = 1024``) — and a dict of labels. Waveforms come from the technology builders of
:mod:`wfm.data.synthetic.spectrogram` (normalised sample rate ``fs = 1``, band ``[-0.5, 0.5)``).

Receiver model shared by the three datasets: a uniform linear array of ``A`` antennas with half-wavelength
spacing. An emitter reaches it over 1–3 paths, each with its own angle of arrival ``θ`` (steering vector
``a_k(θ) = exp(jπ k sin θ)``, ``k = 0..A-1``), integer delay (0–6 samples) and complex gain; the first path
is the strongest and the path gains are normalised to unit total power, so the mean per-antenna power of an
emitter is its SNR. Noise is independent unit-power complex AWGN per antenna, as in
:mod:`~wfm.data.synthetic.spectrogram`: values are RAW (signal powers are SNRs in linear units), not
standardised. SNR counts the emitter's power while it transmits (bursty classes are not penalised for idle
time).

Sample ``i`` depends only on ``np.random.default_rng([seed, stream, i])`` (and, for RF fingerprinting, on
the transmitter population drawn from ``(seed, tx)``), so any chunking of ``[start, stop)`` gives identical
arrays.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .spectrogram import BUILDERS, _awgn, _qam, _tone

__all__ = [
    "INTERFERENCE_CLASSES",
    "STREAM_IQ",
    "STREAM_INTERFERENCE",
    "STREAM_RFFP",
    "STREAM_TX",
    "generate_interference",
    "generate_iq",
    "generate_rffp",
    "generate_unlabelled",
    "interference_fields",
    "iq_fields",
    "rffp_class_names",
    "rffp_fields",
    "steering",
    "transmitter_impairments",
]

#: Random streams (second element of the per-sample seed); distinct from spectrogram.py (101, 102) and
#: csi_scene.py (10–14, 20, 21 and the same + 100).
STREAM_IQ = 201
STREAM_RFFP = 202
STREAM_INTERFERENCE = 203
#: stream of the transmitter population of the RF-fingerprinting dataset: ``[seed, STREAM_TX, tx]``
STREAM_TX = 204
#: stream of the known burst of RF fingerprinting with ``payload="preamble"``: ``[seed, STREAM_PREAMBLE]``
STREAM_PREAMBLE = 205

#: Interference classes, in label order.
INTERFERENCE_CLASSES: tuple[str, ...] = ("none", "dsss", "tone", "chirp", "noise")

#: technology classes drawn for the unlabelled mixtures (every builder but "noise")
_EMITTER_CLASSES: tuple[str, ...] = tuple(c for c in BUILDERS if c != "noise")

_MAX_DELAY = 6  # longest path delay of the array channel, samples


def rffp_class_names(n_tx: int) -> tuple[str, ...]:
    """Class names of the RF-fingerprinting labels: ``("tx0", ..., f"tx{n_tx - 1}")``."""
    return tuple(f"tx{k}" for k in range(int(n_tx)))


# ----------------------------------------------------------------------------------------------- checks
def _check(start: int, stop: int, seed: int, n_samples: int) -> tuple[int, int, int, int]:
    start, stop, seed, n_samples = int(start), int(stop), int(seed), int(n_samples)
    if not (0 <= start <= stop):
        raise ValueError(f"need 0 <= start <= stop, got start={start}, stop={stop}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    if n_samples < 16:
        raise ValueError(f"n_samples must be >= 16, got {n_samples}")
    return start, stop, seed, n_samples


def _range(name: str, value: tuple[float, float]) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair (low, high), got {value!r}") from None
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo > hi:
        raise ValueError(f"{name} must be (low, high) with low <= high, got {value!r}")
    return lo, hi


def _positive_int(name: str, value: int) -> int:
    try:
        ok = not isinstance(value, bool) and int(value) == value and int(value) >= 1
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def _antenna_count(antennas: int) -> int:
    return _positive_int("antennas", antennas)


def _antenna_set(antennas: int | Sequence[int]) -> tuple[int, ...]:
    values = (antennas,) if np.ndim(antennas) == 0 else tuple(np.asarray(antennas).ravel().tolist())
    if not values:
        raise ValueError("antennas must name at least one antenna count")
    return tuple(_antenna_count(a) for a in values)


# ------------------------------------------------------------------------------------------- channel
def steering(n_ant: int, theta: float | np.ndarray) -> np.ndarray:
    """Half-wavelength ULA steering vectors ``exp(jπ k sin θ)``, ``k = 0..n_ant-1``: shape ``(*θ.shape, n_ant)``."""
    return np.exp(1j * np.pi * np.multiply.outer(np.sin(theta), np.arange(n_ant)))


def _scale_active(x: np.ndarray, power: float) -> np.ndarray:
    """Scale ``x`` so its mean power over the samples where it transmits is ``power``."""
    on = np.abs(x) > 1e-9
    p = np.mean(np.abs(x[on]) ** 2) if on.any() else 1.0
    return x * np.sqrt(power / p)


def _array_channel(rng: np.random.Generator, s: np.ndarray, n_ant: int, n: int,
                   theta: float | None = None) -> np.ndarray:
    """Waveform ``s`` of ``n + _MAX_DELAY`` samples -> ``(n_ant, n)`` at the array over 1–3 paths.

    The first path arrives from ``theta`` (uniform in ±60° if None), later paths from within ±40° of it
    (clipped to ±90°), with delays 1.._MAX_DELAY samples and Rayleigh gains decaying with delay. The gains
    are normalised to unit total power (random common phase), so per-antenna power ≈ power of ``s``.
    """
    n_paths = int(rng.integers(1, 4))
    theta0 = rng.uniform(-np.pi / 3, np.pi / 3) if theta is None else float(theta)
    angles = np.clip(theta0 + np.r_[0.0, rng.uniform(-2 * np.pi / 9, 2 * np.pi / 9, n_paths - 1)],
                     -np.pi / 2, np.pi / 2)
    delays = np.r_[0, np.sort(rng.permutation(_MAX_DELAY)[: n_paths - 1] + 1)].astype(int)
    gains = (rng.standard_normal(n_paths) + 1j * rng.standard_normal(n_paths)) / np.sqrt(2)
    gains *= np.exp(-delays / 3.0)
    gains[0] = 1.0
    gains *= np.exp(2j * np.pi * rng.random()) / np.linalg.norm(gains)
    a = steering(n_ant, angles)  # (n_paths, n_ant)
    y = np.zeros((n_ant, n), np.complex128)
    for p in range(n_paths):
        d = _MAX_DELAY - delays[p]
        y += (gains[p] * a[p])[:, None] * s[d:d + n][None, :]
    return y


def _noise(rng: np.random.Generator, n_ant: int, n: int) -> np.ndarray:
    return _awgn(rng, n_ant * n).reshape(n_ant, n)


def _to_real(y: np.ndarray) -> np.ndarray:
    """Complex ``(..., A, T)`` -> float32 ``(..., A, 2, T)`` (I, Q)."""
    return np.stack([y.real, y.imag], axis=-2).astype(np.float32)


# --------------------------------------------------------------------------------- pretraining (iq)
def generate_iq(
    start: int, stop: int, seed: int = 0, *, n_samples: int = 1024, antennas: int | Sequence[int] = (1, 2, 4),
    snr_db: tuple[float, float] = (0.0, 20.0), max_emitters: int = 2, rel_power_db: float = 15.0,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Unlabelled multi-antenna IQ of 1..``max_emitters`` emitters of random (non-noise) technology classes.

    Each emitter (a :data:`~wfm.data.synthetic.spectrogram.BUILDERS` waveform with a CFO of up to ±0.02
    cycles/sample) arrives from its own random angle over 1–3 paths (see the module docstring); the strongest
    has an SNR drawn from ``snr_db``, the others are up to ``rel_power_db`` weaker. Noise: unit-power AWGN
    per antenna.

    The number of real antennas of each sample is drawn uniformly from ``antennas``. Since a batch needs one
    antenna dimension, ``x`` always has ``A = max(antennas)`` rows: a sample with ``a < A`` real antennas
    holds them in rows ``0..a-1`` (the first ``a`` elements of the array) and ZEROS in rows ``a..A-1`` (no
    noise either). ``labels["antennas"]`` (``(n,)`` int64) gives each sample's real antenna count, so a
    model can mask the padding. Returns ``x`` float32 ``(n, A, 2, n_samples)``.
    """
    start, stop, seed, n_samples = _check(start, stop, seed, n_samples)
    choices = _antenna_set(antennas)
    lo, hi = _range("snr_db", snr_db)
    max_emitters = _positive_int("max_emitters", max_emitters)
    n_max = max(choices)
    n, n_ext = n_samples, n_samples + _MAX_DELAY
    out = np.zeros((stop - start, n_max, n), np.complex128)
    count = np.empty(stop - start, np.int64)
    for j, i in enumerate(range(start, stop)):
        rng = np.random.default_rng([seed, STREAM_IQ, i])
        a = choices[int(rng.integers(len(choices)))]
        k = int(rng.integers(1, max_emitters + 1))
        top = rng.uniform(lo, hi)
        y = _noise(rng, a, n)
        for e in range(k):
            snr = top if e == 0 else top - rng.uniform(0.0, rel_power_db)
            s = BUILDERS[_EMITTER_CLASSES[int(rng.integers(len(_EMITTER_CLASSES)))]](rng, n_ext)
            s = _scale_active(s * _tone(rng.uniform(-0.02, 0.02), n_ext), 10 ** (snr / 10))
            y += _array_channel(rng, s, a, n)
        out[j, :a] = y
        count[j] = a
    return _to_real(out), {"antennas": count}


# ---------------------------------------------------------------------------------- RF fingerprinting
def transmitter_impairments(seed: int, tx: int) -> dict[str, float]:
    """Hardware impairments of transmitter ``tx`` of the population of ``seed`` (from ``[seed, STREAM_TX, tx]``).

    Keys (all floats):

    * ``iq_gain_db`` — IQ gain imbalance, ±(0.5..1.5) dB; ``iq_phase_deg`` — IQ phase imbalance, ±5°;
    * ``dc_i`` / ``dc_q`` — DC offset (LO leakage) of I and Q, ±5 % of the RMS amplitude each;
    * ``pa_sat`` — Rapp AM/AM saturation amplitude in units of the input RMS, 1.2..2.5 (OFDM peaks at
      ~3× RMS are clipped hard, single-carrier peaks at ~1.6× mildly); ``pa_p`` — Rapp smoothness 1.5..4;
      ``pa_phase_deg`` — AM/PM: ``Φ(r) = pa_phase_deg · u/(1+u)``, ``u = (r/pa_sat)²``, ±(2..15)°;
    * ``pn_linewidth`` — Wiener phase-noise linewidth (cycles/sample), log-uniform 1e-6..3e-5 (phase std
      after 1024 samples 0.08..0.44 rad);
    * ``cfo`` — carrier-frequency offset in cycles/sample, ±1.2e-3 (±10 ppm of a 2.4 GHz carrier at
      20 Msample/s; 1 ppm = 1.2e-4 cycles/sample). Each capture adds a jitter of std 1.2e-4 (1 ppm).
    """
    seed, tx = int(seed), int(tx)
    if seed < 0 or tx < 0:
        raise ValueError(f"seed and tx must be >= 0, got seed={seed}, tx={tx}")
    rng = np.random.default_rng([seed, STREAM_TX, tx])
    sign = lambda: float(rng.choice((-1.0, 1.0)))  # noqa: E731
    return {
        "iq_gain_db": sign() * rng.uniform(0.5, 1.5),
        "iq_phase_deg": rng.uniform(-5.0, 5.0),
        "dc_i": rng.uniform(-0.05, 0.05),
        "dc_q": rng.uniform(-0.05, 0.05),
        "pa_sat": rng.uniform(1.2, 2.5),
        "pa_p": rng.uniform(1.5, 4.0),
        "pa_phase_deg": sign() * rng.uniform(2.0, 15.0),
        "pn_linewidth": float(10 ** rng.uniform(-6.0, np.log10(3e-5))),
        "cfo": rng.uniform(-1.2e-3, 1.2e-3),
    }


_CFO_JITTER = 1.2e-4  # per-capture CFO jitter (std), cycles/sample


def _iq_imbalance(x: np.ndarray, gain_db: float, phase_deg: float) -> np.ndarray:
    """IQ modulator imbalance ``K1 x + K2 conj(x)``: Q branch gain ``g`` and phase error ``φ`` vs the I branch.

    ``K1 = (1 + g e^{-jφ}) / 2``, ``K2 = (1 - g e^{jφ}) / 2``; image rejection ratio ``|K2|² / |K1|²``.
    """
    g, phi = 10 ** (gain_db / 20), np.deg2rad(phase_deg)
    return 0.5 * (1 + g * np.exp(-1j * phi)) * x + 0.5 * (1 - g * np.exp(1j * phi)) * np.conj(x)


def _rapp(x: np.ndarray, sat: float, p: float, phase_deg: float) -> np.ndarray:
    """Memoryless PA: Rapp AM/AM ``r / (1 + (r/sat)^{2p})^{1/(2p)}`` and AM/PM ``Φ = phase · u/(1+u)``, u = (r/sat)²."""
    r = np.abs(x)
    amp = 1.0 / (1.0 + (r / sat) ** (2 * p)) ** (1 / (2 * p))
    u = (r / sat) ** 2
    return x * amp * np.exp(1j * np.deg2rad(phase_deg) * u / (1 + u))


def _rrc(sps: int, beta: float, span: int = 8) -> np.ndarray:
    """Root-raised-cosine pulse, ``span`` symbols long, ``sps`` samples per symbol, unit energy."""
    t = np.arange(-span * sps // 2, span * sps // 2 + 1) / sps
    h = np.empty_like(t)
    for k, tk in enumerate(t):
        if abs(tk) < 1e-9:
            h[k] = 1 - beta + 4 * beta / np.pi
        elif abs(abs(4 * beta * tk) - 1) < 1e-9:
            h[k] = beta / np.sqrt(2) * ((1 + 2 / np.pi) * np.sin(np.pi / (4 * beta))
                                        + (1 - 2 / np.pi) * np.cos(np.pi / (4 * beta)))
        else:
            h[k] = (np.sin(np.pi * tk * (1 - beta)) + 4 * beta * tk * np.cos(np.pi * tk * (1 + beta))) / (
                np.pi * tk * (1 - (4 * beta * tk) ** 2))
    return h / np.linalg.norm(h)


def _single_carrier(rng: np.random.Generator, n: int, sps: int, beta: float, order: int) -> tuple[np.ndarray, int]:
    """RRC-shaped ``order``-QAM symbols at ``sps`` samples/symbol (roll-off ``beta``): the whole filtered
    sequence (``n`` samples after the filter's ramp-up, plus at least ``sps`` more for a timing offset) and the
    ramp-up length in samples."""
    h = _rrc(sps, beta)
    n_sym = -(-n // sps) + h.size // sps + 2
    up = np.zeros(n_sym * sps, np.complex128)
    up[::sps] = _qam(rng, (n_sym,), order)
    return np.convolve(up, h), h.size


def _rffp_waveform(rng: np.random.Generator, n: int) -> np.ndarray:
    """The baseband burst every transmitter sends: RRC single-carrier QPSK / 16-QAM or LTE-like OFDM.

    Modulation, symbol rate, roll-off and payload are drawn here, from the per-sample stream only: they carry
    no information about the transmitter.
    """
    kind = int(rng.integers(3))
    if kind == 2:
        return BUILDERS["lte"](rng, n)
    sps = int(rng.integers(3, 9))
    beta = rng.uniform(0.2, 0.5)
    x, ramp = _single_carrier(rng, n, sps, beta, 4 if kind == 0 else 16)
    off = ramp + int(rng.integers(sps))  # skip the filter ramp-up; random symbol timing
    return x[off:off + n]


def _rffp_preamble(seed: int, n: int) -> np.ndarray:
    """The known burst of ``payload="preamble"``: one single-carrier QPSK sequence (4 samples/symbol, roll-off
    0.35), the same for every transmitter and capture of the population of ``seed``."""
    x, ramp = _single_carrier(np.random.default_rng([seed, STREAM_PREAMBLE]), n, 4, 0.35, 4)
    return x[ramp:ramp + n]


def _impair(rng: np.random.Generator, x: np.ndarray, imp: dict[str, float]) -> np.ndarray:
    """Transmitter chain: IQ modulator (imbalance + LO leakage) -> PA -> LO phase noise and CFO."""
    x = x / np.sqrt(np.mean(np.abs(x) ** 2))
    x = _iq_imbalance(x, imp["iq_gain_db"], imp["iq_phase_deg"]) + (imp["dc_i"] + 1j * imp["dc_q"])
    x = _rapp(x, imp["pa_sat"], imp["pa_p"], imp["pa_phase_deg"])
    n = x.size
    phase = np.cumsum(rng.standard_normal(n)) * np.sqrt(2 * np.pi * imp["pn_linewidth"])
    cfo = imp["cfo"] + _CFO_JITTER * rng.standard_normal()
    return x * np.exp(1j * (phase + rng.uniform(0, 2 * np.pi))) * _tone(cfo, n)


def generate_rffp(
    start: int, stop: int, seed: int = 0, *, n_samples: int = 1024, n_tx: int = 8, antennas: int = 2,
    snr_db: tuple[float, float] = (0.0, 25.0), payload: str = "random",
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """RF fingerprinting: captures of ``n_tx`` transmitters, ``(n, antennas, 2, n_samples)``, ``{"tx": (n,) int64}``.

    The transmitter population is fixed by ``seed`` (:func:`transmitter_impairments`; tx ``k`` is the same
    whatever ``n_tx``); sample ``i`` comes from transmitter ``i % n_tx`` (balanced classes). Every transmitter
    sends the same kind of burst, drawn per capture independently of the label (:func:`_rffp_waveform`:
    RRC single-carrier QPSK/16-QAM at 3–8 samples/symbol, or the LTE-like OFDM builder), through its own
    IQ imbalance, DC offset, Rapp PA (AM/AM + AM/PM), Wiener phase noise and CFO (+ 1 ppm per-capture
    jitter), then a random 1–3 path array channel (random angle, delays, gains and common phase) and
    unit-power AWGN at an SNR from ``snr_db``.

    Strength (chosen, not calibrated by training): each impairment alone is small against the channel and the
    noise — the IQ image is 20–35 dB below the signal, DC leakage ≥ 23 dB below, the CFO classes overlap (tx
    offsets ±10 ppm, jitter 1 ppm, so 8 transmitters are typically 2–3 jitter stds apart, closer pairs
    happen) and the PA compression depends on the waveform's crest factor — so no single statistic separates
    all transmitters, and at the low end of the SNR range the weaker fingerprints are buried in noise; a model
    that integrates all of them over a 1024-sample capture can identify the transmitter. Sanity check (seed 0,
    8 transmitters, default options): gradient boosting on hand-crafted features (CFO estimators, impropriety,
    LO leakage, amplitude moments, coarse spectrum) trained on 16k captures scored 52 % on 4k held-out ones
    (chance 12.5 %): 30 % at 0–5 dB, 62 % at 20–25 dB SNR; its CFO features alone 46 %.

    ``payload="preamble"`` makes every capture the same known burst (:func:`_rffp_preamble`, fixed by ``seed``)
    instead of a random one, as fingerprinting systems do when they cut the preamble out of each frame: the
    transmitter's distortion is then the only thing besides channel, phase, CFO and noise that differs between
    captures.
    """
    if payload not in ("random", "preamble"):
        raise ValueError(f"payload must be 'random' or 'preamble', got {payload!r}")
    start, stop, seed, n_samples = _check(start, stop, seed, n_samples)
    n_ant = _antenna_count(antennas)
    lo, hi = _range("snr_db", snr_db)
    n_tx = _positive_int("n_tx", n_tx)
    idx = np.arange(start, stop)
    labels = (idx % n_tx).astype(np.int64)
    pop = {int(t): transmitter_impairments(seed, int(t)) for t in np.unique(labels)}
    n, n_ext = n_samples, n_samples + _MAX_DELAY
    known = _rffp_preamble(seed, n_ext) if payload == "preamble" else None
    out = np.empty((idx.size, n_ant, n), np.complex128)
    for j, i in enumerate(idx):
        rng = np.random.default_rng([seed, STREAM_RFFP, int(i)])
        snr = rng.uniform(lo, hi)
        burst = _rffp_waveform(rng, n_ext) if known is None else known
        s = _impair(rng, burst, pop[int(labels[j])])
        s = s * np.sqrt(10 ** (snr / 10) / np.mean(np.abs(s) ** 2))
        out[j] = _array_channel(rng, s, n_ant, n) + _noise(rng, n_ant, n)
    return _to_real(out), {"tx": labels}


# ----------------------------------------------------------------------------- interference detection
def _dsss(rng: np.random.Generator, n: int) -> np.ndarray:
    """DSSS BPSK: data bits spread by a repeating random ±1 chip code, rectangular chips, frequency offset."""
    sps = int(rng.integers(2, 9))  # samples per chip: chip rate 0.125..0.5 (main lobe 2/sps wide)
    code = 2.0 * rng.integers(0, 2, int(rng.choice((7, 15, 31, 63)))) - 1.0
    n_chips = -(-n // sps) + 1
    n_bits = -(-n_chips // code.size)
    chips = (np.repeat(2.0 * rng.integers(0, 2, n_bits) - 1.0, code.size) * np.tile(code, n_bits))
    x = np.repeat(chips, sps)
    off = int(rng.integers(0, x.size - n + 1))
    return x[off:off + n] * _tone(rng.uniform(-0.3, 0.3), n)


def _cw(rng: np.random.Generator, n: int) -> np.ndarray:
    """Continuous tone at a random frequency in ±0.45 cycles/sample."""
    return _tone(rng.uniform(-0.45, 0.45), n)


def _chirp(rng: np.random.Generator, n: int) -> np.ndarray:
    """Sawtooth linear chirp (sweep jammer): bandwidth 0.1..0.8, sweep period 64..1024 samples, up or down."""
    bw = rng.uniform(0.1, 0.8)
    period = rng.uniform(64, 1024)
    fc = rng.uniform(-(0.5 - bw / 2), 0.5 - bw / 2) * 0.9
    t = np.arange(n) + rng.uniform(0, period)
    freq = fc + float(rng.choice((-1.0, 1.0))) * bw * (np.mod(t / period, 1.0) - 0.5)
    return np.exp(2j * np.pi * np.mod(np.cumsum(freq), 1.0))


def _band_noise(rng: np.random.Generator, n: int) -> np.ndarray:
    """Narrowband / partial-band Gaussian noise: bandwidth 0.02..0.3, centre in ±0.4 (FFT-masked white noise)."""
    bw = rng.uniform(0.02, 0.3)
    fc = rng.uniform(-0.4, 0.4)
    f = np.fft.fftfreq(n)
    mask = np.abs(np.mod(f - fc + 0.5, 1.0) - 0.5) <= bw / 2
    return np.fft.ifft(np.fft.fft(_awgn(rng, n)) * mask)


_INTERFERERS = {"dsss": _dsss, "tone": _cw, "chirp": _chirp, "noise": _band_noise}


def _other_angle(rng: np.random.Generator, theta: float, min_sep: float = np.deg2rad(10.0)) -> float:
    """An angle uniform in ±75° at least ``min_sep`` from ``theta``."""
    while True:
        a = rng.uniform(-5 * np.pi / 12, 5 * np.pi / 12)
        if abs(a - theta) >= min_sep:
            return float(a)


def generate_interference(
    start: int, stop: int, seed: int = 0, *, n_samples: int = 1024, antennas: int = 1,
    snr_db: tuple[float, float] = (5.0, 25.0), sir_db: tuple[float, float] = (-15.0, 0.0),
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Interference detection / classification on an LTE-like signal: ``(n, antennas, 2, n_samples)``.

    The signal of interest is the ``lte`` builder (bandwidth 0.38..0.9 of fs, CFO up to ±0.01) at an SNR from
    ``snr_db``; sample ``i`` carries interferer class ``INTERFERENCE_CLASSES[i % 5]`` (balanced):

    * ``none`` — the signal alone;
    * ``dsss`` — BPSK spread by a repeating random ±1 code (length 7–63), 2–8 samples/chip, offset ±0.3;
    * ``tone`` — continuous wave at a random frequency in ±0.45;
    * ``chirp`` — sawtooth linear sweep, bandwidth 0.1–0.8, period 64–1024 samples, up or down;
    * ``noise`` — Gaussian noise in a random band of width 0.02–0.3 centred within ±0.4.

    The interferer power is the signal power divided by ``10^(SIR/10)``, SIR from ``sir_db``. The default
    −15…0 dB (interference at or above the signal, as a jammer is) is calibrated (docs/datasets_synthetic.md):
    at −5…15 dB the interferer often sits below the LTE signal and a ViT trained on the task from scratch
    scored within 2 points of random features. Signal and
    interferer come from different angles (≥ 10° apart) over their own 1–3 path array channels; unit-power
    AWGN per antenna. Labels: ``{"interference": (n,) int64, "present": (n,) int64}`` (present = class != 0).
    """
    start, stop, seed, n_samples = _check(start, stop, seed, n_samples)
    n_ant = _antenna_count(antennas)
    lo, hi = _range("snr_db", snr_db)
    sir_lo, sir_hi = _range("sir_db", sir_db)
    idx = np.arange(start, stop)
    labels = (idx % len(INTERFERENCE_CLASSES)).astype(np.int64)
    n, n_ext = n_samples, n_samples + _MAX_DELAY
    out = np.empty((idx.size, n_ant, n), np.complex128)
    for j, i in enumerate(idx):
        rng = np.random.default_rng([seed, STREAM_INTERFERENCE, int(i)])
        p_sig = 10 ** (rng.uniform(lo, hi) / 10)
        s = BUILDERS["lte"](rng, n_ext) * _tone(rng.uniform(-0.01, 0.01), n_ext)
        theta = rng.uniform(-np.pi / 3, np.pi / 3)
        y = _array_channel(rng, _scale_active(s, p_sig), n_ant, n, theta) + _noise(rng, n_ant, n)
        kind = INTERFERENCE_CLASSES[labels[j]]
        if kind != "none":
            p_int = p_sig / 10 ** (rng.uniform(sir_lo, sir_hi) / 10)
            v = _scale_active(_INTERFERERS[kind](rng, n_ext), p_int)
            y += _array_channel(rng, v, n_ant, n, _other_angle(rng, theta))
        out[j] = y
    return _to_real(out), {"interference": labels, "present": (labels != 0).astype(np.int64)}


# ------------------------------------------------------------------------------- registry helpers
def generate_unlabelled(
    start: int, stop: int, seed: int = 0, *, antennas: int, **options: Any
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """:func:`generate_iq` at exactly ``antennas`` antennas (every sample real, no padding rows), unlabelled."""
    x, _ = generate_iq(start, stop, seed, antennas=(antennas,), **options)
    return x, {}


def iq_fields(options: Mapping[str, Any]) -> dict[str, Any]:
    """What the options of an IQ dataset change in its description: the raw ``(2, n_samples)``."""
    return {"raw_shape": (2, int(options["n_samples"]))}


def rffp_fields(options: Mapping[str, Any]) -> dict[str, Any]:
    """RF fingerprinting: length, antennas and the ``n_tx`` transmitter classes follow the options."""
    return {**iq_fields(options), "channels": int(options["antennas"]),
            "class_names": {"tx": rffp_class_names(int(options["n_tx"]))}}


def interference_fields(options: Mapping[str, Any]) -> dict[str, Any]:
    """Interference: length and antennas follow the options."""
    return {**iq_fields(options), "channels": int(options["antennas"])}
