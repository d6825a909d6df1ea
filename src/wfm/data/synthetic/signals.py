"""The built-in radio-signal corpus: 42 signal classes in 13 families, with the front-end and channel defects of
real captures, as raw IQ and as power spectrograms of the same draw.

A capture is ``n_samples`` complex baseband samples at a normalised sample rate (``fs = 1``: frequencies in
cycles/sample, the band is ``[-0.5, 0.5)``) of one emitter in unit-power complex white noise. What happens to
it, in order (each step documented at its function):

1. **waveform** of its class (:data:`CLASSES`), unit power while it transmits, with its bandwidth, symbol
   rate, pulse shape and the other parameters of its class drawn from ranges (:func:`render` takes them
   explicitly), started at a random point of its symbol stream with a fractional timing offset;
2. **transmitter**: power-amplifier compression (Rapp AM/AM + AM/PM);
3. **channel**: Rayleigh / Rician multipath with Doppler (taps varying over the capture), a random carrier
   phase;
4. **local oscillator**: carrier-frequency offset and phase noise (a Wiener process);
5. **SNR**: the emitter is scaled to ``snr_db`` (drawn from a range, default -10..30 dB) over the noise power
   of the whole band, and other emitters are added: an adjacent-channel emitter beside the signal and a
   co-channel emitter on top of it, each a random class at its own power;
6. **receiver**: white noise, IQ imbalance (the image at the mirrored frequency), DC offset and ADC
   quantisation (clipping at full scale); values are returned in the units of step 5 (noise power 1).

Every impairment is applied to a capture with its probability ``p`` and its parameters drawn from its ranges
(:data:`IMPAIRMENTS`; the ``impairments`` option overrides any of them, ``{"cfo": {"p": 0}}`` turns one off).
Sample ``i`` depends only on ``(seed, i, options)`` through ``np.random.default_rng([seed, stream, i])``, and
its random draws come in a fixed order, so any chunking of a range gives identical captures. Captures are
generated a chunk at a time with every step vectorised over the chunk (throughput: docs/benchmarks.md,
"Signal corpus").

Datasets (registered in :mod:`wfm.data.synthetic`): ``signals`` / ``signals_iq`` (unlabelled pretraining,
classes drawn uniformly), ``modulation`` / ``modulation_iq`` (all classes, ``i % n_classes``) and
``signal_family`` (the family), each labelled with ``snr_db`` too so that the probe report gives accuracy per
SNR bin, and ``signals_wideband`` (several emitters per wideband capture with their time-frequency boxes).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import fft as sfft
from scipy.signal import lfilter
from scipy.special import j0

from .iq import _range

__all__ = [
    "CLASSES",
    "FAMILIES",
    "IMPAIRMENTS",
    "SignalClass",
    "class_names",
    "family_names",
    "generate_captures",
    "generate_iq",
    "generate_spectrogram",
    "generate_views",
    "generate_wideband",
    "render",
    "spectrogram_frames",
    "stft_power",
]

#: random streams (second element of the per-sample seed); distinct from the other generators' (101-102,
#: 10-21 (+100), 201-205)
STREAM_SIGNALS = 301
STREAM_WIDEBAND = 302

Rngs = Sequence[np.random.Generator]


# --------------------------------------------------------------------------------------------- helpers
def _unit(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit mean power. Every class transmits throughout its capture, so this is its power while it
    transmits; a zero-amplitude symbol (OOK's, ASK's) is part of the transmission, not a pause (all-zero rows stay)."""
    mean = np.mean(np.abs(x) ** 2, -1)
    return x / np.sqrt(np.where(mean > 1e-30, mean, 1.0))[:, None]


def _freqs(n: int) -> np.ndarray:
    return sfft.fftfreq(n)


def _lowpass_noise(rngs: Rngs, n: int, bw: np.ndarray, real: bool = False) -> np.ndarray:
    """Gaussian noise band-limited to ``|f| <= bw/2`` per row (ideal FFT mask), unit power per row; the bins
    ``±1/n`` always pass (a message of the DC bin alone would leave single-sideband AM empty in short captures)."""
    w = np.stack([r.standard_normal(n) + (0 if real else 1j) * r.standard_normal(n) for r in rngs])
    spec = sfft.fft(w, axis=-1)
    spec *= np.abs(_freqs(n))[None, :] <= np.maximum(bw[:, None] / 2, 1.5 / n)
    out = sfft.ifft(spec, axis=-1)
    out = out.real if real else out
    return out / np.sqrt(np.maximum(np.mean(np.abs(out) ** 2, -1, keepdims=True), 1e-30))


def _constellation_psk(m: int) -> np.ndarray:
    return np.exp(1j * (2 * np.pi * np.arange(m) / m + (np.pi / 4 if m == 4 else 0.0)))


