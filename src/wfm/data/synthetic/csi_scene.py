"""Synthetic multi-base-station OFDM CSI from one fixed geometric scene per scene seed (ray model).

A scene is a rectangular area (default 60 m × 60 m) bounded by four vertical walls, with base stations
near the walls (heights fixed, default 5 m), each carrying a horizontal half-wavelength ULA along its wall
that faces into the area. Rectangular buildings ("blockers", infinitely tall) cut rays, and a handful of
point scatterers add single-bounce paths. For a user at ``p`` (height 1.5 m) each BS sees

* the line-of-sight path and its ground reflection (image of the BS below the ground plane);
* four first-order wall reflections, found with the image method (the BS mirrored across each wall);
* one single-bounce path per point scatterer (bistatic radar equation);

every ray segment that crosses a blocker loses ``penetration_db``. The CSI is the narrowband sum over
paths at every antenna ``m`` and subcarrier ``k``::

    H[b, m, k] = Σ_l g_l · e(θ_l) · exp(jπ m u_l) · exp(−j2π f_k τ_l),   f_k = f_c + (k − (K−1)/2)·Δf

with free-space amplitude ``λ / (4π d)`` (times the reflection coefficient), ``u_l`` the direction cosine
of the departure direction along the array axis, and ``e`` a flat front / attenuated back element pattern.
The CSI is expressed in units of the receiver noise (unit-variance complex Gaussian noise is added), the
noise level being set by ``snr_db``: the SNR of an unobstructed LoS path at 30 m.

The scene's random layout comes from ``(seed, scene_id)``; sample ``i`` of a dataset from
``np.random.default_rng([seed, stream, i])`` (user position and noise), so chunks are exactly reproducible.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

C0 = 299_792_458.0  # speed of light, m/s
REF_DISTANCE = 30.0  # the SNR option is the SNR of an unobstructed LoS path at this distance

#: Random streams (second element of the per-sample seed) of the CSI datasets.
STREAMS: dict[str, int] = {"positioning": 10, "beam": 11, "los": 12, "csi": 13, "csi_ri": 14, "csi2": 20, "csi2_ri": 21}
#: offset of the stream that draws which BS a single-BS unlabelled sample comes from
BS_STREAM_OFFSET = 100


@dataclass(frozen=True)
class SceneConfig:
    """Parameters of a scene family; the random layout is drawn from ``(seed, scene_id)``."""

    size: tuple[float, float] = (60.0, 60.0)  # area (x, y) in metres
    n_bs: int = 4
    n_ant: int = 16  # half-wavelength ULA
    n_sc: int = 64
    fc: float = 3.5e9
    # Every 48th subcarrier of a 30 kHz-numerology, ~92 MHz carrier (comb-sampled SRS-like sounding):
    # enough delay resolution (~11 m) for positioning, unambiguous delays up to 1/Δf ≈ 694 ns (208 m).
    delta_f: float = 1.44e6
    bs_height: float = 5.0
    ue_height: float = 1.5
    bs_setback: float = 1.0  # BS distance from its wall
    n_scatterers: int = 6
    blocker_size: tuple[float, float] = (4.0, 12.0)
    los_fraction: tuple[float, float] = (0.45, 0.55)  # target LoS fraction of BS 0 over the free area
    penetration_db: float = 25.0  # loss per blocker a ray crosses
    back_lobe_db: float = 15.0  # element pattern: front/back ratio
    wall_gamma: tuple[float, float] = (0.3, 0.6)  # |reflection coefficient| of the walls
    ground_gamma: tuple[float, float] = (0.3, 0.6)
    rcs: tuple[float, float] = (1.0, 20.0)  # scatterer radar cross-section range, m²

    @property
    def wavelength(self) -> float:
        return C0 / self.fc


#: Scene families used by the built-in datasets: scene 0 (positioning, beam, los, csi) and scene 1 (csi2).
SCENES: dict[int, SceneConfig] = {
    0: SceneConfig(),
    1: SceneConfig(size=(80.0, 50.0), n_bs=5, n_ant=32, n_sc=64, delta_f=0.72e6, n_scatterers=8),
}


@dataclass(frozen=True, eq=False)
class Scene:
    """A concrete scene: positions in metres, ``blockers`` as ``(xmin, ymin, xmax, ymax)`` rows."""

    config: SceneConfig
    bs_pos: np.ndarray  # (B, 3)
    bs_axis: np.ndarray  # (B, 3) unit vector along the array (horizontal)
    bs_normal: np.ndarray  # (B, 3) unit boresight (horizontal, into the area)
    blockers: np.ndarray  # (R, 4)
    scatterers: np.ndarray  # (S, 3)
    scatterer_gain: np.ndarray  # (S,) complex: sqrt(RCS) with a random scattering phase
    wall_gamma: np.ndarray  # (4,) complex reflection coefficients for walls x=0, x=X, y=0, y=Y
    ground_gamma: complex = field(default=-0.5 + 0j)

    @property
    def n_paths(self) -> int:
        return 2 + 4 + len(self.scatterers)


# --------------------------------------------------------------------------------------------- geometry
def mirror(points: np.ndarray, wall: int, size: tuple[float, float]) -> np.ndarray:
    """Image of ``points`` (..., 3) across boundary wall ``wall`` (0: x=0, 1: x=X, 2: y=0, 3: y=Y)."""
    axis, coord = wall // 2, (0.0, size[wall // 2])[wall % 2]
    out = np.array(points, dtype=np.float64, copy=True)
    out[..., axis] = 2.0 * coord - out[..., axis]
    return out


def segment_hits(p0: np.ndarray, p1: np.ndarray, rects: np.ndarray) -> np.ndarray:
    """How many axis-aligned rectangles each 2-D segment ``p0 → p1`` (..., 2) crosses -> (...) int.

    Slab test: the segment's parameter interval inside each rectangle is the intersection of the x- and
    y-slab intervals; the segment hits the rectangle if that interval overlaps ``[0, 1]``.
    """
    if len(rects) == 0:
        return np.zeros(np.broadcast_shapes(p0.shape, p1.shape)[:-1], np.int64)
    p0 = p0[..., None, :]
    d = (p1 - p0[..., 0, :])[..., None, :]
    lo, hi = rects[:, :2], rects[:, 2:]
    with np.errstate(divide="ignore", invalid="ignore"):
        t1, t2 = (lo - p0) / d, (hi - p0) / d
    parallel = np.abs(d) < 1e-12
    inside = (p0 >= lo) & (p0 <= hi)
    # a segment parallel to a slab is inside it for all t or for none
    t_in = np.where(parallel, np.where(inside, -np.inf, np.inf), np.minimum(t1, t2))
    t_out = np.where(parallel, np.where(inside, np.inf, -np.inf), np.maximum(t1, t2))
    enter = np.maximum(t_in.max(-1), 0.0)
    leave = np.minimum(t_out.min(-1), 1.0)
    return (enter <= leave).sum(-1)


def inside_blockers(xy: np.ndarray, rects: np.ndarray) -> np.ndarray:
    """True for points (..., 2) inside any rectangle."""
    if len(rects) == 0:
        return np.zeros(xy.shape[:-1], bool)
    p = xy[..., None, :]
    return ((p >= rects[:, :2]) & (p <= rects[:, 2:])).all(-1).any(-1)


def _bs_layout(cfg: SceneConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BSs spread evenly along the perimeter starting at the middle of the wall y=0, set back from walls."""
    X, Y = cfg.size
    per = 2 * (X + Y)
    pos, axis, normal = [], [], []
    for b in range(cfg.n_bs):
        s = (X / 2 + b * per / cfg.n_bs) % per
        # walk the perimeter counter-clockwise: y=0, x=X, y=Y, x=0; keep 3 m clear of the corners
        if s < X:
            xy, ax, nrm = (np.clip(s, 3, X - 3), cfg.bs_setback), (1, 0), (0, 1)
        elif s < X + Y:
            t = s - X
            xy, ax, nrm = (X - cfg.bs_setback, np.clip(t, 3, Y - 3)), (0, 1), (-1, 0)
        elif s < 2 * X + Y:
            t = s - X - Y
            xy, ax, nrm = (np.clip(X - t, 3, X - 3), Y - cfg.bs_setback), (-1, 0), (0, -1)
        else:
            t = s - 2 * X - Y
            xy, ax, nrm = (cfg.bs_setback, np.clip(Y - t, 3, Y - 3)), (0, -1), (1, 0)
        pos.append((*xy, cfg.bs_height))
        axis.append((*ax, 0.0))
        normal.append((*nrm, 0.0))
    return np.array(pos, float), np.array(axis, float), np.array(normal, float)


