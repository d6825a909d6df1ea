"""The built-in synthetic wireless corpus: a registry of datasets generated on the fly (no files shipped).

``generate(name, start, stop, seed)`` returns samples ``[start, stop)`` of a dataset as RAW float32 arrays
``(n, C, H, W)`` (power spectrograms, CSI magnitude or real/imag; dB / resize / standardisation are done
by :mod:`wfm.data.transforms`) plus a dict of labels. Sample ``i`` depends only on ``(seed, dataset, i)``,
so any chunking of a range gives identical arrays.

Datasets (see ``docs/datasets_synthetic.md``):

* ``rfs`` — labelled single-emitter spectrograms (8 technology classes), RF signal classification;
* ``spectrogram`` — unlabelled 1–3-emitter mixtures, pretraining;
* ``positioning`` — 4-BS CSI magnitude of scene 0, target position in metres;
* ``beam`` / ``los`` — serving-BS CSI (real/imag) of scene 0, best DFT beam / LoS flag;
* ``csi`` / ``csi2`` — unlabelled CSI magnitude from scene 0 (4 BS) and scene 1 (5 BS, 32 antennas);
* ``csi_ri`` / ``csi2_ri`` — unlabelled real/imag CSI of one base station (drawn per sample) of each scene;
* ``iq1`` / ``iq2`` / ``iq4`` — unlabelled raw IQ of 1-2 emitters at a 1-, 2- or 4-antenna array, pretraining;
* ``rffp`` — RF fingerprinting: raw 2-antenna IQ of 8 transmitters with their own hardware impairments;
* ``interference`` — raw IQ of an LTE-like signal, clean or with DSSS / tone / chirp / band-noise interference.

IQ datasets (modality ``iq``) are ``(n, A, 2, T)``: antennas x (I, Q) x time samples (:mod:`.iq`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import csi_scene, iq, spectrogram

__all__ = ["BUILTIN", "GENERATOR_VERSION", "SyntheticSpec", "describe", "generate"]

#: bumped whenever a generator's output for the same (name, i, seed, options) changes; part of the cache
#: file name, so caches written by an older generator are rebuilt, never read as the current corpus
#: (5: RF fingerprinting sends a known preamble by default, ``payload="preamble"``)
GENERATOR_VERSION = 5


@dataclass(frozen=True)
class SyntheticSpec:
    """What a built-in dataset contains (for the default options)."""

    name: str  # registry key
    modality: str  # "spectrogram" | "csi" | "iq"
    channels: int  # channels; antennas for iq
    raw_shape: tuple[int, int]  # (H, W) of the raw arrays; (2, T) for iq
    power: bool  # True: raw values are power -> transforms apply dB; False: used as-is (magnitude, re/im)
    labels: dict[str, str]  # label key -> "classification" | "regression" (empty for unlabelled)
    class_names: dict[str, tuple[str, ...]]  # per classification label key
    units: dict[str, str]  # per regression label key, e.g. {"position": "m"}
    description: str


_S0, _S1 = csi_scene.SCENES[0], csi_scene.SCENES[1]
_DEFAULT_BEAMS = 16


def _beam_names(n: int) -> tuple[str, ...]:
    return tuple(f"beam{b}" for b in range(n))


BUILTIN: dict[str, SyntheticSpec] = {
    "rfs": SyntheticSpec(
        "rfs", "spectrogram", 1, (64, 64), True, {"label": "classification"},
        {"label": spectrogram.CLASS_NAMES}, {},
        "Single-emitter power spectrograms of 8 technology classes (WiFi, LTE, NR, Bluetooth, ZigBee, LoRa, "
        "FM, noise) with multipath, CFO, timing offset and SNR -5..20 dB; class = index % 8."),
    "spectrogram": SyntheticSpec(
        "spectrogram", "spectrogram", 1, (64, 64), True, {}, {}, {},
        "Unlabelled power spectrograms of 1-3 emitters of random classes, powers and offsets (pretraining)."),
    "positioning": SyntheticSpec(
        "positioning", "csi", _S0.n_bs, (_S0.n_ant, _S0.n_sc), False, {"position": "regression"}, {},
        {"position": "m"},
        "CSI magnitude of the 4 base stations (16-antenna ULA x 64 subcarriers at 3.5 GHz) of scene 0 for a "
        "user uniform in a 60 m x 60 m area; target xyz in metres (z = 1.5)."),
    "beam": SyntheticSpec(
        "beam", "csi", 2, (_S0.n_ant, _S0.n_sc), False, {"beam": "classification"},
        {"beam": _beam_names(_DEFAULT_BEAMS)}, {},
        "Serving-BS (BS 0) CSI of scene 0 as real/imag channels, normalised to unit mean power; label = best "
        "beam of a 16-beam DFT codebook uniform in sin(theta) on [-1, 1) (option n_beams)."),
    "los": SyntheticSpec(
        "los", "csi", 2, (_S0.n_ant, _S0.n_sc), False, {"los": "classification"},
        {"los": ("nlos", "los")}, {},
        "Serving-BS (BS 0) CSI of scene 0 as real/imag channels, normalised to unit mean power; label 1 if "
        "the direct path crosses no blocker (scene built for ~50 % LoS). Calibrated defaults: SNR -5 dB at "
        "30 m and 6 dB per blocker crossed (light blockage), so a blocked direct path often still dominates."),
    "csi": SyntheticSpec(
        "csi", "csi", _S0.n_bs, (_S0.n_ant, _S0.n_sc), False, {}, {}, {},
        "Unlabelled CSI magnitude of the 4 base stations of scene 0 (users drawn independently of the "
        "labelled sets)."),
    "csi2": SyntheticSpec(
        "csi2", "csi", _S1.n_bs, (_S1.n_ant, _S1.n_sc), False, {}, {}, {},
        "Unlabelled CSI magnitude of scene 1: 80 m x 50 m, 5 base stations with 32-antenna ULAs, "
        "64 subcarriers spaced 720 kHz."),
    "csi_ri": SyntheticSpec(
        "csi_ri", "csi", 2, (_S0.n_ant, _S0.n_sc), False, {}, {}, {},
        "Unlabelled CSI of one base station of scene 0 (drawn per sample) as real/imag channels, normalised to "
        "unit mean power: the input representation of the beam and LoS tasks (pretraining)."),
    "csi2_ri": SyntheticSpec(
        "csi2_ri", "csi", 2, (_S1.n_ant, _S1.n_sc), False, {}, {}, {},
        "Unlabelled CSI of one base station of scene 1 (drawn per sample) as real/imag channels, normalised to "
        "unit mean power (pretraining)."),
    **{f"iq{a}": SyntheticSpec(
        f"iq{a}", "iq", a, (2, 1024), False, {}, {}, {},
        f"Unlabelled raw IQ at a {a}-antenna half-wavelength array: 1-2 emitters of random technology classes "
        "(the rfs waveform builders), 1-3 paths each, SNR 0..20 dB (pretraining).") for a in (1, 2, 4)},
    "rffp": SyntheticSpec(
        "rffp", "iq", 2, (2, 1024), False, {"tx": "classification"}, {"tx": iq.rffp_class_names(8)}, {},
        "RF fingerprinting: 2-antenna raw IQ of 8 transmitters, each with its own IQ imbalance, DC offset, PA "
        "non-linearity (Rapp), phase noise and CFO, all sending the same known preamble (option payload: random "
        "draws burst type and payload per capture); random multipath, SNR 0..25 dB; label = transmitter "
        "(index % 8)."),
    "interference": SyntheticSpec(
        "interference", "iq", 1, (2, 1024), False, {"interference": "classification", "present": "classification"},
        {"interference": iq.INTERFERENCE_CLASSES, "present": ("absent", "present")}, {},
        "Raw IQ of an LTE-like signal (SNR 5..25 dB), clean or with one DSSS, tone, chirp or band-noise "
        "interferer at SIR -15..0 dB; labels: interference type (index % 5) and present/absent."),
}

# Options each dataset accepts (besides start, stop, seed), with their defaults.
_OPTIONS: dict[str, dict[str, Any]] = {
    "rfs": {"n_freq": 64, "n_time": 64, "snr_db": (-5.0, 20.0)},
    "spectrogram": {"n_freq": 64, "n_time": 64, "max_emitters": 3, "snr_db": (0.0, 20.0),
                    "rel_power_db": 15.0},
    "positioning": {"snr_db": 20.0, "scene": None},
    "beam": {"snr_db": 20.0, "n_beams": _DEFAULT_BEAMS, "serving_bs": 0, "scene": None, "unit_power": True},
    # calibrated (docs/datasets_synthetic.md): at 20 dB and 25 dB per building a random-init encoder scored
    # 99.4 %; cell-edge SNR and light blockage (6 dB: foliage, glass) leave the LoS flag far from trivial
    "los": {"snr_db": -5.0, "serving_bs": 0, "scene": {"penetration_db": 6.0}, "unit_power": True},
    # unlabelled pretraining CSI: every sample its own SNR (dB at 30 m), cell edge to close range, as real
    # captures are (the downstream tasks sit anywhere in this range: LoS at -5 dB, positioning at 20 dB)
    "csi": {"snr_db": (-5.0, 25.0), "scene": None},
    "csi2": {"snr_db": (-5.0, 25.0), "scene": None},
    "csi_ri": {"snr_db": (-5.0, 25.0), "scene": None},
    "csi2_ri": {"snr_db": (-5.0, 25.0), "scene": None},
    **{f"iq{a}": {"n_samples": 1024, "snr_db": (0.0, 20.0), "max_emitters": 2} for a in (1, 2, 4)},
    # calibrated (docs/datasets_synthetic.md): with a random burst per capture neither random features nor the
    # ViT trained on labels got clear of chance; a known preamble, as fingerprinting systems cut from each frame,
    # leaves the transmitter's distortion learnable
    "rffp": {"n_samples": 1024, "n_tx": 8, "antennas": 2, "snr_db": (0.0, 25.0), "payload": "preamble"},
    "interference": {"n_samples": 1024, "antennas": 1, "snr_db": (5.0, 25.0), "sir_db": (-15.0, 0.0)},
}


def _options(name: str, options: dict[str, Any]) -> dict[str, Any]:
    if name not in BUILTIN:
        raise ValueError(f"unknown synthetic dataset {name!r}; expected one of {sorted(BUILTIN)}")
    unknown = sorted(set(options) - set(_OPTIONS[name]))
    if unknown:
        raise ValueError(f"synthetic dataset {name!r}: unknown option(s) {unknown}; "
                         f"accepted: {sorted(_OPTIONS[name])}")
    return {**_OPTIONS[name], **options}


def describe(name: str, **options: Any) -> SyntheticSpec:
    """The :class:`SyntheticSpec` of ``name`` as generated with ``options`` (shapes / classes may change)."""
    opts = _options(name, options)
    spec = BUILTIN[name]
    if spec.modality == "iq":
        t = int(opts["n_samples"])
        spec = dataclasses.replace(spec, raw_shape=(2, t))
        if name == "rffp":
            return dataclasses.replace(spec, channels=int(opts["antennas"]),
                                       class_names={"tx": iq.rffp_class_names(int(opts["n_tx"]))})
        if name == "interference":
            return dataclasses.replace(spec, channels=int(opts["antennas"]))
        return spec
    if spec.modality == "spectrogram":
        return dataclasses.replace(spec, raw_shape=(int(opts["n_freq"]), int(opts["n_time"])))
    if name == "beam":
        return dataclasses.replace(spec, class_names={"beam": _beam_names(int(opts["n_beams"]))})
    return spec


def generate(
    name: str, start: int, stop: int, seed: int = 0, **options: Any
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Samples [start, stop) of dataset `name`: raw float32 (n, C, H, W) (IQ: (n, A, 2, T)) and labels
    {key: array (n, ...)}.

    Classification labels are int64 ``(n,)``, regression labels float32 ``(n, d)``. ``options`` are
    per-dataset (e.g. ``n_beams`` for ``beam``, ``snr_db`` everywhere); unknown names raise ValueError.
    """
    opts = _options(name, options)
    start, stop, seed = int(start), int(stop), int(seed)
    if not (0 <= start <= stop):
        raise ValueError(f"synthetic dataset {name!r}: need 0 <= start <= stop, got {start=}, {stop=}")
    if seed < 0:
        raise ValueError(f"synthetic dataset {name!r}: seed must be >= 0, got {seed}")
    if name == "rfs":
        return spectrogram.generate_rfs(start, stop, seed, **opts)
    if name == "spectrogram":
        return spectrogram.generate_mixtures(start, stop, seed, **opts)
    if name.startswith("iq"):
        x, _ = iq.generate_iq(start, stop, seed, antennas=(BUILTIN[name].channels,), **opts)
        return x, {}
    if name == "rffp":
        return iq.generate_rffp(start, stop, seed, **opts)
    if name == "interference":
        return iq.generate_interference(start, stop, seed, **opts)

    snr = opts["snr_db"]
    scene_id = 1 if name in ("csi2", "csi2_ri") else 0
    n_bs = csi_scene.SCENES[scene_id].n_bs
    serving = int(opts.get("serving_bs", 0))
    if not 0 <= serving < n_bs:
        raise ValueError(f"synthetic dataset {name!r}: serving_bs must be in [0, {n_bs}), got {serving}")
    ue, h, y, los = csi_scene.sample(name, start, stop, seed, snr_db=snr, scene_id=scene_id,
                                     scene=opts["scene"])
    if name in ("positioning", "csi", "csi2"):
        x = np.abs(y).astype(np.float32)
        return x, ({"position": ue.astype(np.float32)} if name == "positioning" else {})
    if name in ("csi_ri", "csi2_ri"):
        bs = csi_scene.pick_bs(name, start, stop, seed, n_bs)
        return csi_scene.realimag(y[np.arange(len(y)), bs]), {}
    x = csi_scene.realimag(y[:, serving], unit_power=bool(opts["unit_power"]))
    if name == "los":
        return x, {"los": los[:, serving].astype(np.int64)}
    n_beams = int(opts["n_beams"])
    if n_beams < 2:
        raise ValueError(f"synthetic dataset 'beam': n_beams must be >= 2, got {n_beams}")
    # the label comes from the noise-free channel: the beam that is truly best, not the noisy estimate
    cb = csi_scene.dft_codebook(h.shape[2], n_beams)
    return x, {"beam": csi_scene.best_beam(h[:, serving], cb).astype(np.int64)}
