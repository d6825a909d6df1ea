"""The built-in mmWave vehicle-to-infrastructure (V2I) scene of JEPA-MSAC: multi-sensor sequences from geometry.

Everything is derived from one 3-D scene per sequence, simulated frame by frame at ``frame_rate_hz`` and cut
into sliding windows afterwards (frames are reused, not re-simulated). Units: metres, seconds, dB / dBm.

Scene (world frame: ``x`` east along the street, ``y`` north across it, ``z`` up; the BS at the origin)
------------------------------------------------------------------------------------------------------
* **Base station** at ``(0, 0)``: the mmWave array at ``z = 6 m``, a ``num_antennas``-element horizontal ULA
  along ``x`` (half-wavelength spacing at ``carrier_ghz``) facing the street (``+y``), element power pattern
  ``max(cos psi, -20 dB)`` (``psi`` the angle from ``+y``); the camera at ``z = 5.5 m``, the LiDAR at
  ``z = 4 m`` and the FMCW radar at ``z = 5 m``, all at the BS.
* **Street**: four 3 m lanes with centres ``y = 9.5, 12.5`` (eastbound, ``+x``) and ``15.5, 18.5``
  (westbound), asphalt between ``y = 8`` and ``20 m``, sidewalks outside; lane markings on the ground.
* **Buildings**: two reflecting walls along the street, ``y = -4 m`` (behind the BS) and ``y = 26 m`` (far
  side), 12 m tall, unbounded along ``x``.
* **UE vehicle**: a car box (4.5 x 1.8 x 1.5 m) with its antenna at ``z = 1.5 m`` on the roof; speed from a
  smooth random acceleration process (Ornstein-Uhlenbeck acceleration, ``accel_std`` m/s^2, 2 s correlation
  time) clipped to ``speed_range`` (default 5-20 m/s); lane changes to the other lane of its direction at
  Poisson times (``lane_change_rate_hz``), each a smooth half-cosine over 1.5-3 s. The trajectory is shifted
  along ``x`` so the UE is near the BS (``|x| < 10 m``) at the middle frame, i.e. it drives past the BS.
* **Route** (the window's ``block``): one of 4, ``sequence_index % 4``: (eastbound, lane 0), (eastbound,
  lane 1), (westbound, lane 2), (westbound, lane 3) — driving direction x starting lane.
* **Other vehicles**: ``num_vehicles`` (default 2-6) boxes per sequence, cars (about 4.5 x 1.8 x 1.5 m) or,
  with probability ``truck_fraction``, trucks (about 10 x 2.5 x 3.5 m; sizes vary by +-8 %), each in a random
  lane with its lane's direction and its own speed process; each is placed so that it is near the UE (within
  +-20 m along the street) at a random frame, so vehicles overtake the UE, and pass between it and the BS.
  Vehicles do not interact (boxes of other vehicles may overlap; none overlaps the UE at that frame).

Sensors, per frame
------------------
* **beam_power** ``(K,)`` dBm — a sparse geometric channel (eq. 2): the LoS path (free-space amplitude
  ``lambda / (4 pi d)``), the ground reflection (image method, ``ground_loss_db``) and single-bounce
  reflections from both walls (image method, ``wall_loss_db``), each with its angle of departure (the direction
  cosine ``u`` along the array) and phase ``exp(-j 2 pi d / lambda)``. Every ray segment that crosses another
  vehicle's box loses that vehicle's blockage loss (drawn in ``blockage_db``, default 15-30 dB). The gains
  are physical, so eq. 2's ``sqrt(N / L)`` normalisation is replaced by the free-space amplitudes and the
  array gain of ``a(u) = [exp(j pi m u)]_m``. Codebook (eq. 1): ``K`` beams steered to ``phi_k`` evenly over
  ``[-beam_span_deg, +beam_span_deg]`` (beam 0 to the west, ``-x``; broadside is ``+y``). Received signal (eq. 3)
  ``y_k = h^H w_k + n_k`` with ``P_tx = tx_power_dbm`` and complex Gaussian noise whose power makes the SNR of
  the aligned beam of an unobstructed LoS path at 50 m equal to ``snr_db``; ``beam_power`` is the RSRP
  ``10 log10 mean_s |y_k,s|^2`` over ``RSRP_SYMBOLS`` = 8 pilot symbols (noise-only beams sit near the
  noise power, about ``snr_db`` below that reference).
  Labels: ``beam = argmax_k beam_power`` (eq. 4 on the measured powers), ``rssi = rssi_db(beam_power)``.
* **radar** ``(1, A, R)`` — a raw complex FMCW IF cube ``(N_rx = 4, radar_chirps, N_adc = 2 R)`` at 77 GHz:
  point scatterers on every vehicle (the point of its box nearest the radar and 3 fixed points on its side
  facing the BS; reflectivity 1 for cars, 2 for trucks, scaled per point) and 16 static points on the far wall,
  each ``A_s exp(j(phi_s + 2 pi nu_s m + 4 pi v_r c T_c / lambda + 2 pi (r / dR) n / N_adc))`` with amplitude
  ``A_s = rho_s (10 m / r)^2`` (x 0.1 when another box occludes it), ``nu_s = u_s / 2`` the spatial frequency
  (half-wavelength receive array along ``x``), ``v_r`` the radial velocity, ``T_c = 60 us``, range resolution
  ``dR = radar_max_range_m / R`` (an ideal IF low-pass drops scatterers beyond ``2 radar_max_range_m``) and
  complex noise of std ``radar_noise``. Then :func:`wfm.data.sensors.range_angle_map` (eq. 8, static clutter
  removed) with ``A`` angle and ``R`` range bins, and ``radar = log1p(map / (radar_noise sqrt(N_rx N_adc)))``
  (noise-only bins about 0.6).
* **lidar** ``(1, H, W)`` — rays from ``(0, 0, 4 m)`` at the bin centres of the full yaw circle (``W``) and
  pitch ``[-15, +15] deg`` (``H``), cast against the vehicle boxes, the walls and the ground; range noise
  ``lidar_range_noise_m``; the points go through :func:`wfm.data.sensors.lidar_depth_image` (eq. 9-10,
  ``d_max = 100 m``; yaw 0 is ``+x``, the street is at yaw +90 deg).
* **image** ``(3, H, W)`` in [0, 1] — a pinhole camera at ``(0, 0, 5.5 m)`` looking at the street (``+y``,
  tilted 12 deg down, ``camera_fov_deg`` horizontal field of view), each pixel ray cast against the ground
  (asphalt, sidewalk, lane markings), the walls (facade with windows), the vehicle boxes (each its own colour,
  the UE always magenta ``UE_COLOUR``) and the sky; Lambertian shading from a fixed sun (with vehicle shadows),
  ``camera_supersample``^2 rays per pixel averaged, Gaussian pixel noise ``image_noise``, clipped to [0, 1].
* **gps** ``(2,)`` m — the true UE antenna position plus white noise (``gps_noise_m`` per axis) and a slowly
  drifting bias (Ornstein-Uhlenbeck, ``gps_bias_m`` per axis, ``gps_bias_tau_s``), converted to lat / lon with
  :func:`wfm.data.sequence.local_to_gps` around ``bs_lat_lon``, rounded to 1e-7 deg as a receiver reports it,
  and back with eq. 11 (:func:`wfm.data.sequence.gps_to_local`). The ``position`` label is the true position.

Every sequence draws from ``np.random.default_rng([seed, STREAM, sequence_index])`` only, so the same seed
gives identical arrays and a longer run's first sequences equal a shorter run's.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from wfm.data.sensors import beam_power_db, lidar_depth_image, range_angle_map, rssi_db
from wfm.data.sequence import gps_to_local, local_to_gps, write_sequence_file

C0 = 299_792_458.0
#: the fixed second element of every sequence's random seed
STREAM = 6021
SOURCE = "synthetic:v2i"

BS_HEIGHT = 6.0
CAMERA_POS = (0.0, 0.0, 5.5)
CAMERA_TILT_DEG = 12.0
LIDAR_POS = (0.0, 0.0, 4.0)
RADAR_POS = (0.0, 0.0, 5.0)
UE_ANTENNA_HEIGHT = 1.5
LANE_Y = (9.5, 12.5, 15.5, 18.5)
LANE_DIR = (1.0, 1.0, -1.0, -1.0)
ROAD_Y = (8.0, 20.0)
WALL_Y = (-4.0, 26.0)
WALL_HEIGHT = 12.0
ROUTES = ("east-lane0", "east-lane1", "west-lane2", "west-lane3")
CAR_SIZE = (4.5, 1.8, 1.5)
TRUCK_SIZE = (10.0, 2.5, 3.5)
UE_COLOUR = (0.95, 0.12, 0.78)
VEHICLE_PALETTE = ((0.85, 0.85, 0.85), (0.12, 0.12, 0.14), (0.55, 0.57, 0.6), (0.15, 0.25, 0.6),
                   (0.6, 0.1, 0.1), (0.2, 0.45, 0.25), (0.9, 0.8, 0.3), (0.95, 0.95, 0.92))
SUN_DIR = (-0.35, -0.55, 0.76)  # towards the sun: south-west, about 50 deg elevation
SNR_REF_DISTANCE = 50.0
RSRP_SYMBOLS = 8  # pilot symbols whose received powers are averaged into one beam's measurement
RADAR_CARRIER_HZ = 77e9
RADAR_CHIRP_S = 60e-6
RADAR_RX = 4
LIDAR_FOV_DEG = (15.0, -15.0)
LIDAR_D_MAX = 100.0
ACCEL_TAU_S = 2.0


@dataclass(frozen=True)
class V2IOptions:
    """All options of :func:`generate_v2i` (documented there)."""

    num_sequences: int = 48
    frames_per_sequence: int = 100
    seed: int = 0
    window: int = 13
    history: int = 8
    stride: int = 4
    image_hw: tuple[int, int] = (24, 32)
    radar_bins: tuple[int, int] = (32, 32)
    lidar_hw: tuple[int, int] = (16, 64)
    num_beams: int = 64
    num_antennas: int = 16
    carrier_ghz: float = 60.0
    frame_rate_hz: float = 10.0
    gps_noise_m: float = 1.0
    snr_db: float = 20.0
    gps_bias_m: float = 0.5
    gps_bias_tau_s: float = 10.0
    num_vehicles: tuple[int, int] = (2, 6)
    truck_fraction: float = 0.45
    speed_range: tuple[float, float] = (5.0, 20.0)
    accel_std: float = 1.0
    lane_change_rate_hz: float = 0.1
    blockage_db: tuple[float, float] = (15.0, 30.0)
    wall_loss_db: float = 8.0
    ground_loss_db: float | None = 6.0
    beam_span_deg: float = 60.0
    tx_power_dbm: float = 20.0
    radar_chirps: int = 8
    radar_max_range_m: float = 48.0
    radar_noise: float = 0.05
    lidar_range_noise_m: float = 0.03
    camera_fov_deg: float = 90.0
    camera_supersample: int = 2
    image_noise: float = 0.02
    bs_lat_lon: tuple[float, float] = (33.42, -111.93)

    def check(self) -> None:
        def pair(name: str, lo: float = 1) -> None:
            v = getattr(self, name)
            if len(v) != 2 or min(v) < lo:
                raise ValueError(f"v2i: {name} must be two values >= {lo}, got {v}")

        if self.num_sequences < 1 or self.frames_per_sequence < 2:
            raise ValueError(f"v2i: need num_sequences >= 1 and frames_per_sequence >= 2, got "
                             f"{self.num_sequences}, {self.frames_per_sequence}")
        if not 2 <= self.window <= self.frames_per_sequence:
            raise ValueError(f"v2i: window must be in [2, {self.frames_per_sequence}], got {self.window}")
        if not 0 < self.history < self.window:
            raise ValueError(f"v2i: history must be in [1, {self.window - 1}], got {self.history}")
        if self.stride < 1:
            raise ValueError(f"v2i: stride must be >= 1, got {self.stride}")
        for name in ("image_hw", "radar_bins", "lidar_hw"):
            pair(name)
        if self.radar_bins[0] < RADAR_RX:
            raise ValueError(f"v2i: radar_bins angle bins must be >= {RADAR_RX} receive antennas")
        pair("num_vehicles", 0)
        if self.num_vehicles[0] > self.num_vehicles[1]:
            raise ValueError(f"v2i: num_vehicles must be (min, max), got {self.num_vehicles}")
        if not 0 < self.speed_range[0] < self.speed_range[1]:
            raise ValueError(f"v2i: speed_range must be 0 < min < max, got {self.speed_range}")
        if self.num_beams < 1 or self.num_antennas < 1 or self.radar_chirps < 2 or self.camera_supersample < 1:
            raise ValueError("v2i: num_beams, num_antennas, camera_supersample >= 1 and radar_chirps >= 2 needed")
        if not 0 <= self.truck_fraction <= 1:
            raise ValueError(f"v2i: truck_fraction must be in [0, 1], got {self.truck_fraction}")
        if min(self.gps_noise_m, self.gps_bias_m, self.image_noise, self.lidar_range_noise_m) < 0:
            raise ValueError("v2i: noise levels must be >= 0")
        if self.frame_rate_hz <= 0 or self.carrier_ghz <= 0 or self.radar_noise <= 0 or self.gps_bias_tau_s <= 0:
            raise ValueError("v2i: frame_rate_hz, carrier_ghz, radar_noise and gps_bias_tau_s must be > 0")


def _options(options: dict[str, Any]) -> V2IOptions:
    known = V2IOptions.__dataclass_fields__
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise TypeError(f"v2i: unknown option {unknown}; expected some of {sorted(known)}")
    fixed = {k: tuple(v) if isinstance(v, list) else v for k, v in options.items()}
    opts = V2IOptions(**fixed)
    opts.check()
    return opts


# ------------------------------------------------------------------------------------------------ geometry


def _slab(o: np.ndarray, d: np.ndarray, lo: np.ndarray, hi: np.ndarray):
    """Slab test of rays ``o + t d`` (broadcastable to ``(T, R, 3)``) against boxes ``(T, B, 3)``.

    Returns entry ``t``, exit ``t`` (``(T, R, B)``) and the entry axis (the face crossed when entering)."""
    o = o[..., None, :]
    d = d[..., None, :]
    safe = np.where(np.abs(d) < 1e-12, np.where(d < 0, -1e-12, 1e-12), d)
    inv = 1.0 / safe
    t1 = (lo[:, None] - o) * inv
    t2 = (hi[:, None] - o) * inv
    tmin = np.minimum(t1, t2)
    tmax = np.maximum(t1, t2)
    return tmin.max(-1), tmax.min(-1), tmin.argmax(-1)


def _segment_hits(p0: np.ndarray, p1: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Whether each segment ``p0 -> p1`` (``(T, P, 3)``) crosses each box (``(T, B, 3)``): ``(T, P, B)`` bool."""
    if lo.shape[1] == 0:
        return np.zeros(p0.shape[:2] + (0,), bool)
    tn, tf, _ = _slab(p0, p1 - p0, lo, hi)
    return (tf >= tn) & (tf > 1e-6) & (tn < 1.0 - 1e-6)


