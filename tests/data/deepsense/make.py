"""Write a tiny DeepSense 6G scenario folder in the released layout (scenario 32: BS unit1 with camera, FMCW
radar, LiDAR and a 64-beam 60 GHz power receiver; UE unit2 with GPS).

Layout (paths in the CSV are relative, ``./unit1/...`` as in the release)::

    OUT_DIR/scenario32.csv                                  one row per sample, rows NOT sorted
    OUT_DIR/unit1/camera_data/image_<i>.jpg                 RGB 40 x 60
    OUT_DIR/unit1/radar_data/radar_data_<i>.mat             'data': complex (N_rx=4, N_adc=64, N_chirp=8)
    OUT_DIR/unit1/lidar_data/lidar_data_<i>.ply             ASCII PLY, 300 points
    OUT_DIR/unit1/mmWave_data/mmWave_power_<i>.txt          64 linear beam powers, one per line
    OUT_DIR/unit1/GPS_data/gps_location.txt                 the BS: latitude, longitude (one per line)
    OUT_DIR/unit2/GPS_data/gps_location_<i>.txt             the UE: latitude, longitude (one per line)

Known truth: the UE of sequence ``s`` frame ``f`` is at ``ue_lat_lon(s, f)``, its best beam is ``best_beam(s, f)``
and the radar point target sits at fast-time (ADC) DFT bin ``RADAR_TARGET_BIN`` with a non-zero Doppler and an
off-broadside angle. Deterministic.

    python tests/data/deepsense/make.py OUT_DIR
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np
import scipy.io
from PIL import Image

#: sequence id -> number of frames (ids are not 0..S-1 on purpose: the converter renumbers them)
SEQUENCES = {3: 16, 7: 15}
BS_LAT_LON = (33.4205, -111.9290)
NUM_BEAMS = 64
N_RX, N_ADC, N_CHIRP = 4, 64, 8
RADAR_TARGET_BIN = 12  # of an N_ADC-point fast-time DFT
RADAR_TARGET_SPATIAL = 0.2  # cycles per antenna (off broadside, so an antenna-mean subtraction keeps it)
RADAR_TARGET_DOPPLER = 0.25  # cycles per chirp (moving, so a chirp-mean subtraction keeps it)
IMAGE_HW = (40, 60)
LIDAR_POINTS = 300
COLUMNS = ("index", "seq_index", "abs_index", "time_stamp", "unit1_rgb", "unit1_radar", "unit1_lidar",
           "unit1_pwr_60ghz", "unit2_loc", "unit1_loc")


def ue_lat_lon(seq: int, frame: int) -> tuple[float, float]:
    """The UE's GPS fix: a straight drive, about 1.1 m north and 1.9 m east per frame, one lane per sequence."""
    return BS_LAT_LON[0] + 2e-4 + 1e-5 * frame + 1e-4 * seq, BS_LAT_LON[1] - 3e-4 + 2e-5 * frame


def best_beam(seq: int, frame: int) -> int:
    """The beam with the most power: sweeps across the codebook as the UE drives by."""
    return (5 * seq + 3 * frame) % NUM_BEAMS


def beam_powers(seq: int, frame: int) -> np.ndarray:
    k = np.arange(NUM_BEAMS)
    d = np.minimum(np.abs(k - best_beam(seq, frame)), NUM_BEAMS - np.abs(k - best_beam(seq, frame)))
    return 1e-7 + 2e-3 * np.exp(-0.5 * (d / 1.5) ** 2) * (1 + 0.1 * np.cos(seq + frame))


def radar_cube(seq: int, frame: int, rng: np.random.Generator) -> np.ndarray:
    """Complex IF samples ``(N_rx, N_adc, N_chirp)`` of one point target plus a static reflector and noise."""
    rx = np.arange(N_RX)[:, None, None]
    adc = np.arange(N_ADC)[None, :, None]
    chirp = np.arange(N_CHIRP)[None, None, :]
    target = np.exp(2j * np.pi * (RADAR_TARGET_BIN * adc / N_ADC + RADAR_TARGET_SPATIAL * rx
                                  + RADAR_TARGET_DOPPLER * chirp))
    static = 0.5 * np.exp(2j * np.pi * 30 * adc / N_ADC) * np.ones((N_RX, 1, N_CHIRP))  # broadside, zero Doppler
    noise = 0.05 * (rng.normal(size=target.shape) + 1j * rng.normal(size=target.shape))
    return (8.0 * target + static + noise).astype(np.complex64)


