"""Sensor preprocessing of JEPA-MSAC (Sec. III-A), shared by the built-in V2I scene and the DeepSense 6G converter.

Pure numpy. Each function turns one raw per-frame measurement into the per-frame array that
:mod:`wfm.data.sequence` stores (see its docstring for the layout):

* :func:`range_angle_map` — raw complex FMCW IF cube ``(N_rx, N_chirp, N_adc)`` -> range-angle map, eq. 8;
* :func:`lidar_depth_image` — point cloud ``(N, 3)`` -> depth image ``(1, H, W)``, eq. 9-10;
* :func:`resize_image` — RGB image -> ``(3, H, W)`` float32 in [0, 1] by bilinear interpolation (the step before
  eq. 7; the reader applies the eq. 7 mean / std normalisation);
* :func:`beam_power_db` — linear received power per beam -> dB with a floor;
* :func:`rssi_db` — codebook-averaged received power in dB (power-domain mean over the beams).

Every function refuses an input of the wrong shape with a one-line :class:`ValueError`.
"""

from __future__ import annotations

import numpy as np

__all__ = ["beam_power_db", "lidar_depth_image", "range_angle_map", "resize_image", "rssi_db"]


def range_angle_map(if_cube: np.ndarray, angle_bins: int = 64, range_bins: int | None = None,
                    remove_static: bool = True) -> np.ndarray:
    """Eq. 8: the FMCW range-angle map ``R(i, j) = 1/N_chirp sum_c |w_i^H X^(c) w_j|`` of one radar frame.

    ``if_cube`` is the raw complex IF signal ``(N_rx, N_chirp, N_adc)`` (receive antennas x chirps x fast-time
    ADC samples). Steps:

    1. DFT along fast time (``N_adc`` points): a scatterer with beat frequency ``f_b`` (sampling rate ``f_s``)
       peaks at range bin ``j = f_b N_adc / f_s``;
    2. with ``remove_static``, the mean over chirps of every (antenna, range bin) is subtracted: static clutter
       (zero Doppler) is removed, moving scatterers remain;
    3. DFT across the receive antennas, zero-padded to ``angle_bins`` and ``fftshift``-ed, so bin
       ``angle_bins // 2`` is broadside. A scatterer whose phase advances by ``2 pi nu`` per antenna
       (``nu = d sin(theta) / lambda``, ``nu = sin(theta) / 2`` at half-wavelength spacing) for a signal
       ``exp(+j 2 pi nu m)`` at antenna ``m`` peaks at bin ``i = angle_bins // 2 + nu angle_bins``
       (rounded, modulo ``angle_bins``);
    4. magnitude, averaged over chirps;
    5. the first ``range_bins`` range bins are kept (default ``N_adc // 2``: the positive beat frequencies).

    Returns float32 ``(angle_bins, range_bins)`` linear magnitudes; callers log-compress."""
    x = np.asarray(if_cube)
    if x.ndim != 3 or min(x.shape) < 1:
        raise ValueError(f"range_angle_map: expected a (N_rx, N_chirp, N_adc) IF cube, got shape {x.shape}")
    n_rx, _, n_adc = x.shape
    if range_bins is None:
        range_bins = max(n_adc // 2, 1)
    if not 1 <= range_bins <= n_adc:
        raise ValueError(f"range_angle_map: range_bins must be in [1, {n_adc}] for {n_adc} ADC samples, "
                         f"got {range_bins}")
    if angle_bins < n_rx:
        raise ValueError(f"range_angle_map: angle_bins ({angle_bins}) must be >= the {n_rx} receive antennas")
    if not np.isfinite(x).all():
        raise ValueError("range_angle_map: the IF cube has non-finite samples")
    spec = np.fft.fft(x.astype(np.complex128, copy=False), axis=-1)[..., :range_bins]
    if remove_static:
        spec = spec - spec.mean(axis=1, keepdims=True)
    # the DFT sum_m exp(+j 2 pi nu m) exp(-j 2 pi i m / A) peaks at i = nu A (mod A), before the fftshift
    ang = np.fft.fft(spec, n=angle_bins, axis=0)
    ang = np.fft.fftshift(ang, axes=0)
    return np.abs(ang).mean(axis=1).astype(np.float32)


def lidar_depth_image(points: np.ndarray, height: int = 64, width: int = 256, f_up_deg: float = 15.0,
                      f_down_deg: float = -15.0, d_max: float = 100.0) -> np.ndarray:
    """Eq. 9-10: project a LiDAR point cloud onto a ``(1, height, width)`` depth image.

    ``points`` is ``(N, 3)`` Cartesian (x, y, z) metres in the sensor frame (x forward, z up). Per point
    ``r = |p|``, ``yaw = atan2(y, x)``, ``pitch = asin(z / r)``, and

    * ``u = floor((yaw + pi) / (2 pi) * width)`` (column; ``yaw = +pi`` is the same direction as ``-pi`` and
      wraps to column 0),
    * ``v = floor((1 - (pitch - f_down) / (f_up - f_down)) * height)`` (row 0 = the top, ``f_up``).

    Points outside the image rows, with ``r == 0``, ``r > d_max`` or non-finite coordinates are dropped. Each
    pixel keeps the NEAREST return ``r / d_max``; pixels without a return are 1.0. Returns float32."""
    p = np.asarray(points, np.float64)
    if p.ndim != 2 or p.shape[1] != 3:
        raise ValueError(f"lidar_depth_image: expected (N, 3) points, got shape {p.shape}")
    if height < 1 or width < 1 or not f_up_deg > f_down_deg or not d_max > 0:
        raise ValueError(f"lidar_depth_image: need height, width >= 1, f_up > f_down and d_max > 0, got "
                         f"{height}, {width}, {f_up_deg}, {f_down_deg}, {d_max}")
    img = np.ones(height * width, np.float64)
    p = p[np.isfinite(p).all(1)]
    r = np.linalg.norm(p, axis=1)
    keep = (r > 0) & (r <= d_max)
    p, r = p[keep], r[keep]
    if len(r):
        yaw = np.arctan2(p[:, 1], p[:, 0])
        pitch = np.arcsin(np.clip(p[:, 2] / r, -1.0, 1.0))
        f_up, f_down = np.deg2rad(f_up_deg), np.deg2rad(f_down_deg)
        u = np.floor((yaw + np.pi) / (2 * np.pi) * width).astype(np.int64) % width
        v = np.floor((1.0 - (pitch - f_down) / (f_up - f_down)) * height).astype(np.int64)
        ok = (v >= 0) & (v < height)
        flat, dist = v[ok] * width + u[ok], r[ok] / d_max
        np.minimum.at(img, flat, dist)
    return img.reshape(1, height, width).astype(np.float32)


def _bilinear_axis(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source indices and weights of a half-pixel-centred (align_corners=False) 1-D linear resampling."""
    pos = (np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5
    pos = np.clip(pos, 0.0, n_in - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, n_in - 1)
    return lo, hi, pos - lo


def resize_image(rgb: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resize of an RGB image to float32 ``(3, height, width)`` in [0, 1] (the resize before eq. 7).

    ``rgb`` is ``(H0, W0, 3)``: uint8 (divided by 255) or float in [0, 1]. Pixel centres are aligned
    (``align_corners=False``, as PIL and ``torch.nn.functional.interpolate`` by default, without antialiasing):
    output pixel ``o`` samples the input at ``(o + 0.5) * H0 / height - 0.5``, clamped to the border."""
    x = np.asarray(rgb)
    if x.ndim != 3 or x.shape[2] != 3 or x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(f"resize_image: expected an (H, W, 3) RGB image, got shape {x.shape}")
    if height < 1 or width < 1:
        raise ValueError(f"resize_image: output size must be positive, got {height} x {width}")
    if x.dtype == np.uint8:
        img = x.astype(np.float64) / 255.0
    elif np.issubdtype(x.dtype, np.floating):
        img = x.astype(np.float64)
        if not np.isfinite(img).all() or img.min() < 0.0 or img.max() > 1.0:
            raise ValueError("resize_image: a float image must be finite and in [0, 1]")
    else:
        raise ValueError(f"resize_image: expected uint8 or float pixels, got {x.dtype}")
    r0, r1, wr = _bilinear_axis(img.shape[0], height)
    c0, c1, wc = _bilinear_axis(img.shape[1], width)
    rows = img[r0] * (1.0 - wr)[:, None, None] + img[r1] * wr[:, None, None]
    out = rows[:, c0] * (1.0 - wc)[None, :, None] + rows[:, c1] * wc[None, :, None]
    return np.clip(out, 0.0, 1.0).transpose(2, 0, 1).astype(np.float32)


def beam_power_db(power_linear: np.ndarray, floor_db: float = -120.0) -> np.ndarray:
    """``10 log10(P)`` of linear received powers, floored at ``floor_db`` (so zero power is ``floor_db``).

    Negative or non-finite powers are refused. Returns float32 of the input's shape."""
    p = np.asarray(power_linear, np.float64)
    if not np.isfinite(p).all():
        raise ValueError("beam_power_db: power has non-finite values")
    if (p < 0).any():
        raise ValueError(f"beam_power_db: linear power must be >= 0, got minimum {p.min():.3g}")
    return (10.0 * np.log10(np.maximum(p, 10.0 ** (floor_db / 10.0)))).astype(np.float32)


def rssi_db(power_db: np.ndarray, axis: int = -1) -> np.ndarray:
    """Codebook-averaged received power ``10 log10(mean_k 10^(P_k / 10))`` in dB along ``axis``.

    The mean is taken in the power domain, computed stably by factoring out the maximum:
    ``m + 10 log10(mean_k 10^((P_k - m) / 10))``. Returns float32 with ``axis`` removed."""
    p = np.asarray(power_db, np.float64)
    if p.ndim == 0 or p.shape[axis] == 0:
        raise ValueError(f"rssi_db: need at least one beam along axis {axis}, got shape {p.shape}")
    if not np.isfinite(p).all():
        raise ValueError("rssi_db: power (dB) has non-finite values")
    m = p.max(axis=axis, keepdims=True)
    out = m + 10.0 * np.log10(np.mean(10.0 ** ((p - m) / 10.0), axis=axis, keepdims=True))
    return np.squeeze(out, axis=axis).astype(np.float32)