def _ray_boxes(o: np.ndarray, d: np.ndarray, lo: np.ndarray, hi: np.ndarray):
    """Nearest box hit of rays (``o`` broadcastable to ``(T, R, 3)``, ``d`` ``(R, 3)`` or ``(T, R, 3)``):
    ``t`` (inf if none), box index and entry axis, each ``(T, R)``."""
    n_t, n_r = lo.shape[0], d.shape[-2]
    if lo.shape[1] == 0:
        return np.full((n_t, n_r), np.inf), np.zeros((n_t, n_r), np.int64), np.zeros((n_t, n_r), np.int64)
    tn, tf, axis = _slab(o, d, lo, hi)
    t = np.where((tf >= tn) & (tn > 1e-6), tn, np.inf)
    b = t.argmin(-1)
    t_best = np.take_along_axis(t, b[..., None], -1)[..., 0]
    ax = np.take_along_axis(axis, b[..., None], -1)[..., 0]
    return t_best, b, ax


def _cast_scene(o: np.ndarray, d: np.ndarray, lo: np.ndarray, hi: np.ndarray):
    """Primary rays from ``o`` (3,) along ``d`` (R, 3) against ground, walls and boxes, frame by frame.

    Returns ``t`` ``(T, R)`` (inf: sky), surface kind ``(T, R)`` (0 sky, 1 ground, 2 far wall, 3 near wall,
    4 + b box b) and the surface normal ``(T, R, 3)``."""
    n_t, n_r = lo.shape[0], d.shape[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        t_ground = np.where(d[:, 2] < -1e-9, -o[2] / d[:, 2], np.inf)
        walls = []
        for y_w in (WALL_Y[1], WALL_Y[0]):
            t_w = (y_w - o[1]) / d[:, 1]
            z_w = o[2] + t_w * d[:, 2]
            walls.append(np.where((t_w > 1e-6) & (z_w >= 0) & (z_w <= WALL_HEIGHT), t_w, np.inf))
    static = np.stack([t_ground, walls[0], walls[1]], 0)  # (3, R)
    s_kind = static.argmin(0)
    t_static = static[s_kind, np.arange(n_r)]
    kind_static = np.where(np.isfinite(t_static), s_kind + 1, 0)
    t_box, b, ax = _ray_boxes(o[None, None], d, lo, hi)
    use_box = t_box < t_static[None]
    t = np.where(use_box, t_box, t_static[None])
    kind = np.where(use_box, 4 + b, kind_static[None])
    static_normals = np.array([[0, 0, 0], [0, 0, 1], [0, -1, 0], [0, 1, 0]], float)
    normal = static_normals[np.broadcast_to(kind_static, (n_t, n_r))].copy()
    box_n = np.zeros((n_t, n_r, 3))
    sign = -np.sign(np.take_along_axis(np.broadcast_to(d, (n_t, n_r, 3)), ax[..., None], -1)[..., 0])
    np.put_along_axis(box_n, ax[..., None], sign[..., None], -1)
    normal[use_box] = box_n[use_box]
    return t, kind, normal


# ------------------------------------------------------------------------------------------------ motion


def _speed_profiles(rng: np.random.Generator, v0: np.ndarray, frames: int, dt: float, o: V2IOptions) -> np.ndarray:
    """Speeds ``(frames, n)`` of n vehicles: OU acceleration integrated and clipped to ``speed_range``."""
    n = len(v0)
    eps = rng.standard_normal((frames, n))
    rho = math.exp(-dt / ACCEL_TAU_S)
    a = o.accel_std * eps[0]
    v = np.empty((frames, n))
    v[0] = v0
    for t in range(1, frames):
        a = rho * a + math.sqrt(1 - rho * rho) * o.accel_std * eps[t]
        v[t] = v[t - 1] + a * dt
        clipped = (v[t] < o.speed_range[0]) | (v[t] > o.speed_range[1])
        v[t] = np.clip(v[t], *o.speed_range)
        a = np.where(clipped, 0.0, a)
    return v


def _lane_track(rng: np.random.Generator, lane0: int, frames: int, dt: float, rate: float) -> np.ndarray:
    """UE lateral position ``(frames,)``: lane changes to the other lane of its direction at Poisson times,
    each a half-cosine blend over 1.5-3 s."""
    t = np.arange(frames) * dt
    y = np.full(frames, LANE_Y[lane0])
    lane, t_c, end = lane0, 0.0, frames * dt
    while rate > 0:
        t_c += rng.exponential(1.0 / rate)
        if t_c >= end:
            break
        dur = rng.uniform(1.5, 3.0)
        target = lane ^ 1  # lanes 0 <-> 1 and 2 <-> 3
        y0, y1 = LANE_Y[lane], LANE_Y[target]
        s = np.clip((t - t_c) / dur, 0.0, 1.0)
        after = t >= t_c
        y[after] = y0 + (y1 - y0) * (1 - np.cos(np.pi * s[after])) / 2
        lane, t_c = target, t_c + dur
    return y


def _scene(rng: np.random.Generator, seq: int, o: V2IOptions) -> dict[str, np.ndarray]:
    """Trajectories of the UE (box 0) and the other vehicles: boxes, velocities, colours, blockage losses."""
    frames, dt = o.frames_per_sequence, 1.0 / o.frame_rate_hz
    route = seq % len(ROUTES)
    lane0 = route
    n_other = int(rng.integers(o.num_vehicles[0], o.num_vehicles[1] + 1))
    truck = rng.random(n_other) < o.truck_fraction
    lanes = rng.integers(0, 4, n_other)
    base = np.where(truck[:, None], TRUCK_SIZE, CAR_SIZE)
    size = np.concatenate([np.array([CAR_SIZE]), base * rng.uniform(0.92, 1.08, (n_other, 3))], 0)
    v0 = rng.uniform(o.speed_range[0] + 1.0, o.speed_range[1] - 1.0, n_other + 1)
    speeds = _speed_profiles(rng, v0, frames, dt, o)  # (frames, 1 + n_other)
    dist = np.concatenate([np.zeros((1, n_other + 1)), np.cumsum(speeds[:-1] * dt, 0)], 0)
    ue_dir = LANE_DIR[lane0]
    mid = frames // 2
    x_ue = ue_dir * (dist[:, 0] - dist[mid, 0]) + rng.uniform(-10.0, 10.0)
    y_ue = _lane_track(rng, lane0, frames, dt, o.lane_change_rate_hz)
    meet = rng.integers(0, frames, n_other)
    offset = rng.uniform(-20.0, 20.0, n_other)
    colours = np.array(VEHICLE_PALETTE)[rng.integers(0, len(VEHICLE_PALETTE), n_other)]
    block_db = rng.uniform(o.blockage_db[0], o.blockage_db[1], n_other)

    x = np.empty((frames, n_other + 1))
    y = np.empty((frames, n_other + 1))
    x[:, 0], y[:, 0] = x_ue, y_ue
    for k in range(n_other):
        lane = int(lanes[k])
        gap = (size[k + 1, 0] + CAR_SIZE[0]) / 2 + 2.0
        if abs(LANE_Y[lane] - y_ue[meet[k]]) < 2.5 and abs(offset[k]) < gap:
            offset[k] = math.copysign(gap, offset[k])
        x_meet = x_ue[meet[k]] + offset[k]
        x[:, k + 1] = x_meet + LANE_DIR[lane] * (dist[:, k + 1] - dist[meet[k], k + 1])
        y[:, k + 1] = LANE_Y[lane]
    directions = np.array([ue_dir] + [LANE_DIR[int(k)] for k in lanes])
    vel = np.zeros((frames, n_other + 1, 3))
    vel[..., 0] = speeds * directions
    vel[:, 0, 1] = np.gradient(y_ue, dt) if frames > 1 else 0.0
    centre = np.stack([x, y, np.zeros_like(x)], -1)
    half = np.concatenate([size[:, :2] / 2, np.zeros((n_other + 1, 1))], 1)
    lo = centre - half
    hi = centre + half
    hi[..., 2] = size[:, 2]
    return {"lo": lo, "hi": hi, "vel": vel, "size": size, "truck": np.concatenate([[False], truck]),
            "colours": np.concatenate([np.array([UE_COLOUR]), colours], 0), "block_db": block_db,
            "ue": np.stack([x_ue, y_ue, np.full(frames, UE_ANTENNA_HEIGHT)], -1), "route": np.int64(route)}


# ------------------------------------------------------------------------------------------------ sensors


def codebook_angles_deg(o: V2IOptions) -> np.ndarray:
    """Steering angles ``phi_k`` of the codebook (eq. 1), degrees from broadside, beam 0 towards ``-x``."""
    if o.num_beams == 1:
        return np.zeros(1)
    return np.linspace(-o.beam_span_deg, o.beam_span_deg, o.num_beams)


def _beam_power(rng: np.random.Generator, sc: dict[str, np.ndarray], o: V2IOptions):
    """Measured beam powers ``(T, K)`` dBm and the LoS-blocked flag ``(T,)`` from the sparse channel (eq. 2-4)."""
    lam = C0 / (o.carrier_ghz * 1e9)
    ue = sc["ue"]
    n_t = len(ue)
    bs = np.array([0.0, 0.0, BS_HEIGHT])
    lo, hi = sc["lo"][:, 1:], sc["hi"][:, 1:]
    # (image point of the UE, loss dB, reflection plane (axis, value) or None)
    paths = [(ue, 0.0, None)]
    if o.ground_loss_db is not None:
        paths.append((ue * [1, 1, -1], o.ground_loss_db, (2, 0.0)))
    for y_w in (WALL_Y[1], WALL_Y[0]):
        paths.append((ue * [1, -1, 1] + [0, 2 * y_w, 0], o.wall_loss_db, (1, y_w)))
    m = np.arange(o.num_antennas)
    phi = np.deg2rad(codebook_angles_deg(o))
    w = np.exp(1j * np.pi * m[:, None] * np.sin(phi)[None]) / math.sqrt(o.num_antennas)  # (N, K)
    h = np.zeros((n_t, o.num_antennas), complex)
    p_tx = 10.0 ** (o.tx_power_dbm / 10.0)  # mW
    los_blocked = np.zeros(n_t, bool)
    for i, (img, loss_db, plane) in enumerate(paths):
        vec = img - bs
        d = np.linalg.norm(vec, axis=1)
        u = vec / d[:, None]
        if plane is None:
            segs = [(np.broadcast_to(bs, ue.shape), ue)]
        else:
            ax, val = plane
            s = (val - bs[ax]) / vec[:, ax]
            r_pt = bs + s[:, None] * vec
            segs = [(np.broadcast_to(bs, ue.shape), r_pt), (r_pt, ue)]
        block = np.zeros(n_t)
        for p0, p1 in segs:
            hits = _segment_hits(p0[:, None], p1[:, None], lo, hi)[:, 0]  # (T, B)
            block = block + hits @ sc["block_db"]
            if i == 0:
                los_blocked |= hits.any(1)
        elem = np.maximum(u[:, 1], 0.01)  # element power pattern, -20 dB back lobe
        amp = math.sqrt(p_tx) * lam / (4 * np.pi * d) * np.sqrt(elem) * 10.0 ** (-(loss_db + block) / 20.0)
        alpha = amp * np.exp(-2j * np.pi * d / lam)
        h += alpha[:, None] * np.exp(1j * np.pi * m[None] * u[:, 0:1])
    p_ref = p_tx * o.num_antennas * (lam / (4 * np.pi * SNR_REF_DISTANCE)) ** 2
    sigma2 = p_ref / 10.0 ** (o.snr_db / 10.0)
    noise = rng.standard_normal((n_t, o.num_beams, RSRP_SYMBOLS, 2)) @ np.array([1.0, 1j]) * math.sqrt(sigma2 / 2)
    y = (np.conj(h) @ w)[..., None] + noise
    return beam_power_db(np.mean(np.abs(y) ** 2, axis=-1)), los_blocked


def _radar(rng: np.random.Generator, sc: dict[str, np.ndarray], o: V2IOptions) -> np.ndarray:
    """Log-compressed range-angle maps ``(T, 1, A, R)`` from a synthesised FMCW IF cube per frame."""
    n_ang, n_rng = o.radar_bins
    n_adc, n_ch = 2 * n_rng, o.radar_chirps
    lo, hi, vel = sc["lo"], sc["hi"], sc["vel"]
    n_t, n_b = lo.shape[:2]
    radar = np.array(RADAR_POS)
    # scatterers on each vehicle: the point of its box nearest the radar + 3 fixed points on its BS-facing side
    frac = rng.uniform(0.1, 0.9, (n_b, 3, 2))
    rho_pts = rng.uniform(0.3, 1.0, (n_b, 4)) * np.where(sc["truck"], 2.0, 1.0)[:, None]
    near = np.clip(radar, lo, hi)  # (T, B, 3)
    side = np.stack([lo[..., 0, None] + frac[None, :, :, 0] * (hi - lo)[..., 0, None],
                     np.broadcast_to(lo[..., 1, None], (n_t, n_b, 3)),
                     frac[None, :, :, 1] * hi[..., 2, None]], -1)  # (T, B, 3 points, 3)
    pts = np.concatenate([near[:, :, None], side], 2)  # (T, B, 4, 3)
    owner = np.repeat(np.arange(n_b), 4)
    pts = pts.reshape(n_t, -1, 3)
    pvel = vel[:, owner]
    rho = rho_pts.reshape(-1)
    hits = _segment_hits(np.broadcast_to(radar, pts.shape), pts, lo, hi)  # (T, S, B)
    hits[:, np.arange(len(owner)), owner] = False
    amp = rho[None] * np.where(hits.any(-1), 0.1, 1.0)
    # static wall points (removed by the clutter removal, but present in the raw cube)
    wall_x = rng.uniform(-40.0, 40.0, 16)
    wall_z = rng.uniform(1.0, 8.0, 16)
    wall = np.stack([wall_x, np.full(16, WALL_Y[1]), wall_z], -1)
    pts = np.concatenate([pts, np.broadcast_to(wall, (n_t, 16, 3))], 1)
    pvel = np.concatenate([pvel, np.zeros((n_t, 16, 3))], 1)
    amp = np.concatenate([amp, np.full((n_t, 16), 1.5)], 1)
    vec = pts - radar
    r = np.linalg.norm(vec, axis=-1)
    u = vec[..., 0] / r
    v_r = np.sum(vec * pvel, -1) / r
    lam = C0 / RADAR_CARRIER_HZ
    d_r = o.radar_max_range_m / n_rng
    amp = amp * (10.0 / r) ** 2 * (r <= 2 * o.radar_max_range_m)
    phase0 = -4 * np.pi * r / lam
    m, c, n = np.arange(RADAR_RX), np.arange(n_ch), np.arange(n_adc)
    e_mc = (amp * np.exp(1j * phase0))[..., None, None] * np.exp(
        1j * (np.pi * u[..., None, None] * m[:, None] + (4 * np.pi * v_r * RADAR_CHIRP_S / lam)[..., None, None]
              * c[None]))  # (T, S, M, C)
    f_n = np.exp(2j * np.pi * (r / d_r)[..., None] * n / n_adc)  # (T, S, N)
    cube = np.matmul(e_mc.reshape(n_t, -1, RADAR_RX * n_ch).transpose(0, 2, 1), f_n)
    cube = cube.reshape(n_t, RADAR_RX, n_ch, n_adc)
    noise = rng.standard_normal(cube.shape + (2,)) @ np.array([1.0, 1j]) * (o.radar_noise / math.sqrt(2))
    cube = cube + noise
    ref = o.radar_noise * math.sqrt(RADAR_RX * n_adc)
    maps = np.stack([range_angle_map(cube[t], n_ang, n_rng) for t in range(n_t)])
    return np.log1p(maps / ref)[:, None].astype(np.float32)


def _lidar(rng: np.random.Generator, sc: dict[str, np.ndarray], o: V2IOptions) -> np.ndarray:
    """Depth images ``(T, 1, H, W)``: bin-centre rays cast against the scene, range noise, eq. 9-10."""
    n_h, n_w = o.lidar_hw
    f_up, f_down = LIDAR_FOV_DEG
    pitch = np.deg2rad(f_up - (np.arange(n_h) + 0.5) * (f_up - f_down) / n_h)
    yaw = -np.pi + (np.arange(n_w) + 0.5) * 2 * np.pi / n_w
    pp, yy = np.meshgrid(pitch, yaw, indexing="ij")
    d = np.stack([np.cos(pp) * np.cos(yy), np.cos(pp) * np.sin(yy), np.sin(pp)], -1).reshape(-1, 3)
    origin = np.array(LIDAR_POS)
    t, _, _ = _cast_scene(origin, d, sc["lo"], sc["hi"])
    t = t + o.lidar_range_noise_m * rng.standard_normal(t.shape)
    out = np.empty((len(t), 1, n_h, n_w), np.float32)
    for i in range(len(t)):
        ok = np.isfinite(t[i]) & (t[i] > 0)
        out[i] = lidar_depth_image(d[ok] * t[i, ok, None], n_h, n_w, f_up, f_down, LIDAR_D_MAX)
    return out


def _camera_rays(o: V2IOptions) -> np.ndarray:
    s = o.camera_supersample
    n_h, n_w = o.image_hw[0] * s, o.image_hw[1] * s
    f = (n_w / 2) / math.tan(math.radians(o.camera_fov_deg) / 2)
    tilt = math.radians(CAMERA_TILT_DEG)
    right = np.array([1.0, 0.0, 0.0])
    fwd = np.array([0.0, math.cos(tilt), -math.sin(tilt)])
    up = np.array([0.0, math.sin(tilt), math.cos(tilt)])
    xc = (np.arange(n_w) + 0.5 - n_w / 2) / f
    yc = -(np.arange(n_h) + 0.5 - n_h / 2) / f
    d = fwd + xc[None, :, None] * right + yc[:, None, None] * up
    d = d.reshape(-1, 3)
    return d / np.linalg.norm(d, axis=1, keepdims=True)


def _camera(rng: np.random.Generator, sc: dict[str, np.ndarray], o: V2IOptions) -> np.ndarray:
    """RGB frames ``(T, 3, H, W)`` in [0, 1]: ray-cast pinhole camera with Lambertian shading and shadows."""
    d = _camera_rays(o)
    origin = np.array(CAMERA_POS)
    lo, hi = sc["lo"], sc["hi"]
    n_t = len(lo)
    out = np.empty((n_t, 3) + tuple(o.image_hw), np.float32)
    sun = np.array(SUN_DIR) / np.linalg.norm(SUN_DIR)
    s = o.camera_supersample
    chunk = max(1, 200_000 // max(1, len(d) * lo.shape[1]))
    for c0 in range(0, n_t, chunk):
        sl = slice(c0, min(n_t, c0 + chunk))
        t, kind, normal = _cast_scene(origin, d, lo[sl], hi[sl])
        hit = np.where(np.isfinite(t), t, 0.0)[..., None] * d + origin  # (t, R, 3)
        col = np.empty(hit.shape)
        # sky: brighter towards the horizon
        elev = np.clip(d[:, 2], 0, 1)[None, :, None]
        col[:] = np.array([0.75, 0.85, 0.95]) * (1 - elev) + np.array([0.35, 0.55, 0.9]) * elev
        gx, gy = hit[..., 0], hit[..., 1]
        on_road = (gy >= ROAD_Y[0]) & (gy <= ROAD_Y[1])
        ground = np.where(on_road[..., None], [0.32, 0.32, 0.34], [0.62, 0.6, 0.56])
        dashed = np.mod(gx, 6.0) < 3.0
        white = ((np.abs(gy - ROAD_Y[0]) < 0.15) | (np.abs(gy - ROAD_Y[1]) < 0.15)
                 | (((np.abs(gy - 11.0) < 0.12) | (np.abs(gy - 17.0) < 0.12)) & dashed))
        yellow = np.abs(np.abs(gy - 14.0) - 0.2) < 0.1
        ground = np.where(white[..., None], [0.92, 0.92, 0.9], ground)
        ground = np.where(yellow[..., None], [0.9, 0.75, 0.15], ground)
        gz = hit[..., 2]
        window = (np.mod(gx, 4.0) > 1.0) & (np.mod(gx, 4.0) < 3.0) & (np.mod(gz, 3.5) > 1.2) & (gz > 1.0)
        wall = np.where(window[..., None], [0.18, 0.24, 0.34], [0.58, 0.38, 0.3])
        box_col = sc["colours"][np.clip(kind - 4, 0, None)]
        col = np.where((kind == 1)[..., None], ground, col)
        col = np.where(((kind == 2) | (kind == 3))[..., None], wall, col)
        col = np.where((kind >= 4)[..., None], box_col, col)
        lit = np.clip(normal @ sun, 0, None)
        # shadows: a ray from each surface point towards the sun, against the vehicle boxes
        t_sh, _, _ = _ray_boxes(hit + 1e-3 * normal, np.broadcast_to(sun, hit.shape), lo[sl], hi[sl])
        lit = np.where(np.isfinite(t_sh), 0.0, lit)
        shade = np.where(kind > 0, 0.4 + 0.6 * lit, 1.0)
        img = (col * shade[..., None]).reshape(len(t), o.image_hw[0], s, o.image_hw[1], s, 3).mean((2, 4))
        out[sl] = img.transpose(0, 3, 1, 2)
    out += o.image_noise * rng.standard_normal(out.shape).astype(np.float32)
    return np.clip(out, 0.0, 1.0)


def _gps(rng: np.random.Generator, ue_xy: np.ndarray, o: V2IOptions) -> np.ndarray:
    """Noisy GNSS fixes in local metres: white noise + OU bias, to lat / lon (rounded 1e-7 deg), eq. 11 back."""
    n_t = len(ue_xy)
    dt = 1.0 / o.frame_rate_hz
    rho = math.exp(-dt / o.gps_bias_tau_s)
    e = rng.standard_normal((n_t, 2))
    bias = np.empty((n_t, 2))
    bias[0] = o.gps_bias_m * e[0]
    for t in range(1, n_t):
        bias[t] = rho * bias[t - 1] + math.sqrt(1 - rho * rho) * o.gps_bias_m * e[t]
    noisy = ue_xy + bias + o.gps_noise_m * rng.standard_normal((n_t, 2))
    lat_lon = np.round(local_to_gps(noisy, tuple(o.bs_lat_lon)), 7)
    return gps_to_local(lat_lon, tuple(o.bs_lat_lon))


def simulate_sequence(seq: int, o: V2IOptions) -> dict[str, np.ndarray]:
    """All frames of sequence ``seq``: per-frame inputs and labels (float32; ``beam`` int64) and scene facts."""
    rng = np.random.default_rng([o.seed, STREAM, seq])
    sc = _scene(rng, seq, o)
    power, los_blocked = _beam_power(rng, sc, o)
    radar = _radar(rng, sc, o)
    lidar = _lidar(rng, sc, o)
    image = _camera(rng, sc, o)
    gps = _gps(rng, sc["ue"][:, :2], o)
    return {
        "image": image, "radar": radar, "lidar": lidar, "gps": gps.astype(np.float32),
        "beam_power": power, "position": sc["ue"][:, :2].astype(np.float32),
        "beam": np.argmax(power, axis=1).astype(np.int64), "rssi": rssi_db(power),
        "los_blocked": los_blocked, "route": sc["route"], "num_vehicles": np.int64(len(sc["block_db"])),
        "num_trucks": np.int64(sc["truck"].sum()),
    }


def generate_v2i(num_sequences: int = 48, frames_per_sequence: int = 100, seed: int = 0, *, window: int = 13,
                 history: int = 8, stride: int = 4, image_hw: Sequence[int] = (24, 32),
                 radar_bins: Sequence[int] = (32, 32), lidar_hw: Sequence[int] = (16, 64), num_beams: int = 64,
                 num_antennas: int = 16, carrier_ghz: float = 60.0, frame_rate_hz: float = 10.0,
                 gps_noise_m: float = 1.0, snr_db: float = 20.0, **options: Any) -> dict[str, Any]:
    """Generate the built-in V2I scene (see the module docstring): windows of ``window`` frames, ``stride`` apart.

    Options beyond the signature (defaults in :class:`V2IOptions`): ``gps_bias_m`` (0.5, std of the drifting
    GNSS bias per axis, m), ``gps_bias_tau_s`` (10, its correlation time), ``num_vehicles`` ((2, 6), other
    vehicles per sequence, inclusive), ``truck_fraction`` (0.45), ``speed_range`` ((5, 20) m/s), ``accel_std``
    (1 m/s^2), ``lane_change_rate_hz`` (0.1), ``blockage_db`` ((15, 30), per-vehicle loss range),
    ``wall_loss_db`` (8), ``ground_loss_db`` (6; None drops the ground path), ``beam_span_deg`` (60),
    ``tx_power_dbm`` (20), ``radar_chirps`` (8), ``radar_max_range_m`` (48, range of the last kept bin),
    ``radar_noise`` (0.05), ``lidar_range_noise_m`` (0.03), ``camera_fov_deg`` (90), ``camera_supersample``
    (2), ``image_noise`` (0.02), ``bs_lat_lon`` ((33.42, -111.93)).

    Returns ``{"inputs": {modality: (N, T, ...)}, "labels": {...}, "index": {"sequence", "start", "block"},
    "meta": {...}}`` in :mod:`wfm.data.sequence`'s layout (``block`` is the route id, 0-3); ``meta`` holds the
    options, the codebook angles, route names and per-window ``los_blocked`` ``(N, T)`` flags."""
    o = _options({"num_sequences": num_sequences, "frames_per_sequence": frames_per_sequence, "seed": seed,
                  "window": window, "history": history, "stride": stride, "image_hw": image_hw,
                  "radar_bins": radar_bins, "lidar_hw": lidar_hw, "num_beams": num_beams,
                  "num_antennas": num_antennas, "carrier_ghz": carrier_ghz, "frame_rate_hz": frame_rate_hz,
                  "gps_noise_m": gps_noise_m, "snr_db": snr_db, **options})
    starts = np.arange(0, o.frames_per_sequence - o.window + 1, o.stride)
    frame_idx = starts[:, None] + np.arange(o.window)[None]
    keys_in = ("image", "radar", "lidar", "gps", "beam_power")
    keys_lab = ("position", "beam", "beam_power", "rssi")
    parts: dict[str, list[np.ndarray]] = {k: [] for k in (*keys_in, "position", "beam", "rssi", "los_blocked")}
    seq_id, start, block, n_veh, n_truck = [], [], [], [], []
    for s in range(o.num_sequences):
        sim = simulate_sequence(s, o)
        for k in parts:
            parts[k].append(sim[k][frame_idx])
        seq_id.append(np.full(len(starts), s))
        start.append(starts)
        block.append(np.full(len(starts), sim["route"]))
        n_veh.append(int(sim["num_vehicles"]))
        n_truck.append(int(sim["num_trucks"]))
    cat = {k: np.concatenate(v, 0) for k, v in parts.items()}
    inputs = {k: cat[k] for k in keys_in}
    labels = {k: cat[k].copy() if k == "beam_power" else cat[k] for k in keys_lab}
    index = {"sequence": np.concatenate(seq_id).astype(np.int64), "start": np.concatenate(start).astype(np.int64),
             "block": np.concatenate(block).astype(np.int64)}
    meta = {"options": _json_options(o), "codebook_deg": codebook_angles_deg(o).tolist(), "routes": list(ROUTES),
            "los_blocked": cat["los_blocked"], "num_vehicles": n_veh, "num_trucks": n_truck, "source": SOURCE}
    return {"inputs": inputs, "labels": labels, "index": index, "meta": meta}


def _json_options(o: V2IOptions) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(o).items()}


def preprocessing_record(o: V2IOptions) -> dict[str, Any]:
    """What each modality's preprocessing was (stored in the file's ``preprocessing`` attribute)."""
    return {
        **_json_options(o),
        "image": f"ray-cast pinhole RGB {o.image_hw[0]}x{o.image_hw[1]}, {o.camera_fov_deg} deg HFOV, "
                 f"{o.camera_supersample}x{o.camera_supersample} supersampled, noise std {o.image_noise}, in [0, 1]; "
                 "readers apply eq. 7 (ImageNet mean / std)",
        "radar": f"FMCW IF cube ({RADAR_RX} rx, {o.radar_chirps} chirps, {2 * o.radar_bins[1]} ADC) at 77 GHz -> "
                 f"wfm.data.sensors.range_angle_map (eq. 8, static clutter removed, {o.radar_bins[0]} angle x "
                 f"{o.radar_bins[1]} range bins of {o.radar_max_range_m / o.radar_bins[1]:.2f} m) -> "
                 "log1p(map / (noise_std sqrt(N_rx N_adc)))",
        "lidar": f"ray-cast {o.lidar_hw[0]}x{o.lidar_hw[1]} at 4 m, pitch [-15, 15] deg, range noise "
                 f"{o.lidar_range_noise_m} m -> wfm.data.sensors.lidar_depth_image (eq. 9-10, d_max {LIDAR_D_MAX} m)",
        "gps": f"true position + white noise {o.gps_noise_m} m + OU bias {o.gps_bias_m} m -> lat/lon around "
               f"{list(o.bs_lat_lon)} (1e-7 deg) -> eq. 11 local metres (east, north)",
        "beam_power": f"|h^H w_k + n|^2 in dBm, {o.num_beams}-beam ULA codebook over +-{o.beam_span_deg} deg, "
                      f"{o.num_antennas} antennas at {o.carrier_ghz} GHz, SNR {o.snr_db} dB at 50 m LoS",
        "rssi": "wfm.data.sensors.rssi_db: 10 log10 of the power-domain mean over the codebook",
        "block": "route id: " + ", ".join(f"{i} = {r}" for i, r in enumerate(ROUTES)),
    }


def write_v2i(path: str | os.PathLike, **options: Any) -> Path:
    """:func:`generate_v2i` with ``options`` and write it as a sequence file (:mod:`wfm.data.sequence`)."""
    data = generate_v2i(**options)
    o = _options(data["meta"]["options"])
    return write_sequence_file(path, data["inputs"], data["labels"], data["index"], history=o.history,
                               num_beams=o.num_beams, frame_rate_hz=o.frame_rate_hz, source=SOURCE,
                               preprocessing=preprocessing_record(o))
