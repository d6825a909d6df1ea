"""The built-in CSI datasets, drawn from the ray-traced scenes of :mod:`.csi_scene`.

* :func:`generate_magnitude` — ``|CSI|`` of every base station of a scene (``positioning`` with the user's
  position as its label, ``csi`` / ``csi2`` unlabelled);
* :func:`generate_realimag` — real/imag CSI of one base station drawn per sample (``csi_ri``, ``csi2_ri``);
* :func:`generate_beam` / :func:`generate_los` — serving-BS real/imag CSI with the best DFT beam / LoS flag.

Each dataset draws from its own random stream (``csi_scene.STREAMS[stream]``), so sample ``i`` depends only on
``(seed, stream, i)`` and any chunking of a range gives identical arrays.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from . import csi_scene

#: codebook size of the beam task by default
DEFAULT_BEAMS = 16

Snr = float | Sequence[float]


def beam_names(n: int) -> tuple[str, ...]:
    """Class names of an ``n``-beam codebook."""
    return tuple(f"beam{b}" for b in range(n))


def beam_fields(options: Mapping[str, Any]) -> dict[str, Any]:
    """What the ``beam`` options change in its description: the class names of ``n_beams`` beams."""
    return {"class_names": {"beam": beam_names(int(options["n_beams"]))}}


def _serving(stream: str, serving_bs: int, scene_id: int) -> int:
    n_bs = csi_scene.SCENES[scene_id].n_bs
    serving = int(serving_bs)
    if not 0 <= serving < n_bs:
        raise ValueError(f"synthetic dataset {stream!r}: serving_bs must be in [0, {n_bs}), got {serving}")
    return serving


def generate_magnitude(
    start: int, stop: int, seed: int = 0, *, stream: str, scene_id: int = 0, snr_db: Snr = 20.0,
    scene: Mapping[str, Any] | None = None, position: bool = False,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``|CSI|`` of every base station ``(n, B, M, K)`` float32; ``position``: label ``position`` (n, 3) in metres."""
    ue, _, y, _ = csi_scene.sample(stream, start, stop, seed, snr_db=snr_db, scene_id=scene_id, scene=scene)
    x = np.abs(y).astype(np.float32)
    return x, ({"position": ue.astype(np.float32)} if position else {})


def generate_realimag(
    start: int, stop: int, seed: int = 0, *, stream: str, scene_id: int = 0, snr_db: Snr = 20.0,
    scene: Mapping[str, Any] | None = None,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Real/imag CSI ``(n, 2, M, K)`` of one base station drawn per sample, unit mean power; unlabelled."""
    n_bs = csi_scene.SCENES[scene_id].n_bs
    _, _, y, _ = csi_scene.sample(stream, start, stop, seed, snr_db=snr_db, scene_id=scene_id, scene=scene)
    bs = csi_scene.pick_bs(stream, start, stop, seed, n_bs)
    return csi_scene.realimag(y[np.arange(len(y)), bs]), {}


def generate_los(
    start: int, stop: int, seed: int = 0, *, snr_db: Snr = -5.0, serving_bs: int = 0,
    scene: Mapping[str, Any] | None = None, unit_power: bool = True,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Serving-BS real/imag CSI ``(n, 2, M, K)`` of scene 0 and ``{"los": (n,) int64}`` (1: direct path free)."""
    serving = _serving("los", serving_bs, 0)
    _, _, y, los = csi_scene.sample("los", start, stop, seed, snr_db=snr_db, scene_id=0, scene=scene)
    x = csi_scene.realimag(y[:, serving], unit_power=bool(unit_power))
    return x, {"los": los[:, serving].astype(np.int64)}


def generate_beam(
    start: int, stop: int, seed: int = 0, *, snr_db: Snr = 20.0, n_beams: int = DEFAULT_BEAMS,
    serving_bs: int = 0, scene: Mapping[str, Any] | None = None, unit_power: bool = True,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Serving-BS real/imag CSI ``(n, 2, M, K)`` of scene 0 and ``{"beam": (n,) int64}``: the best beam of an
    ``n_beams`` DFT codebook uniform in sin(theta) on [-1, 1)."""
    serving = _serving("beam", serving_bs, 0)
    n_beams = int(n_beams)
    if n_beams < 2:
        raise ValueError(f"synthetic dataset 'beam': n_beams must be >= 2, got {n_beams}")
    _, h, y, _ = csi_scene.sample("beam", start, stop, seed, snr_db=snr_db, scene_id=0, scene=scene)
    x = csi_scene.realimag(y[:, serving], unit_power=bool(unit_power))
    # the label comes from the noise-free channel: the beam that is truly best, not the noisy estimate
    cb = csi_scene.dft_codebook(h.shape[2], n_beams)
    return x, {"beam": csi_scene.best_beam(h[:, serving], cb).astype(np.int64)}
