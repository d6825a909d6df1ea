"""Channels from Sionna's 3GPP TR 38.901 models as wfm HDF5 sets: the field's channel simulator as a data source.

``wfm-generate sionna OUT.h5 --scenario UMi --task los --samples 2000 --seed 0`` drops one single-antenna user
per sample in a TR 38.901 scenario (UMi, UMa, RMa: a 120° sector of the single-sector drop of
``sionna.phy.channel.gen_single_sector_topology``; InH: uniform in a 120 m x 50 m hall under a 3 m ceiling
base station) or draws a CDL-A...E link, computes the uplink channel to a ``--bs-antennas`` uniform linear array
(half-wavelength, 38.901 element pattern) on ``--subcarriers`` subcarriers spaced ``--spacing`` Hz at
``--carrier`` Hz, and writes it as the (re, im) channels of one complex channel, ``(N, 2, antennas,
subcarriers)`` (``--size`` resizes it as the converters do):

* every sample scaled to unit mean power (the large-scale gain would otherwise give away the distance), then
  complex white noise at an SNR drawn per sample from ``--snr-db`` (low high);
* the file records ``complex_pairs [[0, 1]]`` (channel sampling keeps the pair; the phase options of the
  encoder apply) and the preprocessing (scenario, carrier, array, subcarriers, SNR, seed, sionna version).

Tasks (``--task``): ``los`` (the scenario's LoS state; indoor users are off unless ``--indoor-probability``),
``position`` (the user's x, y, z relative to the base station, metres), ``beam`` (the best beam of a
``--beams``-beam DFT codebook uniform in sin θ on [-1, 1): the beam that collects most power over the
subcarriers, the convention of the built-in ``beam`` task), ``none`` (unlabelled, for pretraining).
Deterministic per ``--seed`` (and ``--batch``): Sionna's random generator is seeded once and the samples
are drawn ``--batch`` at a time. Needs the optional extra: ``pip install -e ".[sionna]"`` (Python >= 3.11).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from wfm.data.converters.common import (
    ArgumentParser,
    finite_float,
    fraction,
    int_at_least,
    nonnegative_int,
    positive_float,
    positive_int,
)
from wfm.data.hdf5 import label_meta, write_dataset_file
from wfm.data.synthetic.csi import beam_names

SCENARIOS = ("UMi", "UMa", "RMa", "InH", "CDL-A", "CDL-B", "CDL-C", "CDL-D", "CDL-E")
TASKS = ("los", "position", "beam", "none")


def _sionna() -> Any:
    try:
        import sionna.phy  # noqa: F401
        from sionna.phy import channel
        from sionna.phy.channel import tr38901
    except ImportError as err:
        raise ImportError("wfm-generate sionna needs the optional extra: pip install -e \".[sionna]\" "
                          f"(sionna-no-rt >= 2.2, Python >= 3.11): {err}") from None
    return sionna, channel, tr38901


def dft_codebook(n_ant: int, n_beams: int) -> np.ndarray:
    """``(n_beams, n_ant)`` unit-norm ULA beams steered to ``sin θ_k = -1 + 2k / n_beams``."""
    s = -1.0 + 2.0 * np.arange(n_beams) / n_beams
    return np.exp(1j * np.pi * np.outer(s, np.arange(n_ant))) / np.sqrt(n_ant)


def _inh_topology(rng: np.random.Generator, b: int) -> tuple[np.ndarray, ...]:
    """Users uniform in a 120 m x 50 m hall at 1.5 m, the base station at the origin at 3 m (ceiling)."""
    ut = np.stack([rng.uniform(-60, 60, b), rng.uniform(1, 50, b), np.full(b, 1.5)], -1)[:, None]
    bs = np.tile(np.array([0.0, 0.0, 3.0]), (b, 1, 1))
    ut_or = np.stack([rng.uniform(0, 2 * np.pi, b), np.zeros(b), np.zeros(b)], -1)[:, None]
    bs_or = np.tile(np.array([np.pi / 2, 0.0, 0.0]), (b, 1, 1))  # boresight along +y, into the hall
    speed = rng.uniform(0, 1.5, b)
    ang = rng.uniform(0, 2 * np.pi, b)
    vel = np.stack([speed * np.cos(ang), speed * np.sin(ang), np.zeros(b)], -1)[:, None]
    return ut, bs, ut_or, bs_or, vel, np.ones((b, 1), bool)  # InH: every user is indoor


def generate(
    scenario: str = "UMi", task: str = "los", samples: int = 2000, seed: int = 0, *, carrier: float = 3.5e9,
    bs_antennas: int = 16, subcarriers: int = 64, spacing: float = 30e3, snr_db: Sequence[float] = (0.0, 20.0),
    beams: int = 16, indoor_probability: float = 0.0, batch: int = 500, progress: bool = False,
) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, Any]]:
    """``(inputs (N, 2, antennas, subcarriers) float32, labels, preprocessing)`` of the module docstring."""
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; expected one of {list(SCENARIOS)}")
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; expected one of {list(TASKS)}")
    cdl = scenario.startswith("CDL")
    if cdl and task in ("los", "position"):
        raise ValueError(f"--task {task} needs a scenario with a topology (UMi, UMa, RMa, InH); CDL links have none")
    if samples < 2 or batch < 1 or bs_antennas < 1 or subcarriers < 1 or beams < 2:
        raise ValueError("need samples >= 2, batch >= 1, bs-antennas >= 1, subcarriers >= 1 and beams >= 2")
    lo, hi = (float(v) for v in snr_db)
    if lo > hi:
        raise ValueError(f"--snr-db must be LOW HIGH with LOW <= HIGH, got {lo} {hi}")
    sionna, channel, tr = _sionna()
    import torch

    sionna.phy.config.seed = int(seed)
    rng = np.random.default_rng([int(seed), 38901])
    kw = dict(carrier_frequency=carrier)
    bs_array = tr.PanelArray(num_rows_per_panel=1, num_cols_per_panel=bs_antennas, polarization="single",
                             polarization_type="V", antenna_pattern="38.901", **kw)
    ut_array = tr.PanelArray(num_rows_per_panel=1, num_cols_per_panel=1, polarization="single",
                             polarization_type="V", antenna_pattern="omni", **kw)
    if cdl:
        model = tr.CDL(scenario[-1], 100e-9, carrier, ut_array=ut_array, bs_array=bs_array, direction="uplink",
                       min_speed=0.0, max_speed=3.0)
    else:
        cls = {"UMi": tr.UMi, "UMa": tr.UMa, "RMa": tr.RMa, "InH": tr.InH}[scenario]
        extra = {} if scenario in ("RMa", "InH") else {"o2i_model": "low"}
        model = cls(ut_array=ut_array, bs_array=bs_array, direction="uplink", **kw, **extra)
    freqs = channel.subcarrier_frequencies(subcarriers, spacing)
    xs, los_all, pos_all = [], [], []
    t0 = time.perf_counter()
    for start in range(0, samples, batch):
        b = min(batch, samples - start)
        if cdl:
            a, tau = model(b, 1, spacing * subcarriers)
        else:
            if scenario == "InH":
                topo = [torch.as_tensor(t, dtype=torch.float32) if t.dtype != bool else torch.as_tensor(t)
                        for t in _inh_topology(rng, b)]
            else:
                topo = list(channel.gen_single_sector_topology(b, 1, scenario.lower(),
                                                               indoor_probability=indoor_probability))
            if start and b != batch and hasattr(model, "reset_topology"):
                model.reset_topology()  # the last, smaller batch
            model.set_topology(*topo)
            a, tau = model(1, spacing * subcarriers)
            los_all.append(model._scenario.los.reshape(b).cpu().numpy().astype(np.int64))
            pos_all.append((topo[0][:, 0] - topo[1][:, 0]).cpu().numpy().astype(np.float32))
        h = channel.cir_to_ofdm_channel(freqs, a, tau, normalize=False)  # (b, rx, rx_ant, tx, tx_ant, t, sc)
        xs.append(h.reshape(b, bs_antennas, subcarriers).cpu().numpy().astype(np.complex128))
        if progress:
            done = start + b
            print(f"wfm-generate sionna: {done}/{samples} samples, {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    h = np.concatenate(xs)
    power = np.mean(np.abs(h) ** 2, axis=(1, 2), keepdims=True)
    h = h / np.sqrt(np.maximum(power, 1e-30))
    snr = rng.uniform(lo, hi, samples)
    noise = (rng.standard_normal(h.shape) + 1j * rng.standard_normal(h.shape)) / np.sqrt(2)
    y = h + noise * np.sqrt(10 ** (-snr / 10))[:, None, None]
    x = np.stack([y.real, y.imag], axis=1).astype(np.float32)
    labels: dict[str, np.ndarray] = {}
    if task == "los":
        labels["los"] = np.concatenate(los_all)
    elif task == "position":
        labels["position"] = np.concatenate(pos_all)
    elif task == "beam":
        w = dft_codebook(bs_antennas, beams)
        gain = np.sum(np.abs(np.einsum("ka,nas->nks", w.conj(), h)) ** 2, axis=-1)
        labels["beam"] = np.argmax(gain, axis=1).astype(np.int64)
    prep = {"source": "sionna", "sionna_version": str(sionna.__version__), "scenario": scenario, "task": task,
            "carrier_hz": carrier, "bs_antennas": bs_antennas, "subcarriers": subcarriers, "spacing_hz": spacing,
            "snr_db": [lo, hi], "beams": beams if task == "beam" else None,
            "indoor_probability": indoor_probability, "seed": int(seed), "batch": int(batch),
            "direction": "uplink", "normalisation": "unit mean power per sample, then noise"}
    return x, labels, prep


def write(out: str | Path, x: np.ndarray, labels: dict[str, np.ndarray], prep: dict[str, Any], beams: int) -> Path:
    out = Path(out)
    kinds = {"los": "classification", "position": "regression", "beam": "classification"}
    names = {"los": ["nlos", "los"], "beam": list(beam_names(beams))}
    meta = label_meta({k: kinds[k] for k in labels}, {k: names[k] for k in labels if k in names},
                      {"position": "m"} if "position" in labels else None)
    name = out.name[:-3] if out.name.endswith(".h5") else out.name
    out.parent.mkdir(parents=True, exist_ok=True)
    return write_dataset_file(out.parent, name, x, labels, meta, source=f"sionna:{prep['scenario']}",
                              modality="csi", preprocessing=prep, complex_pairs=[(0, 1)])


def main(argv: list[str] | None = None) -> int:
    p = ArgumentParser(prog="wfm-generate sionna", description=__doc__.splitlines()[0])
    p.add_argument("out", help="output file (.h5)")
    p.add_argument("--scenario", default="UMi", choices=SCENARIOS)
    p.add_argument("--task", default="los", choices=TASKS)
    p.add_argument("--samples", type=int_at_least(2), default=2000)
    p.add_argument("--seed", type=nonnegative_int, default=0)
    p.add_argument("--carrier", type=positive_float, default=3.5e9, help="carrier frequency, Hz")
    p.add_argument("--bs-antennas", type=positive_int, default=16)
    p.add_argument("--subcarriers", type=positive_int, default=64)
    p.add_argument("--spacing", type=positive_float, default=30e3, help="subcarrier spacing, Hz")
    p.add_argument("--snr-db", type=finite_float, nargs=2, default=(0.0, 20.0), metavar=("LOW", "HIGH"))
    p.add_argument("--beams", type=int_at_least(2), default=16, help="DFT codebook size of --task beam")
    p.add_argument("--indoor-probability", type=fraction, default=0.0)
    p.add_argument("--batch", type=positive_int, default=500)
    p.add_argument("--size", type=positive_int, default=None,
                   help="resize every (antennas x subcarriers) channel to SIZE x SIZE (bicubic, linear in re and im: "
                        "a global rotation stays a rotation), as the converters' --size; default: keep it")
    a = p.parse_args(argv)
    x, labels, prep = generate(a.scenario, a.task, a.samples, a.seed, carrier=a.carrier, bs_antennas=a.bs_antennas,
                               subcarriers=a.subcarriers, spacing=a.spacing, snr_db=a.snr_db, beams=a.beams,
                               indoor_probability=a.indoor_probability, batch=a.batch, progress=a.samples > a.batch)
    if a.size is not None:
        from wfm.data import transforms

        x = transforms.preprocess(x, power=False, size=a.size)
        prep = {**prep, "resize": {"size": [a.size, a.size], "method": "bicubic"}}
    path = write(a.out, x, labels, prep, a.beams)
    print(f"wrote {len(x)} samples {tuple(x.shape[1:])} to {path}"
          + (f"; labels {', '.join(labels)}" if labels else " (unlabelled)"))
    return 0