def los_map(scene: Scene, xy: np.ndarray, bs: int = 0) -> np.ndarray:
    """True where the LoS from BS ``bs`` to the points (..., 2) crosses no blocker."""
    return segment_hits(np.broadcast_to(scene.bs_pos[bs, :2], xy.shape), xy, scene.blockers) == 0


def _free_grid(cfg: SceneConfig, step: float = 1.0) -> np.ndarray:
    X, Y = cfg.size
    gx, gy = np.meshgrid(np.arange(step / 2, X, step), np.arange(step / 2, Y, step), indexing="ij")
    return np.stack([gx.ravel(), gy.ravel()], -1)


def build_scene(seed: int = 0, scene_id: int = 0, overrides: Mapping[str, Any] | None = None) -> Scene:
    """The fixed scene of family ``SCENES[scene_id]`` for ``seed``, with ``SceneConfig`` fields ``overrides``
    (e.g. ``{"penetration_db": 10.0}``); cached, it is a pure function of its arguments."""
    items = tuple(sorted((k, tuple(v) if isinstance(v, (list, tuple)) else v) for k, v in (overrides or {}).items()))
    return _build_scene(int(seed), int(scene_id), items)


@functools.lru_cache(maxsize=16)
def _build_scene(seed: int, scene_id: int, overrides: tuple[tuple[str, Any], ...]) -> Scene:
    if scene_id not in SCENES:
        raise ValueError(f"unknown scene_id {scene_id}; expected one of {sorted(SCENES)}")
    fields = {f.name for f in dataclasses.fields(SceneConfig)}
    unknown = sorted(k for k, _ in overrides if k not in fields)
    if unknown:
        raise ValueError(f"unknown scene option(s) {unknown}; SceneConfig fields are {sorted(fields)}")
    cfg = dataclasses.replace(SCENES[scene_id], **dict(overrides))
    return make_scene(cfg, np.random.default_rng(np.random.SeedSequence([seed, scene_id], spawn_key=(7,))))