def _constellation_qam(m: int) -> np.ndarray:
    """Square QAM (m = 4^k) or cross QAM (m = 2^(2k+1): the square of side 6·2^((log2 m - 5)/2) minus its four
    corner squares), unit mean power."""
    bits = int(round(np.log2(m)))
    if bits % 2 == 0:
        side = int(round(np.sqrt(m)))
        corner = 0
    else:
        side = 6 * 2 ** ((bits - 5) // 2)
        corner = side // 6
    lv = 2.0 * np.arange(side) - (side - 1)
    pts = (lv[:, None] + 1j * lv[None, :]).ravel()
    if corner:
        edge = (side - 1) - 2 * corner  # points with both |re|, |im| beyond this sit in a corner
        pts = pts[~((np.abs(pts.real) > edge) & (np.abs(pts.imag) > edge))]
    if pts.size != m:
        raise AssertionError(f"QAM-{m}: built {pts.size} points")
    return pts / np.sqrt(np.mean(np.abs(pts) ** 2))


#: APSK rings (points per ring, radius ratios to the inner ring) after DVB-S2 / S2X
_APSK_RINGS = {16: ((4, 12), (1.0, 2.7)), 32: ((4, 12, 16), (1.0, 2.64, 4.64)),
               64: ((4, 12, 20, 28), (1.0, 2.4, 4.3, 7.0))}


def _constellation_apsk(m: int) -> np.ndarray:
    counts, radii = _APSK_RINGS[m]
    pts = np.concatenate([r * np.exp(1j * (2 * np.pi * np.arange(c) / c + np.pi / c))
                          for c, r in zip(counts, radii, strict=True)])
    return pts / np.sqrt(np.mean(np.abs(pts) ** 2))


def _constellation_pam(m: int, unipolar: bool) -> np.ndarray:
    lv = np.arange(m, dtype=np.float64) if unipolar else 2.0 * np.arange(m) - (m - 1)
    return (lv / np.sqrt(np.mean(lv ** 2))).astype(np.complex128)


# ------------------------------------------------------------------------------------- pulse shapes
def _pulse_response(f: np.ndarray, sps: np.ndarray, beta: np.ndarray, kind: np.ndarray) -> np.ndarray:
    """Frequency response ``(B, L)`` of each row's symbol pulse at frequencies ``f`` (cycles/sample):
    0 root-raised cosine (roll-off ``beta``), 1 raised cosine, 2 Gaussian (BT = ``beta`` + 0.2), 3 rectangular."""
    af = np.abs(f)[None, :] * sps[:, None]  # frequency in units of the symbol rate
    b = np.maximum(beta, 1e-3)[:, None]
    lo, hi = (1 - b) / 2, (1 + b) / 2
    rc = np.where(af <= lo, 1.0, np.where(af <= hi, 0.5 * (1 + np.cos(np.pi / b * (af - lo))), 0.0))
    gauss = np.exp(-(af ** 2) * np.log(2) / (2 * (b + 0.2) ** 2))
    rect = np.sinc(af)  # a rectangle of one symbol centred on its instant (the sign of the sinc kept)
    k = kind[:, None]
    return np.where(k == 0, np.sqrt(rc), np.where(k == 1, rc, np.where(k == 2, gauss, rect)))


def _linear(rngs: Rngs, n: int, points: np.ndarray, params: Mapping[str, np.ndarray], offset_q: bool = False,
            ) -> np.ndarray:
    """Pulse-shaped linear modulation: symbols of ``points`` every ``sps`` samples through each row's pulse
    (frequency domain, which also applies the fractional timing offset ``tau``); ``offset_q``: the Q rail
    half a symbol late (OQPSK)."""
    sps, beta, kind, tau = params["sps"], params["beta"], params["pulse"], params["tau"]
    b = len(rngs)
    i_rail = np.zeros((b, n), np.complex128)
    q_rail = np.zeros((b, n), np.complex128) if offset_q else None
    for j, r in enumerate(rngs):
        s = int(sps[j])
        sym = points[r.integers(0, points.size, -(-n // s))]
        if offset_q:
            i_rail[j, ::s] = sym.real
            q_rail[j, ::s] = sym.imag
        else:
            i_rail[j, ::s] = sym
    f = _freqs(n)
    h = _pulse_response(f, sps.astype(np.float64), beta, kind) * np.exp(-2j * np.pi * f[None, :] * tau[:, None])
    spec = sfft.fft(i_rail, axis=-1) * h
    if offset_q:
        spec = spec + 1j * sfft.fft(q_rail, axis=-1) * h * np.exp(-1j * np.pi * f[None, :] * sps[:, None])
    return sfft.ifft(spec, axis=-1)


def _phase_modulation(rngs: Rngs, n: int, m: int, params: Mapping[str, np.ndarray], pulse: str) -> np.ndarray:
    """Continuous-phase FSK / CPM: ``exp(j 2π h Σ a_k q(t - kT))`` with M-ary symbols ``a_k ∈ {±1, ±3, ...}``
    and a frequency pulse ``g`` of area 1/2: ``rect`` (one symbol: FSK, MSK), ``gauss`` (a rectangle through a
    Gaussian filter of ``bt``: GFSK, GMSK) or ``rc`` (raised cosine over ``L`` symbols: CPM)."""
    sps, h, tau = params["sps"], params["h"], params["tau"]
    b = len(rngs)
    imp = np.zeros((b, n))
    for j, r in enumerate(rngs):
        s = int(sps[j])
        imp[j, ::s] = 2.0 * r.integers(0, m, -(-n // s)) - (m - 1)
    f = _freqs(n)
    sp = sps.astype(np.float64)[:, None]
    # rectangle of one symbol (area 1/2) and its shifted-sinc response; a Gaussian (BT) or an L-symbol raised
    # cosine in its place
    if pulse == "rc":
        big_l = params["L"].astype(np.float64)[:, None]
        x = f[None, :] * big_l * sp
        # transform of a raised-cosine pulse (1 - cos(2πt/LT))/(2LT) of area 1/2 over L symbols: 1/2 · sinc(x)/(1-x²)
        g = 0.5 * np.sinc(x) / np.where(np.abs(1 - x ** 2) < 1e-9, 1e-9, 1 - x ** 2)
        g = np.where(np.abs(np.abs(x) - 1) < 1e-9, 0.25, g)
        delay = big_l * sp / 2
    else:
        g = 0.5 * np.sinc(f[None, :] * sp)
        if pulse == "gauss":
            bt = params["bt"][:, None]
            g = g * np.exp(-((f[None, :] * sp) ** 2) * np.log(2) / (2 * bt ** 2))
        delay = sp / 2
    g = g * np.exp(-2j * np.pi * f[None, :] * (delay + tau[:, None]))
    freq = sfft.ifft(sfft.fft(imp, axis=-1) * g, axis=-1).real
    return np.exp(2j * np.pi * h[:, None] * np.cumsum(freq, axis=-1))


# ------------------------------------------------------------------------------------ class builders
Builder = Callable[[Rngs, int, Mapping[str, np.ndarray]], np.ndarray]
#: per-class parameter draws: ``name -> (low, high)`` ranges (ints drawn inclusive) or tuples of choices
Params = Mapping[str, Any]

_LINEAR_PARAMS: dict[str, Any] = {"sps": (2, 16), "beta": (0.1, 0.5), "pulse": (0, 0, 0, 0, 1, 2, 3),
                                  "tau": "symbol"}


def _linear_builder(points: np.ndarray, offset_q: bool = False) -> Builder:
    return lambda rngs, n, p: _linear(rngs, n, points, p, offset_q)


def _fsk_builder(m: int, pulse: str) -> Builder:
    return lambda rngs, n, p: _phase_modulation(rngs, n, m, p, pulse)


def _ofdm_builder(nfft: int) -> Builder:
    def build(rngs: Rngs, n: int, p: Mapping[str, np.ndarray]) -> np.ndarray:
        out = np.empty((len(rngs), n), np.complex128)
        for j, r in enumerate(rngs):
            os_, cp = int(p["oversample"][j]), int(round(p["cp"][j] * nfft * int(p["oversample"][j])))
            half = max(2, int(round(p["occupancy"][j] * nfft / 2)))
            bins = np.r_[-half:0, 1:half + 1]  # DC left empty
            size = nfft * os_
            n_sym = -(-n // (size + cp)) + 1
            order = int(p["qam"][j])
            grid = np.zeros((n_sym, size), np.complex128)
            data = _QAM[order][r.integers(0, order, (n_sym, bins.size))]
            spacing = int(p["pilots"][j])
            if spacing:
                pil = np.arange(bins.size) % spacing == 0
                data[:, pil] = 1.4 * (2.0 * r.integers(0, 2, (1, int(pil.sum()))) - 1)
            grid[:, bins % size] = data
            t = sfft.ifft(grid, axis=-1) * np.sqrt(size)
            sym = np.concatenate([t[:, size - cp:], t], axis=1).ravel()
            start = int(r.integers(0, size + cp))
            out[j] = sym[start:start + n]
        return out
    return build


def _analog(kind: str) -> Builder:
    def build(rngs: Rngs, n: int, p: Mapping[str, np.ndarray]) -> np.ndarray:
        msg = _lowpass_noise(rngs, n, p["message_bw"], real=True)
        msg /= np.maximum(np.max(np.abs(msg), -1, keepdims=True), 1e-12)
        if kind == "fm":
            return np.exp(2j * np.pi * np.cumsum(p["deviation"][:, None] * msg, axis=-1))
        if kind == "am_dsb":
            return (1.0 + p["depth"][:, None] * msg).astype(np.complex128)
        if kind == "am_dsb_sc":
            return msg.astype(np.complex128)
        spec = sfft.fft(msg, axis=-1)  # single sideband: the analytic signal (or its mirror)
        f = _freqs(n)
        spec *= (2.0 * (f > 0) if kind == "am_usb" else 2.0 * (f < 0))[None, :]
        return sfft.ifft(spec, axis=-1)
    return build


def _lfm(direction: float) -> Builder:
    def build(rngs: Rngs, n: int, p: Mapping[str, np.ndarray]) -> np.ndarray:
        t = np.arange(n)[None, :] + np.array([r.integers(0, 1 << 16) for r in rngs])[:, None]
        period, bw = p["period"][:, None].astype(np.float64), p["sweep"][:, None]
        frac = np.mod(t, period) / period
        inst = direction * bw * (frac - 0.5)  # instantaneous frequency, a sawtooth of period `period`
        return np.exp(2j * np.pi * np.cumsum(inst, axis=-1))
    return build


def _fhss(rngs: Rngs, n: int, p: Mapping[str, np.ndarray]) -> np.ndarray:
    """Frequency hopping: a binary FSK (deviation ±``sps``-dependent) whose carrier hops every ``dwell``
    samples to a frequency uniform in ±0.4."""
    out = np.empty((len(rngs), n))
    for j, r in enumerate(rngs):
        d, s = int(p["dwell"][j]), int(p["sps"][j])
        start = int(r.integers(0, d))
        hops = r.uniform(-0.4, 0.4, -(-(n + start) // d))
        bits = 2.0 * r.integers(0, 2, -(-(n + start) // s)) - 1
        t = np.arange(start, start + n)
        out[j] = hops[t // d] + bits[t // s] / (2.0 * s)
    return np.exp(2j * np.pi * np.cumsum(out, axis=-1))


def _tone(rngs: Rngs, n: int, p: Mapping[str, np.ndarray]) -> np.ndarray:
    return np.exp(2j * np.pi * p["offset"][:, None] * np.arange(n)[None, :])


def _noise(rngs: Rngs, n: int, p: Mapping[str, np.ndarray]) -> np.ndarray:
    return _lowpass_noise(rngs, n, p["bandwidth"])


@dataclass(frozen=True)
class SignalClass:
    """One class of the corpus: its family, how it is built and the ranges its parameters are drawn from.

    ``params``: name -> ``(low, high)`` (integers inclusive when both are ints, else uniform), a tuple of more
    than two choices, or ``"symbol"`` (a fractional timing offset uniform in one symbol, ``[0, sps)``).
    """

    name: str
    family: str
    build: Builder
    params: Params = field(default_factory=dict)


_QAM = {m: _constellation_qam(m) for m in (4, 16, 32, 64, 128, 256, 512, 1024)}


def _classes() -> tuple[SignalClass, ...]:
    lin = _LINEAR_PARAMS
    out: list[SignalClass] = []
    for m in (2, 4, 8, 16, 32):
        out.append(SignalClass(f"{'b' if m == 2 else ('q' if m == 4 else str(m))}psk", "psk",
                               _linear_builder(_constellation_psk(m)), lin))
    out.append(SignalClass("oqpsk", "psk", _linear_builder(_constellation_psk(4), offset_q=True),
                           {**lin, "sps": (2, 8, 4, 6, 10, 12, 16)}))
    out += [SignalClass(f"{m}qam", "qam", _linear_builder(_QAM[m]), lin) for m in (16, 32, 64, 128, 256, 512, 1024)]
    out += [SignalClass(f"{m}apsk", "apsk", _linear_builder(_constellation_apsk(m)), lin) for m in (16, 32, 64)]
    out += [SignalClass(f"{m}pam", "pam", _linear_builder(_constellation_pam(m, False)), lin) for m in (4, 8)]
    out += [SignalClass(f"{m}ask", "pam", _linear_builder(_constellation_pam(m, True)), lin) for m in (4, 8)]
    out.append(SignalClass("ook", "pam", _linear_builder(_constellation_pam(2, True)), lin))
    fsk = {"sps": (4, 16), "tau": "symbol"}
    out += [SignalClass(f"{m}fsk", "fsk", _fsk_builder(m, "rect"), {**fsk, "h": (0.5, 1.0)}) for m in (2, 4, 8)]
    out.append(SignalClass("msk", "fsk", _fsk_builder(2, "rect"), {**fsk, "h": (0.5, 0.5)}))
    out.append(SignalClass("gfsk", "fsk", _fsk_builder(2, "gauss"), {**fsk, "h": (0.25, 0.45), "bt": (0.3, 0.7)}))
    out.append(SignalClass("gmsk", "fsk", _fsk_builder(2, "gauss"), {**fsk, "h": (0.5, 0.5), "bt": (0.25, 0.5)}))
    out.append(SignalClass("cpm", "cpm", _fsk_builder(4, "rc"), {**fsk, "h": (0.2, 0.35), "L": (2, 3)}))
    ofdm = {"oversample": (1, 2), "cp": (0.0625, 0.125, 0.25), "occupancy": (0.6, 0.9), "qam": (4, 16, 64),
            "pilots": (0, 3, 6, 12)}
    out += [SignalClass(f"ofdm{k}", "ofdm", _ofdm_builder(k), ofdm) for k in (64, 128, 256, 512)]
    bw = {"message_bw": (0.002, 0.03)}
    out += [SignalClass("am_dsb", "am", _analog("am_dsb"), {**bw, "depth": (0.3, 0.9)}),
            SignalClass("am_dsb_sc", "am", _analog("am_dsb_sc"), bw),
            SignalClass("am_usb", "am", _analog("am_usb"), bw),
            SignalClass("am_lsb", "am", _analog("am_lsb"), bw),
            SignalClass("fm", "fm", _analog("fm"), {**bw, "deviation": (0.01, 0.12)}),
            SignalClass("lfm_up", "chirp", _lfm(1.0), {"period": (128, 1024), "sweep": (0.1, 0.8)}),
            SignalClass("lfm_down", "chirp", _lfm(-1.0), {"period": (128, 1024), "sweep": (0.1, 0.8)}),
            SignalClass("fhss", "fhss", _fhss, {"dwell": (64, 256), "sps": (8, 32)}),
            SignalClass("tone", "tone", _tone, {"offset": (-0.01, 0.01)}),
            SignalClass("noise", "noise", _noise, {"bandwidth": (0.05, 0.8)})]
    return tuple(out)


#: every class of the corpus, in label order
CLASSES: tuple[SignalClass, ...] = _classes()
_BY_NAME = {c.name: c for c in CLASSES}
#: the families, in label order (first appearance in :data:`CLASSES`)
FAMILIES: tuple[str, ...] = tuple(dict.fromkeys(c.family for c in CLASSES))


def class_names(classes: Sequence[str] | None = None) -> tuple[str, ...]:
    """The class names a ``classes`` option selects (class or family names; None: every class), in label order."""
    if classes is None:
        return tuple(c.name for c in CLASSES)
    wanted = [str(c) for c in classes]
    unknown = sorted(set(wanted) - set(_BY_NAME) - set(FAMILIES))
    if unknown:
        raise ValueError(f"signal classes {unknown} unknown; expected class names {sorted(_BY_NAME)} or "
                         f"families {list(FAMILIES)}")
    out = tuple(c.name for c in CLASSES if c.name in wanted or c.family in wanted)
    if not out:
        raise ValueError("the classes option selects no signal class")
    return out


def family_names(classes: Sequence[str] | None = None) -> tuple[str, ...]:
    """The families of the selected classes, in label order."""
    names = set(class_names(classes))
    return tuple(f for f in FAMILIES if any(c.family == f and c.name in names for c in CLASSES))


def _draw(r: np.random.Generator, spec: Any, sps: float | None) -> float:
    if spec == "symbol":
        return float(r.uniform(0.0, sps if sps else 1.0))
    if len(spec) > 2:
        return float(spec[int(r.integers(len(spec)))])
    lo, hi = spec
    if isinstance(lo, int) and isinstance(hi, int):
        return float(r.integers(lo, hi + 1))
    return float(r.uniform(lo, hi))


def _draw_params(cls: SignalClass, rngs: Rngs, fixed: Mapping[str, Any] | None = None) -> dict[str, np.ndarray]:
    out: dict[str, list[float]] = {k: [] for k in cls.params}
    fixed = fixed or {}
    for r in rngs:
        sps = None
        for k, spec in cls.params.items():
            v = float(fixed[k]) if k in fixed else _draw(r, spec, sps)
            if k == "sps":
                sps = v
            out[k].append(v)
    return {k: np.asarray(v) for k, v in out.items()}


def render(name: str, rng: np.random.Generator, n: int, **params: Any) -> np.ndarray:
    """One clean waveform of class ``name`` (``n`` complex samples, unit power while on): step 1 alone, with
    any parameter given fixed (e.g. ``render("8psk", rng, 1024, sps=8, beta=0.35, pulse=0, tau=0)``) and the
    others drawn from the class's ranges."""
    if name not in _BY_NAME:
        raise ValueError(f"unknown signal class {name!r}; expected one of {sorted(_BY_NAME)}")
    cls = _BY_NAME[name]
    unknown = sorted(set(params) - set(cls.params))
    if unknown:
        raise ValueError(f"signal class {name!r} has no parameter(s) {unknown}; it draws {sorted(cls.params)}")
    p = _draw_params(cls, [rng], params)
    return _unit(cls.build([rng], int(n), p))[0]


# -------------------------------------------------------------------------------------- impairments
#: impairment -> its defaults: ``p`` (probability per capture) and the ranges its parameters are drawn from
IMPAIRMENTS: dict[str, dict[str, Any]] = {
    "pa": {"p": 0.3, "backoff_db": (0.0, 6.0), "smoothness": (1.0, 3.0), "am_pm_deg": (0.0, 10.0)},
    "multipath": {"p": 0.7, "taps": (1, 5), "max_delay": 8, "decay": (1.0, 4.0), "k_db": (-10.0, 10.0),
                  "doppler": (0.0, 1e-3)},
    "cfo": {"p": 1.0, "max": 0.05},
    "phase_noise": {"p": 0.5, "std": (1e-3, 3e-2)},
    "adjacent": {"p": 0.2, "offset": (0.25, 0.45), "power_db": (-10.0, 10.0)},
    "cochannel": {"p": 0.1, "offset": (-0.05, 0.05), "sir_db": (5.0, 25.0)},
    "iq_imbalance": {"p": 0.5, "gain_db": (-1.0, 1.0), "phase_deg": (-5.0, 5.0)},
    "dc_offset": {"p": 0.3, "level_db": (-30.0, -10.0)},
    "quantization": {"p": 0.3, "bits": (4, 10), "full_scale": (2.0, 4.0)},
}


def impairment_options(overrides: Mapping[str, Mapping[str, Any]] | None) -> dict[str, dict[str, Any]]:
    """:data:`IMPAIRMENTS` with ``overrides`` applied (``{"cfo": {"max": 0.02}, "pa": {"p": 0}}``); an unknown
    impairment or parameter is a ValueError naming it."""
    out = {k: dict(v) for k, v in IMPAIRMENTS.items()}
    for key, value in dict(overrides or {}).items():
        if key not in out:
            raise ValueError(f"unknown impairment {key!r}; expected one of {list(IMPAIRMENTS)}")
        if not isinstance(value, Mapping):
            raise ValueError(f"impairment {key!r}: expected a mapping of its parameters, got {value!r}")
        bad = sorted(set(value) - set(out[key]))
        if bad:
            raise ValueError(f"impairment {key!r} has no parameter(s) {bad}; it takes {sorted(out[key])}")
        out[key].update(value)
        if not 0.0 <= float(out[key]["p"]) <= 1.0:
            raise ValueError(f"impairment {key!r}: p must be in [0, 1], got {out[key]['p']!r}")
    return out


def _u(r: np.random.Generator, rng_pair: Sequence[float]) -> float:
    lo, hi = rng_pair
    return float(r.uniform(lo, hi))


def _rapp(x: np.ndarray, backoff_db: np.ndarray, smooth: np.ndarray, am_pm_deg: np.ndarray) -> np.ndarray:
    """Solid-state PA: Rapp AM/AM ``|x| / (1 + (|x|/A)^(2p))^(1/2p)`` with saturation ``A`` at ``backoff_db``
    over the input rms, and AM/PM ``φ_max (|x|/A)² / (1 + (|x|/A)²)``."""
    a = np.abs(x)
    sat = 10 ** (backoff_db / 20)[:, None] * np.sqrt(np.mean(a ** 2, -1, keepdims=True))
    pp = smooth[:, None]
    r = a / sat
    gain = 1.0 / (1.0 + r ** (2 * pp)) ** (1.0 / (2 * pp))
    phase = np.deg2rad(am_pm_deg)[:, None] * r ** 2 / (1 + r ** 2)
    return x * gain * np.exp(1j * phase)


def _multipath(rngs: Rngs, x: np.ndarray, n: int, active: np.ndarray, cfg: Mapping[str, Any]) -> np.ndarray:
    """Rows of ``x`` (``n + max_delay`` samples) through a tapped delay line: tap 0 Rician (K factor
    ``k_db``: a fixed component turning at its Doppler shift plus a scattered one), later taps Rayleigh at
    distinct delays ``1..max_delay`` with powers decaying ``exp(-d / decay)``; scattered components vary as
    Gauss-Markov processes with the Jakes correlation ``J0(2π f_D Δt)`` between knots every 32 samples,
    linearly interpolated. Rows with ``active`` False pass with one tap (a flat channel). Total power 1."""
    b = x.shape[0]
    dmax = int(cfg["max_delay"])
    y = np.zeros((b, n), np.complex128)
    step = 32
    n_knots = n // step + 2
    t = np.arange(n) / step
    k0, frac = np.floor(t).astype(int), t - np.floor(t)
    for j, r in enumerate(rngs):
        if not active[j]:
            y[j] = x[j, dmax:dmax + n]
            continue
        taps = int(r.integers(int(cfg["taps"][0]), int(cfg["taps"][1]) + 1))
        delays = np.r_[0, np.sort(r.permutation(dmax)[: taps - 1] + 1)]
        power = np.exp(-delays / _u(r, cfg["decay"]))
        k = 10 ** (_u(r, cfg["k_db"]) / 10)
        fd = _u(r, cfg["doppler"])
        rho = float(j0(2 * np.pi * fd * step))
        w = (r.standard_normal((taps, n_knots)) + 1j * r.standard_normal((taps, n_knots))) / np.sqrt(2)
        w[:, 1:] *= np.sqrt(max(1 - rho ** 2, 0.0))  # g_q = ρ g_(q-1) + √(1-ρ²) w_q, g_0 = w_0 (stationary)
        g = lfilter([1.0], [1.0, -rho], w, axis=-1)
        gains = g[:, k0] * (1 - frac) + g[:, k0 + 1] * frac  # (taps, n)
        los = np.exp(1j * (2 * np.pi * fd * np.cos(r.uniform(0, 2 * np.pi)) * np.arange(n) + r.uniform(0, 2 * np.pi)))
        gains[0] = np.sqrt(k / (k + 1)) * los + np.sqrt(1 / (k + 1)) * gains[0]
        gains *= np.sqrt(power / power.sum())[:, None]
        for q, d in enumerate(delays):
            y[j] += gains[q] * x[j, dmax - d:dmax - d + n]
    return y


@dataclass
class _Capture:
    """The draws of a chunk of captures, filled stage by stage (each sample's rng used in a fixed order)."""

    rngs: list[np.random.Generator]
    cls: np.ndarray
    snr: np.ndarray


def _emit(cls_idx: np.ndarray, rngs: Rngs, n: int) -> np.ndarray:
    """Clean unit-power waveforms of classes ``cls_idx`` (indices into :data:`CLASSES`), vectorised per class."""
    out = np.empty((len(rngs), n), np.complex128)
    for c in np.unique(cls_idx):
        rows = np.flatnonzero(cls_idx == c)
        sub = [rngs[j] for j in rows]
        out[rows] = CLASSES[int(c)].build(sub, n, _draw_params(CLASSES[int(c)], sub))
    return _unit(out)


def _captures(rngs: list[np.random.Generator], cls_idx: np.ndarray, n: int, snr_db: np.ndarray,
              imp: Mapping[str, Mapping[str, Any]], pool: np.ndarray, receiver: bool = True) -> np.ndarray:
    """Steps 1-6 of the module docstring for a chunk: ``(b, n)`` complex captures (noise power 1);
    ``receiver`` False stops after step 5 (no noise: an emitter to place in a wider capture)."""
    dmax = int(imp["multipath"]["max_delay"])
    x = _emit(cls_idx, rngs, n + dmax)
    on = {k: np.array([r.random() < float(v["p"]) for r in rngs]) for k, v in imp.items()}
    # 2. transmitter
    pa = imp["pa"]
    drawn = np.array([[_u(r, pa["backoff_db"]), _u(r, pa["smoothness"]), _u(r, pa["am_pm_deg"])] for r in rngs])
    if on["pa"].any():
        rows = on["pa"]
        x[rows] = _rapp(x[rows], drawn[rows, 0], drawn[rows, 1], drawn[rows, 2])
    # 3. channel (and a random carrier phase for every capture)
    y = _multipath(rngs, x, n, on["multipath"], imp["multipath"])
    y *= np.exp(2j * np.pi * np.array([r.random() for r in rngs]))[:, None]
    # 4. local oscillator
    t = np.arange(n)[None, :]
    cfo = np.array([r.uniform(-1, 1) * float(imp["cfo"]["max"]) for r in rngs]) * on["cfo"]
    pn_std = np.array([np.exp(_u(r, np.log(imp["phase_noise"]["std"]))) for r in rngs]) * on["phase_noise"]
    walk = np.cumsum(np.stack([r.standard_normal(n) for r in rngs]), axis=-1) * pn_std[:, None]
    y *= np.exp(1j * (2 * np.pi * cfo[:, None] * t + walk))
    # 5. SNR and the other emitters (classes from the pool, each through its own offset)
    y = _unit(y) * np.sqrt(10 ** (snr_db / 10))[:, None]
    for key, level in (("adjacent", "power_db"), ("cochannel", "sir_db")):
        cfg = imp[key]
        sign = np.array([1.0 if r.random() < 0.5 else -1.0 for r in rngs])
        off = np.array([_u(r, cfg["offset"]) for r in rngs]) * (sign if key == "adjacent" else 1.0)
        lvl = np.array([_u(r, cfg[level]) for r in rngs])
        others = np.array([pool[int(r.integers(pool.size))] for r in rngs])
        rows = np.flatnonzero(on[key])
        if rows.size:
            w = _emit(others[rows], [rngs[j] for j in rows], n)
            rel = lvl[rows] if key == "adjacent" else -lvl[rows]
            amp = np.sqrt(10 ** ((snr_db[rows] + rel) / 10))
            y[rows] += amp[:, None] * w * np.exp(2j * np.pi * (off[rows, None] + cfo[rows, None]) * t)
    if not receiver:
        return y
    # 6. receiver
    y += np.stack([(r.standard_normal(n) + 1j * r.standard_normal(n)) for r in rngs]) / np.sqrt(2)
    iq = imp["iq_imbalance"]
    g_db = np.array([_u(r, iq["gain_db"]) for r in rngs]) * on["iq_imbalance"]
    ph = np.deg2rad(np.array([_u(r, iq["phase_deg"]) for r in rngs])) * on["iq_imbalance"]
    g = 10 ** (g_db / 20)
    mu, nu = (1 + g * np.exp(-1j * ph)) / 2, (1 - g * np.exp(1j * ph)) / 2
    y = mu[:, None] * y + nu[:, None] * np.conj(y)
    rms = np.sqrt(np.mean(np.abs(y) ** 2, -1))
    dc_db = np.array([_u(r, imp["dc_offset"]["level_db"]) for r in rngs])
    dc = rms * 10 ** (dc_db / 20) * np.exp(2j * np.pi * np.array([r.random() for r in rngs])) * on["dc_offset"]
    y += dc[:, None]
    qz = imp["quantization"]
    bits = np.array([int(r.integers(int(qz["bits"][0]), int(qz["bits"][1]) + 1)) for r in rngs])
    fs = np.array([_u(r, qz["full_scale"]) for r in rngs]) * rms
    rows = np.flatnonzero(on["quantization"])
    if rows.size:
        step_ = (2 * fs[rows] / 2.0 ** bits[rows])[:, None]
        lim = fs[rows, None]
        top = lim / step_ - 0.5  # mid-rise levels (k + 1/2) Δ, clipped at full scale
        re = np.clip(np.floor(y[rows].real / step_) + 0.5, -top, top) * step_
        im = np.clip(np.floor(y[rows].imag / step_) + 0.5, -top, top) * step_
        y[rows] = re + 1j * im
    return y


# -------------------------------------------------------------------------------------------- outputs
def stft_power(x: np.ndarray, nfft: int, hop: int) -> np.ndarray:
    """Power STFT ``(n, nfft, frames)`` float32 of captures ``(n, L)``: Hann window, frames fully inside,
    two-sided with DC in the centre row."""
    frames = spectrogram_frames(x.shape[-1], nfft, hop)
    win = np.hanning(nfft + 1)[:-1]
    seg = np.lib.stride_tricks.sliding_window_view(x, nfft, axis=-1)[:, ::hop][:, :frames] * win
    s = sfft.fftshift(sfft.fft(seg, axis=-1), axes=-1)
    return (np.abs(s) ** 2).transpose(0, 2, 1).astype(np.float32)


def spectrogram_frames(n_samples: int, nfft: int, hop: int) -> int:
    """STFT frames of ``nfft`` samples every ``hop`` fully inside ``n_samples``."""
    if nfft < 8 or hop < 1 or n_samples < nfft:
        raise ValueError(f"need nfft >= 8, hop >= 1 and n_samples >= nfft, got {nfft}, {hop}, {n_samples}")
    return (n_samples - nfft) // hop + 1


def generate_captures(
    start: int, stop: int, seed: int = 0, *, n_samples: int = 1024, classes: Sequence[str] | None = None,
    snr_db: tuple[float, float] = (-10.0, 30.0), impairments: Mapping[str, Mapping[str, Any]] | None = None,
    balanced: bool = True,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Captures ``[start, stop)``: complex ``(n, n_samples)`` (noise power 1) and labels ``label`` (index into
    the selected classes), ``family`` (index into their families) and ``snr_db`` ``(n, 1)``.

    ``balanced``: the class of sample ``i`` is ``i % n_classes`` (every class equally often); else drawn.
    """
    start, stop, seed, n = int(start), int(stop), int(seed), int(n_samples)
    if not 0 <= start <= stop:
        raise ValueError(f"need 0 <= start <= stop, got start={start}, stop={stop}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    if n < 64:
        raise ValueError(f"n_samples must be >= 64, got {n_samples!r}")
    names = class_names(classes)
    fams = family_names(classes)
    lo, hi = _range("snr_db", snr_db)
    imp = impairment_options(impairments)
    pool = np.array([i for i, c in enumerate(CLASSES) if c.name in names])
    idx = np.arange(start, stop)
    rngs = [np.random.default_rng([seed, STREAM_SIGNALS, int(i)]) for i in idx]
    if balanced:
        local = idx % len(names)
        for r in rngs:  # the same draws either way, so a sample's waveform does not depend on `balanced`
            r.integers(len(names))
    else:
        local = np.array([int(r.integers(len(names))) for r in rngs], dtype=np.int64)
    snr = np.array([r.uniform(lo, hi) for r in rngs])
    cls_idx = pool[local] if idx.size else np.zeros(0, np.int64)
    y = _captures(rngs, cls_idx, n, snr, imp, pool) if idx.size else np.zeros((0, n), np.complex128)
    family = np.array([fams.index(CLASSES[int(c)].family) for c in cls_idx], dtype=np.int64)
    return y, {"label": local.astype(np.int64), "family": family, "snr_db": snr.astype(np.float32)[:, None]}


def generate_iq(start: int, stop: int, seed: int = 0, *, keep: Sequence[str] | None = None, **options: Any,
                ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The captures as wfm IQ: float32 ``(n, 1, 2, n_samples)`` (I, Q) and the labels of
    :func:`generate_captures` (only those named in ``keep``, when given: a dataset returns what it declares)."""
    y, labels = generate_captures(start, stop, seed, **options)
    return np.stack([y.real, y.imag], axis=1)[:, None].astype(np.float32), _keep(labels, keep)


def _keep(labels: dict[str, np.ndarray], keep: Sequence[str] | None) -> dict[str, np.ndarray]:
    return labels if keep is None else {k: labels[k] for k in keep}


def generate_spectrogram(
    start: int, stop: int, seed: int = 0, *, nfft: int = 64, hop: int = 16, keep: Sequence[str] | None = None,
    **options: Any,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The captures as power spectrograms ``(n, 1, nfft, frames)`` (:func:`stft_power`; 64 x 61 for 1,024
    samples) and the labels of :func:`generate_captures`: the same draw as :func:`generate_iq`."""
    y, labels = generate_captures(start, stop, seed, **options)
    n = int(options.get("n_samples", 1024))
    frames = spectrogram_frames(n, int(nfft), int(hop))
    x = stft_power(y, int(nfft), int(hop)) if len(y) else np.zeros((0, int(nfft), frames), np.float32)
    return x[:, None], _keep(labels, keep)


def generate_views(
    start: int, stop: int, seed: int = 0, *, nfft: int = 64, hop: int = 16, **options: Any
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Both views of one draw: IQ ``(n, 1, 2, n_samples)`` as :func:`generate_iq`, power spectrograms
    ``(n, 1, nfft, frames)`` as :func:`generate_spectrogram`, and the labels (for users who want both)."""
    y, labels = generate_captures(start, stop, seed, **options)
    frames = spectrogram_frames(y.shape[-1], int(nfft), int(hop))
    spec = stft_power(y, int(nfft), int(hop)) if len(y) else np.zeros((0, int(nfft), frames), np.float32)
    return np.stack([y.real, y.imag], axis=1)[:, None].astype(np.float32), spec[:, None], labels


def generate_wideband(
    start: int, stop: int, seed: int = 0, *, n_samples: int = 4096, nfft: int = 64, hop: int = 64,
    max_emitters: int = 4, classes: Sequence[str] | None = None, snr_db: tuple[float, float] = (0.0, 25.0),
    bandwidth: tuple[float, float] = (0.03, 0.2), impairments: Mapping[str, Mapping[str, Any]] | None = None,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Wideband captures of 1..``max_emitters`` emitters, each a corpus capture's waveform resampled to a
    bandwidth share drawn from ``bandwidth``, moved to its own centre frequency and switched on for its own
    burst, as power spectrograms ``(n, 1, nfft, frames)``.

    Labels: ``count`` (emitters, class ``k - 1``), ``boxes`` ``(n, 4 * max_emitters)`` — per emitter its
    time-frequency box ``(t_start, t_stop, f_low, f_high)`` as shares of the capture's duration and band
    (``f`` from -0.5), -1 for absent emitters — and ``box_classes`` ``(n, max_emitters)`` (class index, -1
    absent), so detection-style training has its targets besides the per-capture count.
    """
    start, stop, seed, n = int(start), int(stop), int(seed), int(n_samples)
    if not 0 <= start <= stop or seed < 0 or int(max_emitters) < 1:
        raise ValueError(f"need 0 <= start <= stop, seed >= 0 and max_emitters >= 1, got {start}, {stop}, "
                         f"{seed}, {max_emitters}")
    names = class_names(classes)
    pool = np.array([i for i, c in enumerate(CLASSES) if c.name in names])
    blo, bhi = _range("bandwidth", bandwidth)
    if not 0 < blo <= bhi < 0.5:
        raise ValueError(f"bandwidth must be a range inside (0, 0.5), got {bandwidth!r}")
    lo, hi = _range("snr_db", snr_db)
    imp = impairment_options({"adjacent": {"p": 0.0}, "cochannel": {"p": 0.0}, **dict(impairments or {})})
    e_max = int(max_emitters)
    frames = spectrogram_frames(n, int(nfft), int(hop))
    out = np.zeros((stop - start, 1, int(nfft), frames), np.float32)
    count = np.zeros(stop - start, np.int64)
    boxes = -np.ones((stop - start, 4 * e_max), np.float32)
    box_cls = -np.ones((stop - start, e_max), np.float32)
    t = np.arange(n)
    for j, i in enumerate(range(start, stop)):
        rng = np.random.default_rng([seed, STREAM_WIDEBAND, i])
        k = int(rng.integers(1, e_max + 1))
        y = (rng.standard_normal(n) + 1j * rng.standard_normal(n)) / np.sqrt(2)
        for e in range(k):
            share = rng.uniform(blo, bhi)
            centre = rng.uniform(-0.5 + share / 2, 0.5 - share / 2)
            on0 = int(rng.integers(0, n // 2))
            on1 = int(rng.integers(on0 + n // 8, n + 1))
            c = int(pool[int(rng.integers(pool.size))])
            native = int(np.ceil(n * share))
            w = _captures([rng], np.array([c]), native, np.array([0.0]), imp, pool, receiver=False)[0]
            spec = sfft.fftshift(sfft.fft(w))
            full = np.zeros(n, np.complex128)
            lo_bin = n // 2 - native // 2
            full[lo_bin:lo_bin + native] = spec
            sig = sfft.ifft(sfft.ifftshift(full)) * np.exp(2j * np.pi * centre * t)
            # the box: where 99 % of the emitter's power lies (its native band shrunk to what it occupies)
            cum = np.cumsum(np.abs(spec) ** 2)
            cum /= max(cum[-1], 1e-30)
            f_lo = (np.searchsorted(cum, 0.005) - native / 2) / n + centre + 0.5
            f_hi = (np.searchsorted(cum, 0.995) + 1 - native / 2) / n + centre + 0.5
            gate = np.zeros(n)
            gate[on0:on1] = 1.0
            snr = rng.uniform(lo, hi)
            p = np.mean(np.abs(sig[on0:on1]) ** 2)
            y += sig * gate * np.sqrt(10 ** (snr / 10) / max(p, 1e-30))
            boxes[j, 4 * e:4 * e + 4] = (on0 / n, on1 / n, f_lo, f_hi)
            box_cls[j, e] = float(np.flatnonzero(pool == c)[0])
        count[j] = k - 1
        out[j, 0] = stft_power(y[None], int(nfft), int(hop))[0]
    return out, {"count": count, "boxes": boxes, "box_classes": box_cls}


# --------------------------------------------------------------------------------- registry helpers
def capture_fields(options: Mapping[str, Any]) -> dict[str, Any]:
    """IQ datasets of the corpus: the raw ``(2, n_samples)`` and the classes the options select."""
    return {"raw_shape": (2, int(options["n_samples"])), **_class_fields(options)}


def spectrogram_fields(options: Mapping[str, Any]) -> dict[str, Any]:
    """Spectrogram datasets of the corpus: the raw ``(nfft, frames)`` and the selected classes."""
    frames = spectrogram_frames(int(options["n_samples"]), int(options["nfft"]), int(options["hop"]))
    return {"raw_shape": (int(options["nfft"]), frames), **_class_fields(options)}


def _class_fields(options: Mapping[str, Any]) -> dict[str, Any]:
    classes = options.get("classes")
    return {"class_names": {"label": class_names(classes), "family": family_names(classes)}}


def wideband_fields(options: Mapping[str, Any]) -> dict[str, Any]:
    """The wideband set: the raw ``(nfft, frames)`` and its emitter-count classes."""
    frames = spectrogram_frames(int(options["n_samples"]), int(options["nfft"]), int(options["hop"]))
    k = int(options["max_emitters"])
    return {"raw_shape": (int(options["nfft"]), frames), "class_names": {"count": tuple(str(i + 1) for i in range(k))}}
