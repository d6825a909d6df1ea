"""Sionna's 3GPP TR 38.901 channels as built-in sets: the field's channel simulator inside the registry.

The same channels as ``wfm-generate sionna`` (:mod:`wfm.data.sionna_source`: uplink CSI of one single-antenna
user at a half-wavelength ULA, unit mean power per sample, then white noise at an SNR drawn per sample), as
registry generators, so that a config names them like any built-in set (``datasets: [..., sionna_umi]``,
``dataset: sionna_uma_los``) and they are built into the cache on first use.

The registry asks that sample ``i`` depend only on ``(seed, i, options)``. Sionna draws a batch of users
at a time from one seeded generator, so samples are drawn in fixed blocks of :data:`BLOCK`: block ``b`` of
seed ``s`` is its own Sionna run seeded from ``(s, b)``, and any range ``[start, stop)`` is cut from the blocks
it touches. A list of scenarios is cycled block by block (``sionna_cdl``: CDL-A, B, C, D, E, A, ...).

Needs the optional extra (``pip install -e ".[sionna]"``, Python >= 3.11); without it, building one of these
sets fails with one line naming the set and the extra.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .csi import beam_names

#: samples per Sionna run; a divisor of the cache builder's chunk (256), so no block is drawn twice per build
BLOCK = 128

#: the pretraining mix's link parameters (the built-in CSI scene's carrier and array: 3.5 GHz, 16-antenna ULA,
#: 64 subcarriers at 30 kHz) and the SNR range of the built-in pretraining CSI
PRETRAIN = {"carrier": 3.5e9, "bs_antennas": 16, "subcarriers": 64, "spacing": 30e3, "snr_db": (-5.0, 25.0),
            "indoor_probability": 0.0}
#: the held-out downstream tasks: a scenario (UMa), carrier (28 GHz) and array (32 antennas) that no
#: pretraining set has (the outside-data table of docs/results.md used the same link)
HELD_OUT = {"carrier": 28e9, "bs_antennas": 32, "subcarriers": 64, "spacing": 30e3, "snr_db": (0.0, 20.0),
            "indoor_probability": 0.0}
#: the beam task's codebook size (its option ``beams``; the other sets have no codebook)
BEAMS = 16


def link(options: Mapping[str, Any]) -> str:
    """The link of a set's ``options`` in words, for its description."""
    lo, hi = options["snr_db"]
    return (f"{options['bs_antennas']}-antenna ULA x {options['subcarriers']} subcarriers at "
            f"{options['spacing'] / 1e3:g} kHz, {options['carrier'] / 1e9:g} GHz, SNR {lo:g}..{hi:g} dB")


def _block_seed(seed: int, block: int) -> int:
    return int(np.random.SeedSequence([int(seed), int(block), 38901]).generate_state(1)[0])


def generate(start: int, stop: int, seed: int, *, task: str, scenario: str | Sequence[str], carrier: float,
             bs_antennas: int, subcarriers: int, spacing: float, snr_db: Sequence[float], indoor_probability: float,
             beams: int = BEAMS, name: str = "sionna") -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Samples ``[start, stop)``: raw ``(n, 2, bs_antennas, subcarriers)`` float32 (re, im) and the ``task``'s
    label (``los`` int64 ``(n,)``, ``position`` float32 ``(n, 3)`` m relative to the base station, ``beam`` int64
    ``(n,)``; none for ``task="none"``)."""
    from wfm.data import sionna_source

    scenarios = [scenario] if isinstance(scenario, str) else list(scenario)
    if not scenarios:
        raise ValueError(f"built-in dataset {name!r}: scenario must name at least one of "
                         f"{list(sionna_source.SCENARIOS)}")
    xs: list[np.ndarray] = []
    labels: dict[str, list[np.ndarray]] = {}
    for block in range(start // BLOCK, -(-stop // BLOCK)) if stop > start else ():
        lo, hi = max(start, block * BLOCK) - block * BLOCK, min(stop, (block + 1) * BLOCK) - block * BLOCK
        try:
            x, lab, _ = sionna_source.generate(
                scenarios[block % len(scenarios)], task, BLOCK, _block_seed(seed, block), carrier=float(carrier),
                bs_antennas=int(bs_antennas), subcarriers=int(subcarriers), spacing=float(spacing),
                snr_db=tuple(float(v) for v in snr_db), beams=int(beams),
                indoor_probability=float(indoor_probability), batch=BLOCK)
        except ImportError as err:
            raise ImportError(f"built-in dataset {name!r} is made with Sionna: {err}") from None
        xs.append(x[lo:hi])
        for k, v in lab.items():
            labels.setdefault(k, []).append(v[lo:hi])
    if not xs:
        empty = {"los": np.zeros(0, np.int64), "position": np.zeros((0, 3), np.float32),
                 "beam": np.zeros(0, np.int64)}
        return np.zeros((0, 2, int(bs_antennas), int(subcarriers)), np.float32), (
            {task: empty[task]} if task in empty else {})
    return np.concatenate(xs), {k: np.concatenate(v) for k, v in labels.items()}


def fields(options: Mapping[str, Any], task: str = "none") -> dict[str, Any]:
    """What the options change in a set's description: the array x subcarriers shape, and for ``task="beam"``
    the names of the ``beams`` beams."""
    out: dict[str, Any] = {"raw_shape": (int(options["bs_antennas"]), int(options["subcarriers"]))}
    if task == "beam":
        out["class_names"] = {"beam": beam_names(int(options["beams"]))}
    return out