def make_scene(cfg: SceneConfig, rng: np.random.Generator) -> Scene:
    """Draw blockers until BS 0 sees LoS over a fraction of the free area inside ``cfg.los_fraction``."""
    X, Y = cfg.size
    bs_pos, bs_axis, bs_normal = _bs_layout(cfg)
    grid = _free_grid(cfg)
    lo_frac, hi_frac = cfg.los_fraction
    blockers = np.zeros((0, 4))
    for _ in range(2000):
        w, h = rng.uniform(*cfg.blocker_size, 2)
        cx, cy = rng.uniform(w / 2 + 2, X - w / 2 - 2), rng.uniform(h / 2 + 2, Y - h / 2 - 2)
        rect = np.array([[cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]])
        # keep blockers a few metres clear of every BS so no BS sits inside or right against a building
        if inside_blockers(bs_pos[:, :2], rect + np.array([-3, -3, 3, 3])).any():
            continue
        trial = np.concatenate([blockers, rect])
        free = grid[~inside_blockers(grid, trial)]
        frac = los_map(Scene(cfg, bs_pos, bs_axis, bs_normal, trial, np.zeros((0, 3)), np.zeros(0),
                             np.zeros(4)), free).mean()
        if frac < lo_frac:
            continue  # this building would shadow too much: try another
        blockers = trial
        if frac <= hi_frac:
            break
    else:
        raise RuntimeError(f"could not place blockers reaching LoS fraction {cfg.los_fraction} for {cfg}")
    scat = []
    while len(scat) < cfg.n_scatterers:
        p = rng.uniform((1, 1), (X - 1, Y - 1))
        if not inside_blockers(p, blockers):
            scat.append((*p, rng.uniform(1.0, 8.0)))
    rcs = rng.uniform(*cfg.rcs, cfg.n_scatterers)
    scat_gain = np.sqrt(rcs) * np.exp(2j * np.pi * rng.random(cfg.n_scatterers))
    wall_gamma = rng.uniform(*cfg.wall_gamma, 4) * np.exp(1j * np.pi)  # ~ -|Γ| (TE, grazing-ish incidence)
    ground_gamma = complex(-rng.uniform(*cfg.ground_gamma))
    return Scene(cfg, bs_pos, bs_axis, bs_normal, blockers, np.array(scat, float).reshape(-1, 3),
                 scat_gain, wall_gamma, ground_gamma)


