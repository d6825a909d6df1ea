"""The built-in synthetic wireless corpus: a registry of datasets generated on the fly (no files shipped).

One registry, :data:`BUILTIN`, maps each name to its :class:`SyntheticSpec`: generator function, default
options, modality, channels, raw shape, labels with their kinds, class names and units, description, and
whether it is a downstream task. :func:`generate` and :func:`describe` read the spec and nothing branches on
a name, so a new built-in dataset or task is its generator module plus one :func:`register` call below
(configs then name it: ``dataset: <name>``; :func:`builtin_tasks` lists it for the probe tools).

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
* ``interference`` — raw IQ of an LTE-like signal, clean or with DSSS / tone / chirp / band-noise interference;
* ``signals`` / ``signals_iq`` — the radio-signal corpus (:mod:`.signals`: 42 classes in 13 families with
  front-end and channel impairments, SNR -10..30 dB) as spectrograms / raw IQ of the same draws, pretraining;
* ``modulation`` / ``modulation_iq`` / ``signal_family`` — its fine-grained class (42) or family (13), with the
  SNR as a second label (the probe report's accuracy per SNR bin);
* ``signals_wideband`` — spectrograms of several emitters per wideband capture with their time-frequency boxes;
* ``sionna_umi`` / ``sionna_rma`` / ``sionna_cdl`` — unlabelled Sionna TR 38.901 CSI (real/imag) at the built-in
  scene's carrier and array, pretraining; ``sionna_uma_los`` / ``sionna_uma_position`` / ``sionna_uma_beam`` —
  downstream tasks held out by scenario, carrier and array (UMa, 28 GHz, 32 antennas) (:mod:`.tr38901`; the
  ``[sionna]`` extra).

IQ datasets (modality ``iq``) are ``(n, A, 2, T)``: antennas x (I, Q) x time samples (:mod:`.iq`); what
each modality means for the stored files is :mod:`wfm.data.modalities`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from wfm.data.modalities import get_modality

from . import csi, csi_scene, iq, signals, spectrogram, tr38901

__all__ = [
    "BUILTIN",
    "GENERATOR_VERSION",
    "SyntheticSpec",
    "builtin_datasets",
    "builtin_tasks",
    "describe",
    "generate",
    "register",
]

#: bumped whenever a generator's output for the same (name, i, seed, options) changes; part of the cache
#: file name, so caches written by an older generator are rebuilt, never read as the current corpus
#: (5: RF fingerprinting sends a known preamble by default, ``payload="preamble"``)
# 6: re/im sets record their complex_pairs; 7: tasks record their supervised reference (samples unchanged);
# 8: the radio-signal corpus (signals, modulation, ...; earlier sets unchanged); 9: a set generated with options
# other than the defaults records no supervised reference (it was measured at the defaults; samples unchanged)
GENERATOR_VERSION = 9

#: ``generator(start, stop, seed, **options) -> (raw (n, C, H, W) float32, {label key: (n, ...)})``
Generator = Callable[..., tuple[np.ndarray, dict[str, np.ndarray]]]


@dataclass(frozen=True)
class SyntheticSpec:
    """A built-in dataset: how it is generated and what it contains (for the default options).

    Attributes:
        name: registry key, the name configs use.
        modality: data modality name (:mod:`wfm.data.modalities`): ``spectrogram``, ``csi``, ``iq``.
        channels: channels; antennas for IQ.
        raw_shape: ``(H, W)`` of the raw arrays; ``(2, T)`` for IQ.
        power: True: raw values are power -> transforms apply dB; False: used as-is (magnitude, re/im).
        labels: label key -> ``classification`` | ``regression`` (empty for unlabelled).
        class_names: per classification label key.
        units: per regression label key, e.g. ``{"position": "m"}``.
        description: one paragraph, recorded in the cached file's ``description`` attribute.
        generator: ``generator(start, stop, seed, **options)``; sample ``i`` must depend only on
            ``(seed, i, options)``.
        options: the options the generator accepts (besides start, stop, seed), with their defaults.
        downstream: a downstream task (listed by :func:`builtin_tasks`, probed and fine-tuned on).
        resolve: ``resolve(options) -> {field: value}``: the fields that follow the options (shapes, class
            names); None when none do.
        complex_pairs: ``(re, im)`` channel index pairs that are the parts of one complex channel (written to
            the file's ``complex_pairs`` attribute).
        supervised: per label, the headline metric the CPU recipes' encoder reaches trained supervised from
            scratch at the calibration setting (docs/datasets_synthetic.md, "Calibration"); written to the
            file's ``labels`` and used as the reference of the probe report's ``gap closed`` column.
        stratify: classification label -> the regression label its accuracy is also reported over in bins
            (``{"label": "snr_db"}``: accuracy per SNR bin); written to the file's ``labels``.
    """

    name: str
    modality: str
    channels: int
    raw_shape: tuple[int, int]
    power: bool
    labels: dict[str, str]
    class_names: dict[str, tuple[str, ...]]
    units: dict[str, str]
    description: str
    generator: Generator
    options: dict[str, Any] = field(default_factory=dict)
    downstream: bool = False
    resolve: Callable[[Mapping[str, Any]], dict[str, Any]] | None = None
    complex_pairs: tuple[tuple[int, int], ...] = ()
    supervised: dict[str, float] = field(default_factory=dict)
    stratify: dict[str, str] = field(default_factory=dict)


#: name -> spec, in registration order
BUILTIN: dict[str, SyntheticSpec] = {}


def register(spec: SyntheticSpec) -> SyntheticSpec:
    """Add a built-in dataset to the registry (a name is taken once); returns ``spec``."""
    if spec.name in BUILTIN and BUILTIN[spec.name] is not spec:
        raise ValueError(f"a built-in dataset named {spec.name!r} is already registered")
    get_modality(spec.modality)  # an unknown modality fails here, not when a file is built
    for key, kind in spec.labels.items():
        if kind not in ("classification", "regression"):
            raise ValueError(f"built-in dataset {spec.name!r}: label {key!r} has kind {kind!r}, expected "
                             "'classification' or 'regression'")
        if kind == "classification" and len(spec.class_names.get(key, ())) < 2:
            raise ValueError(f"built-in dataset {spec.name!r}: classification label {key!r} needs >= 2 class names")
    if spec.downstream and not spec.labels:
        raise ValueError(f"built-in dataset {spec.name!r}: a downstream task needs at least one label")
    BUILTIN[spec.name] = spec
    return spec


def builtin_datasets() -> tuple[str, ...]:
    """Every registered built-in dataset name, in registry order."""
    return tuple(BUILTIN)


def builtin_tasks() -> tuple[str, ...]:
    """The registered downstream tasks, in registry order (``rfs``, ``positioning``, ``beam``, ``los``, ...)."""
    return tuple(name for name, spec in BUILTIN.items() if spec.downstream)


# ------------------------------------------------------------------------------------------ the registry
_S0, _S1 = csi_scene.SCENES[0], csi_scene.SCENES[1]
_CSI0, _CSI1 = (_S0.n_ant, _S0.n_sc), (_S1.n_ant, _S1.n_sc)
# unlabelled pretraining CSI: every sample its own SNR (dB at 30 m), cell edge to close range, as real
# captures are (the downstream tasks sit anywhere in this range: LoS at -5 dB, positioning at 20 dB)
_PRETRAIN_CSI = {"snr_db": (-5.0, 25.0), "scene": None}

register(SyntheticSpec(
    "rfs", "spectrogram", 1, (64, 64), True, {"label": "classification"},
    {"label": spectrogram.CLASS_NAMES}, {},
    "Single-emitter power spectrograms of 8 technology classes (WiFi, LTE, NR, Bluetooth, ZigBee, LoRa, "
    "FM, noise) with multipath, CFO, timing offset and SNR -5..20 dB; class = index % 8.",
    spectrogram.generate_rfs, {"n_freq": 64, "n_time": 64, "snr_db": (-5.0, 20.0)},
    downstream=True, resolve=spectrogram.shape_fields, supervised={"label": 84.4}))
register(SyntheticSpec(
    "spectrogram", "spectrogram", 1, (64, 64), True, {}, {}, {},
    "Unlabelled power spectrograms of 1-3 emitters of random classes, powers and offsets (pretraining).",
    spectrogram.generate_mixtures,
    {"n_freq": 64, "n_time": 64, "max_emitters": 3, "snr_db": (0.0, 20.0), "rel_power_db": 15.0},
    resolve=spectrogram.shape_fields))
register(SyntheticSpec(
    "positioning", "csi", _S0.n_bs, _CSI0, False, {"position": "regression"}, {}, {"position": "m"},
    "CSI magnitude of the 4 base stations (16-antenna ULA x 64 subcarriers at 3.5 GHz) of scene 0 for a "
    "user uniform in a 60 m x 60 m area; target xyz in metres (z = 1.5).",
    partial(csi.generate_magnitude, stream="positioning", scene_id=0, position=True),
    {"snr_db": 20.0, "scene": None}, downstream=True, supervised={"position": 4.97}))
register(SyntheticSpec(
    "beam", "csi", 2, _CSI0, False, {"beam": "classification"}, {"beam": csi.beam_names(csi.DEFAULT_BEAMS)}, {},
    "Serving-BS (BS 0) CSI of scene 0 as real/imag channels, normalised to unit mean power; label = best "
    "beam of a 16-beam DFT codebook uniform in sin(theta) on [-1, 1) (option n_beams).",
    csi.generate_beam,
    {"snr_db": 20.0, "n_beams": csi.DEFAULT_BEAMS, "serving_bs": 0, "scene": None, "unit_power": True},
    downstream=True, resolve=csi.beam_fields, complex_pairs=((0, 1),), supervised={"beam": 82.5}))
register(SyntheticSpec(
    "los", "csi", 2, _CSI0, False, {"los": "classification"}, {"los": ("nlos", "los")}, {},
    "Serving-BS (BS 0) CSI of scene 0 as real/imag channels, normalised to unit mean power; label 1 if "
    "the direct path crosses no blocker (scene built for ~50 % LoS). Calibrated defaults: SNR -5 dB at "
    "30 m and 6 dB per blocker crossed (light blockage), so a blocked direct path often still dominates.",
    # calibrated (docs/datasets_synthetic.md): at 20 dB and 25 dB per building a random-init encoder scored
    # 99.4 %; cell-edge SNR and light blockage (6 dB: foliage, glass) leave the LoS flag far from trivial
    csi.generate_los, {"snr_db": -5.0, "serving_bs": 0, "scene": {"penetration_db": 6.0}, "unit_power": True},
    downstream=True, complex_pairs=((0, 1),), supervised={"los": 90.8}))
register(SyntheticSpec(
    "csi", "csi", _S0.n_bs, _CSI0, False, {}, {}, {},
    "Unlabelled CSI magnitude of the 4 base stations of scene 0 (users drawn independently of the "
    "labelled sets).",
    partial(csi.generate_magnitude, stream="csi", scene_id=0), _PRETRAIN_CSI))
register(SyntheticSpec(
    "csi2", "csi", _S1.n_bs, _CSI1, False, {}, {}, {},
    "Unlabelled CSI magnitude of scene 1: 80 m x 50 m, 5 base stations with 32-antenna ULAs, "
    "64 subcarriers spaced 720 kHz.",
    partial(csi.generate_magnitude, stream="csi2", scene_id=1), _PRETRAIN_CSI))
register(SyntheticSpec(
    "csi_ri", "csi", 2, _CSI0, False, {}, {}, {},
    "Unlabelled CSI of one base station of scene 0 (drawn per sample) as real/imag channels, normalised to "
    "unit mean power: the input representation of the beam and LoS tasks (pretraining).",
    partial(csi.generate_realimag, stream="csi_ri", scene_id=0), _PRETRAIN_CSI, complex_pairs=((0, 1),)))
register(SyntheticSpec(
    "csi2_ri", "csi", 2, _CSI1, False, {}, {}, {},
    "Unlabelled CSI of one base station of scene 1 (drawn per sample) as real/imag channels, normalised to "
    "unit mean power (pretraining).",
    partial(csi.generate_realimag, stream="csi2_ri", scene_id=1), _PRETRAIN_CSI, complex_pairs=((0, 1),)))
# Sionna's TR 38.901 channels (the [sionna] extra; :mod:`.tr38901`): unlabelled pretraining sets at the built-in
# scene's carrier and array, and downstream tasks held out by scenario, carrier and array (UMa, 28 GHz, 32 antennas)
_TR_ABOUT = ("Sionna TR 38.901 {} uplink CSI ({}) as real/imag channels of one complex channel, unit mean power "
             "per sample, then noise at an SNR drawn per sample; needs the [sionna] extra. {}")
for _name, _scen, _what in (("sionna_umi", "UMi", "urban micro street canyon"),
                            ("sionna_rma", "RMa", "rural macro"),
                            ("sionna_cdl", ("CDL-A", "CDL-B", "CDL-C", "CDL-D", "CDL-E"),
                             "CDL-A...E links, one model per block of 128 samples")):
    register(SyntheticSpec(
        _name, "csi", 2, (tr38901.PRETRAIN["bs_antennas"], tr38901.PRETRAIN["subcarriers"]), False, {}, {}, {},
        _TR_ABOUT.format(_what, tr38901.link(tr38901.PRETRAIN), "Unlabelled (pretraining)."),
        partial(tr38901.generate, task="none", name=_name), {"scenario": _scen, **tr38901.PRETRAIN},
        resolve=tr38901.fields, complex_pairs=((0, 1),)))
_HELD = tr38901.link(tr38901.HELD_OUT) + ": scenario, carrier and array held out"
# supervised references (split tokens, 2400 users, split 0; docs/experiments/channel_phase.md, "Transfer held out
# by scenario"): LoS 75.7 against random features 58.8, position 71.03 m against 84.36, beam 50.2 against 43.6
for _task, _kind, _names, _units, _what, _ref in (
        ("los", "classification", ("nlos", "los"), {}, "Label: the scenario's LoS state (outdoor users).", 75.7),
        ("position", "regression", (), {"position": "m"},
         "Target: the user's x, y, z relative to the base station (m).", 71.03),
        ("beam", "classification", csi.beam_names(tr38901.BEAMS), {},
         f"Label: the best beam of a {tr38901.BEAMS}-beam DFT codebook uniform in sin(theta) (option beams).", 50.2)):
    register(SyntheticSpec(
        f"sionna_uma_{_task}", "csi", 2, (tr38901.HELD_OUT["bs_antennas"], tr38901.HELD_OUT["subcarriers"]), False,
        {_task: _kind}, {_task: _names} if _names else {}, _units, _TR_ABOUT.format("UMa", _HELD, _what),
        partial(tr38901.generate, task=_task, name=f"sionna_uma_{_task}"),
        {"scenario": "UMa", **tr38901.HELD_OUT, **({"beams": tr38901.BEAMS} if _task == "beam" else {})},
        downstream=True, resolve=partial(tr38901.fields, task=_task), complex_pairs=((0, 1),),
        supervised={_task: _ref}))
for _a in (1, 2, 4):
    register(SyntheticSpec(
        f"iq{_a}", "iq", _a, (2, 1024), False, {}, {}, {},
        f"Unlabelled raw IQ at a {_a}-antenna half-wavelength array: 1-2 emitters of random technology classes "
        "(the rfs waveform builders), 1-3 paths each, SNR 0..20 dB (pretraining).",
        partial(iq.generate_unlabelled, antennas=_a), {"n_samples": 1024, "snr_db": (0.0, 20.0), "max_emitters": 2},
        resolve=iq.iq_fields))
register(SyntheticSpec(
    "rffp", "iq", 2, (2, 1024), False, {"tx": "classification"}, {"tx": iq.rffp_class_names(8)}, {},
    "RF fingerprinting: 2-antenna raw IQ of 8 transmitters, each with its own IQ imbalance, DC offset, PA "
    "non-linearity (Rapp), phase noise and CFO, all sending the same known preamble (option payload: random "
    "draws burst type and payload per capture); random multipath, SNR 0..25 dB; label = transmitter "
    "(index % 8).",
    # calibrated (docs/datasets_synthetic.md): with a random burst per capture neither random features nor the
    # ViT trained on labels got clear of chance; a known preamble, as fingerprinting systems cut from each frame,
    # leaves the transmitter's distortion learnable
    iq.generate_rffp, {"n_samples": 1024, "n_tx": 8, "antennas": 2, "snr_db": (0.0, 25.0), "payload": "preamble"},
    downstream=True, resolve=iq.rffp_fields, supervised={"tx": 47.1}))
register(SyntheticSpec(
    "interference", "iq", 1, (2, 1024), False, {"interference": "classification", "present": "classification"},
    {"interference": iq.INTERFERENCE_CLASSES, "present": ("absent", "present")}, {},
    "Raw IQ of an LTE-like signal (SNR 5..25 dB), clean or with one DSSS, tone, chirp or band-noise "
    "interferer at SIR -15..0 dB; labels: interference type (index % 5) and present/absent.",
    iq.generate_interference, {"n_samples": 1024, "antennas": 1, "snr_db": (5.0, 25.0), "sir_db": (-15.0, 0.0)},
    downstream=True, resolve=iq.interference_fields, supervised={"interference": 55.9}))


# the radio-signal corpus: one draw per sample, seen as a spectrogram or as raw IQ
_SIGNAL_OPTIONS = {"n_samples": 1024, "classes": None, "snr_db": (-10.0, 30.0), "impairments": {}}
_SPEC_OPTIONS = {**_SIGNAL_OPTIONS, "nfft": 64, "hop": 16}
_SIGNAL_LABELS = {"snr_db": "regression"}
_SIGNALS_ABOUT = ("{} of the radio-signal corpus: 42 classes in 13 families (PSK, QAM, APSK, PAM/ASK/OOK, FSK/MSK/"
                  "GMSK, CPM, OFDM, AM, FM, chirp, FHSS, tone, noise) with drawn symbol rates and pulse shapes, "
                  "PA compression, multipath with Doppler, CFO, phase noise, adjacent / co-channel emitters, IQ "
                  "imbalance, DC offset and ADC quantisation; SNR -10..30 dB. {}")
register(SyntheticSpec(
    "signals", "spectrogram", 1, (64, 61), True, {}, {}, {},
    _SIGNALS_ABOUT.format("Unlabelled power spectrograms (64-point STFT, hop 16, of 1,024 samples)",
                          "Classes drawn uniformly (pretraining)."),
    partial(signals.generate_spectrogram, balanced=False, keep=()), _SPEC_OPTIONS, resolve=signals.spectrogram_fields))
register(SyntheticSpec(
    "signals_iq", "iq", 1, (2, 1024), False, {}, {}, {},
    _SIGNALS_ABOUT.format("Unlabelled raw IQ (1,024 samples)", "Classes drawn uniformly (pretraining)."),
    partial(signals.generate_iq, balanced=False, keep=()), _SIGNAL_OPTIONS, resolve=signals.capture_fields))
register(SyntheticSpec(
    "modulation", "spectrogram", 1, (64, 61), True, {"label": "classification", **_SIGNAL_LABELS},
    {"label": signals.class_names(), "family": signals.family_names()}, {"snr_db": "dB"},
    _SIGNALS_ABOUT.format("Power spectrograms", "Label = class (index % 42), and the SNR."),
    partial(signals.generate_spectrogram, keep=("label", "snr_db")), _SPEC_OPTIONS, downstream=True,
    resolve=signals.spectrogram_fields, stratify={"label": "snr_db"}))
register(SyntheticSpec(
    "modulation_iq", "iq", 1, (2, 1024), False, {"label": "classification", **_SIGNAL_LABELS},
    {"label": signals.class_names(), "family": signals.family_names()}, {"snr_db": "dB"},
    _SIGNALS_ABOUT.format("Raw IQ (1,024 samples)", "Label = class (index % 42), and the SNR."),
    partial(signals.generate_iq, keep=("label", "snr_db")), _SIGNAL_OPTIONS, downstream=True,
    resolve=signals.capture_fields, stratify={"label": "snr_db"}))
register(SyntheticSpec(
    "signal_family", "spectrogram", 1, (64, 61), True, {"family": "classification", **_SIGNAL_LABELS},
    {"label": signals.class_names(), "family": signals.family_names()}, {"snr_db": "dB"},
    _SIGNALS_ABOUT.format("Power spectrograms", "Label = family of the class (index % 42), and the SNR."),
    # calibrated at 4200 captures (docs/experiments/signals.md): supervised 37.4 against random features 20.5;
    # the fine-grained tasks are not (supervision within 8 points of random features), so they record no reference
    partial(signals.generate_spectrogram, keep=("family", "snr_db")), _SPEC_OPTIONS, downstream=True,
    resolve=signals.spectrogram_fields, stratify={"family": "snr_db"}, supervised={"family": 37.4}))
register(SyntheticSpec(
    "signals_wideband", "spectrogram", 1, (64, 64), True,
    {"count": "classification", "boxes": "regression", "box_classes": "regression"},
    {"count": ("1", "2", "3", "4")}, {"boxes": "share of duration / band", "box_classes": "class index"},
    "Wideband power spectrograms (64-point STFT, hop 64, of 4,096 samples) of 1-4 emitters of the radio-signal "
    "corpus, each at its own bandwidth (3-20 % of the band), centre and burst; labels: emitter count, per "
    "emitter its time-frequency box (t_start, t_stop, f_low, f_high as shares, -1 absent) and class.",
    signals.generate_wideband,
    {"n_samples": 4096, "nfft": 64, "hop": 64, "max_emitters": 4, "classes": None, "snr_db": (0.0, 25.0),
     "bandwidth": (0.03, 0.2), "impairments": {}},
    resolve=signals.wideband_fields))


# ------------------------------------------------------------------------------------------- reading it
def _options(name: str, options: Mapping[str, Any]) -> dict[str, Any]:
    if name not in BUILTIN:
        raise ValueError(f"unknown synthetic dataset {name!r}; expected one of {sorted(BUILTIN)}")
    accepted = BUILTIN[name].options
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ValueError(f"synthetic dataset {name!r}: unknown option(s) {unknown}; accepted: {sorted(accepted)}")
    return {**accepted, **options}


def describe(name: str, **options: Any) -> SyntheticSpec:
    """The :class:`SyntheticSpec` of ``name`` as generated with ``options`` (shapes / classes may change).

    The recorded ``supervised`` reference was measured at the default options: with any option changed (a
    harder SNR, more beams) it does not describe the task, so the spec carries none and the probe report's
    ``gap closed`` column stays empty unless a supervised row is measured in the same run."""
    opts = _options(name, options)
    spec = BUILTIN[name]
    if spec.supervised and not all(_same(opts[k], v) for k, v in spec.options.items()):
        spec = dataclasses.replace(spec, supervised={})
    return dataclasses.replace(spec, **spec.resolve(opts)) if spec.resolve is not None else spec


def _same(a: Any, b: Any) -> bool:
    """``a == b`` for option values (numbers, strings, sequences, mappings); False where it is not one bool."""
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


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
    return BUILTIN[name].generator(start, stop, seed, **opts)