def lidar_points(seq: int, frame: int, rng: np.random.Generator) -> np.ndarray:
    """A wall 20 m ahead (x) and a car-sized blob at the UE's range, ``(LIDAR_POINTS, 3)`` metres."""
    n_wall = LIDAR_POINTS - 40
    wall = np.stack([np.full(n_wall, 20.0), rng.uniform(-15, 15, n_wall), rng.uniform(-2, 3, n_wall)], 1)
    r = 8.0 + 0.5 * frame
    car = np.stack([np.full(40, r), rng.uniform(-1, 1, 40), rng.uniform(-0.5, 0.5, 40)], 1)
    return np.concatenate([wall, car])


def write_ply(path: Path, points: np.ndarray) -> None:
    lines = ["ply", "format ascii 1.0", "comment tiny DeepSense fixture", f"element vertex {len(points)}",
             "property float x", "property float y", "property float z", "end_header"]
    lines += [f"{x:.4f} {y:.4f} {z:.4f}" for x, y, z in points]
    path.write_text("\n".join(lines) + "\n")


def image(seq: int, frame: int) -> np.ndarray:
    h, w = IMAGE_HW
    yy, xx = np.mgrid[0:h, 0:w]
    rgb = np.stack([xx * 255 // w, yy * 255 // h, np.full((h, w), 40 * seq % 256)], -1).astype(np.uint8)
    c = 2 + 3 * frame % (w - 10)
    rgb[10:20, c:c + 8] = 255  # the UE drives across the picture
    return rgb


def make(out_dir: str | Path, sequences: dict[int, int] | None = None, seed: int = 32) -> Path:
    """Write the scenario folder ``out_dir`` (created) and return it."""
    root = Path(out_dir)
    sequences = SEQUENCES if sequences is None else sequences
    rng = np.random.default_rng(seed)
    dirs = {k: root / v for k, v in {"rgb": "unit1/camera_data", "radar": "unit1/radar_data",
                                     "lidar": "unit1/lidar_data", "pwr": "unit1/mmWave_data",
                                     "bs": "unit1/GPS_data", "ue": "unit2/GPS_data"}.items()}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    (dirs["bs"] / "gps_location.txt").write_text(f"{BS_LAT_LON[0]:.8f}\n{BS_LAT_LON[1]:.8f}\n")
    rows = []
    i = 0
    for seq, length in sequences.items():
        for frame in range(length):
            i += 1
            Image.fromarray(image(seq, frame)).save(dirs["rgb"] / f"image_{i}.jpg", quality=95)
            scipy.io.savemat(dirs["radar"] / f"radar_data_{i}.mat", {"data": radar_cube(seq, frame, rng)})
            write_ply(dirs["lidar"] / f"lidar_data_{i}.ply", lidar_points(seq, frame, rng))
            np.savetxt(dirs["pwr"] / f"mmWave_power_{i}.txt", beam_powers(seq, frame), fmt="%.9e")
            lat, lon = ue_lat_lon(seq, frame)
            (dirs["ue"] / f"gps_location_{i}.txt").write_text(f"{lat:.8f}\n{lon:.8f}\n")
            seconds = 11 * 3600 + 46 * 60 + 37.445 + 0.1 * i
            stamp = f"{int(seconds // 3600):02d}-{int(seconds % 3600 // 60):02d}-{seconds % 60:09.6f}"
            rows.append({"index": i, "seq_index": seq, "abs_index": i, "time_stamp": f"['{stamp}']",
                         "unit1_rgb": f"./unit1/camera_data/image_{i}.jpg",
                         "unit1_radar": f"./unit1/radar_data/radar_data_{i}.mat",
                         "unit1_lidar": f"./unit1/lidar_data/lidar_data_{i}.ply",
                         "unit1_pwr_60ghz": f"./unit1/mmWave_data/mmWave_power_{i}.txt",
                         "unit2_loc": f"./unit2/GPS_data/gps_location_{i}.txt",
                         "unit1_loc": "./unit1/GPS_data/gps_location.txt"})
    order = np.random.default_rng(seed + 1).permutation(len(rows))  # the CSV is not sorted by time
    with open(root / "scenario32.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(COLUMNS))
        w.writeheader()
        w.writerows(rows[j] for j in order)
    return root


if __name__ == "__main__":
    print(make(sys.argv[1] if len(sys.argv) > 1 else "deepsense_tiny"))