# ------------------------------------------------------------------------------------------------ paths
def paths(scene: Scene, ue: np.ndarray) -> dict[str, np.ndarray]:
    """Ray paths from every BS to users ``ue`` (n, 3).

    Returns ``delay`` (n, B, L) s, ``gain`` (n, B, L) complex amplitude (path loss, reflection, blockage,
    element pattern), ``u`` (n, B, L) direction cosine of departure along the array axis, and
    ``los`` (n, B) True where the direct path crosses no blocker. Path order: LoS, ground, walls x=0,
    x=X, y=0, y=Y, then scatterers.
    """
    cfg = scene.config
    lam = cfg.wavelength
    ue = np.asarray(ue, np.float64)
    n, B, S = len(ue), len(scene.bs_pos), len(scene.scatterers)
    L = scene.n_paths
    bs = scene.bs_pos[None, :, :]  # (1, B, 3)
    u3 = ue[:, None, :]  # (n, 1, 3)
    length = np.empty((n, B, L))
    amp = np.empty((n, B, L), np.complex128)
    depart = np.empty((n, B, L, 3))  # departure direction (not normalised)
    hits = np.zeros((n, B, L), np.int64)

    # direct path and ground reflection share the horizontal trace
    d = u3 - bs
    length[..., 0] = np.linalg.norm(d, axis=-1)
    amp[..., 0] = 1.0
    depart[..., 0, :] = d
    img = bs * np.array([1.0, 1.0, -1.0])
    dg = u3 - img
    length[..., 1] = np.linalg.norm(dg, axis=-1)
    amp[..., 1] = scene.ground_gamma
    depart[..., 1, :] = dg * np.array([1.0, 1.0, -1.0])  # leaves the BS downwards
    xy0 = np.broadcast_to(bs[..., :2], (n, B, 2))
    xy1 = np.broadcast_to(u3[..., :2], (n, B, 2))
    los_hits = segment_hits(xy0, xy1, scene.blockers)
    hits[..., 0] = hits[..., 1] = los_hits

    # first-order wall reflections by the image method
    for w in range(4):
        axis, coord = w // 2, (0.0, cfg.size[w // 2])[w % 2]
        img = mirror(bs, w, cfg.size)
        dw = u3 - img  # unfolded path: same length as BS -> wall -> UE
        length[..., 2 + w] = np.linalg.norm(dw, axis=-1)
        amp[..., 2 + w] = scene.wall_gamma[w]
        dep = dw.copy()
        dep[..., axis] *= -1.0
        depart[..., 2 + w, :] = dep
        # reflection point where the unfolded ray crosses the wall plane
        t = (coord - img[..., axis]) / dw[..., axis]
        refl = (img + t[..., None] * dw)[..., :2]
        hits[..., 2 + w] = segment_hits(xy0, refl, scene.blockers) + segment_hits(refl, xy1, scene.blockers)

    # single-bounce point scatterers (bistatic radar equation)
    if S:
        sc = scene.scatterers[None, None, :, :]  # (1, 1, S, 3)
        d1v = sc - bs[:, :, None, :]  # (1, B, S, 3)
        d2v = u3[:, :, None, :] - sc  # (n, 1, S, 3)
        d1 = np.linalg.norm(d1v, axis=-1)
        d2 = np.linalg.norm(d2v, axis=-1)
        length[..., 6:] = d1 + d2
        # amplitude λ√σ / ((4π)^1.5 d1 d2), written relative to the λ/(4π d) applied to all paths below
        amp[..., 6:] = scene.scatterer_gain * (d1 + d2) / (np.sqrt(4 * np.pi) * d1 * d2)
        depart[..., 6:, :] = np.broadcast_to(d1v, (n, B, S, 3))
        sxy = np.broadcast_to(sc[..., :2], (n, B, S, 2))
        h1 = segment_hits(np.broadcast_to(bs[:, :, None, :2], (n, B, S, 2)), sxy, scene.blockers)
        h2 = segment_hits(sxy, np.broadcast_to(u3[:, :, None, :2], (n, B, S, 2)), scene.blockers)
        hits[..., 6:] = h1 + h2

    dirn = depart / np.linalg.norm(depart, axis=-1, keepdims=True)
    u = np.einsum("nblc,bc->nbl", dirn, scene.bs_axis)
    front = np.einsum("nblc,bc->nbl", dirn, scene.bs_normal) >= 0
    element = np.where(front, 1.0, 10 ** (-cfg.back_lobe_db / 20))
    gain = amp * (lam / (4 * np.pi * length)) * element * 10 ** (-cfg.penetration_db * hits / 20)
    return {"delay": length / C0, "gain": gain, "u": u, "los": los_hits == 0}


def subcarrier_freqs(cfg: SceneConfig) -> np.ndarray:
    """Absolute subcarrier frequencies (Hz), centred on the carrier."""
    return cfg.fc + (np.arange(cfg.n_sc) - (cfg.n_sc - 1) / 2) * cfg.delta_f


def _ramp(cycles: np.ndarray, n: int) -> np.ndarray:
    """``exp(2jπ · cycles · k)`` for ``k = 0..n-1``, shape ``(..., n)``.

    Factorised as ``k = q·s + r`` so only about ``2·√n`` complex exponentials per entry are evaluated
    (they dominate the cost otherwise); every phase is reduced modulo one cycle in float64 first.
    """
    s = int(np.ceil(np.sqrt(n)))
    nq = -(-n // s)
    c = cycles[..., None]
    fine = np.exp(2j * np.pi * np.mod(c * np.arange(s), 1.0))  # (..., s)
    coarse = np.exp(2j * np.pi * np.mod(c * (s * np.arange(nq)), 1.0))  # (..., nq)
    out = coarse[..., :, None] * fine[..., None, :]
    return out.reshape(*cycles.shape, nq * s)[..., :n]


def channel(scene: Scene, ue: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Noise-free CSI ``(n, B, M, K)`` complex (unnormalised, in linear amplitude) and LoS flags (n, B)."""
    cfg = scene.config
    p = paths(scene, ue)
    # half-wavelength spacing: phase step π·u per antenna; the path gain is folded into the steering
    steer = _ramp(p["u"] / 2, cfg.n_ant) * p["gain"][..., None]  # (n, B, L, M)
    tau = p["delay"]
    f0 = cfg.fc - (cfg.n_sc - 1) / 2 * cfg.delta_f
    # exp(−j2π f_k τ) = exp(−j2π f_0 τ) · exp(−j2π Δf τ)^k; carrier phase reduced modulo a cycle
    steer *= np.exp(-2j * np.pi * np.mod(tau * f0, 1.0))[..., None]
    delay_term = _ramp(-tau * cfg.delta_f, cfg.n_sc)  # (n, B, L, K)
    # stacked (M, L) @ (L, K) products: one small GEMM per (user, BS), independent of the batch size
    return np.matmul(np.swapaxes(steer, -1, -2), delay_term), p["los"]


def noise_amplitude(cfg: SceneConfig, snr_db: float) -> float:
    """Noise std (per antenna and subcarrier) giving ``snr_db`` for an unobstructed LoS path at 30 m."""
    return cfg.wavelength / (4 * np.pi * REF_DISTANCE) / 10 ** (snr_db / 20)


# ---------------------------------------------------------------------------------------------- beams
def dft_codebook(n_ant: int, n_beams: int) -> np.ndarray:
    """``(n_beams, n_ant)`` unit-norm DFT beams, uniform in ``u = sin θ`` on the half-open grid [−1, 1)."""
    if n_beams < 1 or n_ant < 1:
        raise ValueError(f"n_beams and n_ant must be >= 1, got {n_beams}, {n_ant}")
    ub = -1.0 + 2.0 * np.arange(n_beams) / n_beams
    return np.exp(1j * np.pi * np.outer(ub, np.arange(n_ant))) / np.sqrt(n_ant)


def best_beam(h: np.ndarray, codebook: np.ndarray) -> np.ndarray:
    """Best beam for channels ``h`` (n, M, K): argmax over beams of ``Σ_k |w_bᴴ h_k|²``."""
    return np.argmax((np.abs(codebook.conj() @ h) ** 2).sum(-1), axis=-1)


# ------------------------------------------------------------------------------------------- datasets
def _users(rng: np.random.Generator, scene: Scene) -> np.ndarray:
    """A user position uniform over the free area (outside blockers, not on top of a BS)."""
    cfg = scene.config
    while True:
        xy = rng.uniform((0.5, 0.5), (cfg.size[0] - 0.5, cfg.size[1] - 0.5))
        near_bs = (np.linalg.norm(scene.bs_pos[:, :2] - xy, axis=1) < 1.0).any()
        if not (near_bs or inside_blockers(xy, scene.blockers)):
            return np.array([xy[0], xy[1], cfg.ue_height])


def sample(
    name: str, start: int, stop: int, seed: int = 0, snr_db: float | Sequence[float] = 20.0, scene_id: int = 0,
    scene: Mapping[str, Any] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Users, noise-free and noisy CSI for samples ``[start, stop)`` of stream ``name``.

    ``snr_db`` is one SNR for every sample, or a range ``(low, high)``: each sample then draws its own,
    uniform in dB (after its user and noise, so the same sample keeps its position and noise pattern).
    ``scene`` overrides fields of the scene family's :class:`SceneConfig` (see :func:`build_scene`).

    Returns ``ue`` (n, 3), ``h`` (n, B, M, K) noise-free and ``y`` noisy complex64 CSI in noise units,
    ``los`` (n, B).
    """
    if name not in STREAMS:
        raise ValueError(f"unknown CSI stream {name!r}; expected one of {sorted(STREAMS)}")
    if not (0 <= start <= stop):
        raise ValueError(f"need 0 <= start <= stop, got start={start}, stop={stop}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    layout = build_scene(seed, scene_id, scene)
    cfg = layout.config
    n = stop - start
    shape = (cfg.n_bs, cfg.n_ant, cfg.n_sc)
    ue = np.empty((n, 3))
    noise = np.empty((n, *shape), np.complex64)
    snr_range = np.atleast_1d(np.asarray(snr_db, dtype=np.float64))
    if snr_range.size not in (1, 2) or snr_range[0] > snr_range[-1]:
        raise ValueError(f"snr_db must be a number or (low, high) with low <= high, got {snr_db}")
    snr = np.empty(n)
    for j, i in enumerate(range(start, stop)):
        rng = np.random.default_rng([seed, STREAMS[name], i])
        ue[j] = _users(rng, layout)
        z = rng.standard_normal((2, *shape), dtype=np.float32)
        noise[j].real = z[0]
        noise[j].imag = z[1]
        snr[j] = rng.uniform(snr_range[0], snr_range[-1]) if snr_range.size == 2 else snr_range[0]
    noise *= np.float32(np.sqrt(0.5))  # unit-variance complex noise
    h, los = channel(layout, ue)
    # single precision from here: the outputs are float32 and the noise floor is at 1, far above round-off
    scale = np.array([noise_amplitude(cfg, s) for s in snr])[:, None, None, None]
    h = (h / scale).astype(np.complex64)
    return ue, h, h + noise, los


def pick_bs(name: str, start: int, stop: int, seed: int, n_bs: int) -> np.ndarray:
    """The base station of each sample ``[start, stop)`` of a single-BS stream, uniform over ``n_bs``."""
    s = STREAMS[name] + BS_STREAM_OFFSET
    return np.array([np.random.default_rng([seed, s, i]).integers(n_bs) for i in range(start, stop)], np.int64)


def realimag(y: np.ndarray, unit_power: bool = True) -> np.ndarray:
    """Complex (n, M, K) -> float32 (n, 2, M, K), each sample scaled to unit mean power (``unit_power``) or
    left in noise units (the received power then carries path loss and blockage)."""
    if unit_power:
        y = y / np.sqrt(np.mean(np.abs(y) ** 2, axis=(-2, -1), keepdims=True))
    return np.stack([y.real, y.imag], axis=1).astype(np.float32)
