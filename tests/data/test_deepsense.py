"""The DeepSense 6G converter (``wfm.data.converters.deepsense``) on its tiny scenario fixture
(tests/data/deepsense/make.py, the released folder layout with an unsorted CSV index): windows, labels against the
fixture's known truth, a sensor switched off, bad raw files as one-line errors naming file and row."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from helpers import load_module

from wfm.data.converters import deepsense
from wfm.data.converters import main as wfm_convert
from wfm.data.sequence import gps_to_local, load_sequence

mk = load_module("tests/data/deepsense/make.py", "make_deepsense")
SMALL = {"image_size": (12, 16), "radar_bins": (32, 32), "lidar_size": (8, 32)}


@pytest.fixture
def raw(tmp_path) -> Path:
    return mk.make(tmp_path / "scenario32")


def _rows(raw: Path) -> list[dict[str, str]]:
    with open(raw / "scenario32.csv", newline="") as f:
        return list(csv.DictReader(f))


def _row_of(raw: Path, column: str, name: str) -> int:
    """The data row number (1 = first after the header) whose ``column`` names file ``name``."""
    for number, row in enumerate(_rows(raw), 1):
        if Path(row[column]).name == name:
            return number
    raise AssertionError(name)


def _frames(data) -> list[tuple[int, int]]:
    """(original sequence id, first frame) of every window."""
    ids = data.preprocessing["sequence_ids"]
    return [(ids[str(s)], int(st)) for s, st in zip(data.index["sequence"], data.index["start"], strict=True)]


def test_fixture_csv_is_not_sorted(raw):
    order = [int(r["abs_index"]) for r in _rows(raw)]
    assert order != sorted(order) and len(order) == sum(mk.SEQUENCES.values())


@pytest.mark.parametrize("stride", [1, 2])
def test_converts_windows_labels_and_sensors(raw, tmp_path, stride):
    report = deepsense.convert(raw, tmp_path / "out.h5", stride=stride, **SMALL)
    expected = sum((n - 13) // stride + 1 for n in mk.SEQUENCES.values())
    assert report.samples_written == expected and report.outputs == [tmp_path / "out.h5"]
    data = load_sequence(tmp_path / "out.h5", standardised=False)
    assert data.n == expected and data.frames == 13 and data.history == 8 and data.num_beams == 64
    assert data.frame_shapes() == {"image": (3, 12, 16), "radar": (1, 32, 32), "lidar": (1, 8, 32), "gps": (2,),
                                   "beam_power": (64,)}
    assert set(data.labels) == {"position", "beam", "beam_power", "rssi"}
    assert data.preprocessing["sequence_ids"] == {"0": 3, "1": 7}
    assert list(data.index["block"]) == list(data.index["sequence"])  # default: a block is a sequence
    windows = _frames(data)
    assert windows == [(s, st) for s, n in mk.SEQUENCES.items() for st in range(0, n - 13 + 1, stride)]
    for w, (sid, start) in enumerate(windows):
        frames = range(start, start + 13)
        beams = [int(np.argmax(mk.beam_powers(sid, f))) for f in frames]
        assert beams == [mk.best_beam(sid, f) for f in frames]  # the fixture's powers peak where it says
        assert data.labels["beam"][w].tolist() == beams  # sorted by abs_index, not by CSV row
        local = gps_to_local(np.array([mk.ue_lat_lon(sid, f) for f in frames]), mk.BS_LAT_LON)
        np.testing.assert_allclose(data.inputs["gps"][w], local, atol=0.01)
        np.testing.assert_allclose(data.labels["position"][w], local, atol=0.01)
        power_db = 10 * np.log10([mk.beam_powers(sid, f) for f in frames])
        np.testing.assert_allclose(data.labels["beam_power"][w], power_db, atol=1e-3)
        np.testing.assert_allclose(data.inputs["beam_power"][w], power_db, atol=1e-3)
        rssi = 10 * np.log10(np.mean(10 ** (power_db / 10), axis=1))
        np.testing.assert_allclose(data.labels["rssi"][w], rssi, atol=1e-3)
        for t in range(13):  # the moving point target (the static reflector at bin 30 is removed)
            radar = data.inputs["radar"][w, t, 0]
            angle, rng = np.unravel_index(radar.argmax(), radar.shape)
            assert rng == mk.RADAR_TARGET_BIN and angle == 16 + round(mk.RADAR_TARGET_SPATIAL * 32)
    assert data.inputs["image"].min() >= 0 and data.inputs["image"].max() <= 1
    lidar = data.inputs["lidar"]
    assert lidar.min() > 0 and lidar.max() == 1.0 and (lidar < 1).any()  # some returns, empty pixels are 1
    assert data.preprocessing["radar"]["compression"] == "log1p(scale * magnitude)"
    assert "no other position ground truth" in data.preprocessing["labels"]["position"]


def test_time_stamp_order_and_cli_without_radar(raw, tmp_path):
    by_index = load_sequence(deepsense.convert(raw, tmp_path / "a.h5", **SMALL).outputs[0], standardised=False)
    report = deepsense.main([str(raw), str(tmp_path / "b.h5"), "--order-column", "time_stamp", "--no-radar",
                             "--image-size", "12", "16", "--lidar-size", "8", "32"])
    data = load_sequence(report.outputs[0], standardised=False)
    assert data.modalities == ("image", "lidar", "gps", "beam_power") and "radar" not in data.preprocessing
    assert data.preprocessing["order_column"] == "time_stamp"
    np.testing.assert_array_equal(data.labels["beam"], by_index.labels["beam"])
    np.testing.assert_array_equal(data.inputs["image"], by_index.inputs["image"])
    assert "read 126 file(s), wrote 7 sample(s)" in str(report)  # CSV + BS + 31 x (image, lidar, gps, power)


def test_bs_lat_lon_option_and_block_frames(raw, tmp_path):
    lat, lon = mk.BS_LAT_LON[0] + 1e-3, mk.BS_LAT_LON[1]
    data = load_sequence(deepsense.convert(raw, tmp_path / "c.h5", bs_lat_lon=(lat, lon), block_frames=14,
                                           image=False, radar=False, lidar=False).outputs[0], standardised=False)
    assert data.modalities == ("gps", "beam_power")
    np.testing.assert_allclose(data.inputs["gps"][0, 0], gps_to_local(np.array(mk.ue_lat_lon(3, 0)), (lat, lon)),
                               atol=0.01)
    # blocks of 14 frames: seq 3 (16 frames) -> blocks 0 [0, 14) and 1 [14, 16); seq 7 (15) -> block 2 [0, 14)
    assert _frames(data) == [(3, 0), (3, 1), (7, 0), (7, 1)] and list(data.index["block"]) == [0, 0, 2, 2]


def _one_line_error(raw, tmp_path, file: Path, column: str) -> str:
    with pytest.raises(ValueError) as err:
        deepsense.convert(raw, tmp_path / "out.h5", **SMALL)
    msg = str(err.value)
    assert "\n" not in msg and str(file) in msg, msg
    assert f"scenario32.csv row {_row_of(raw, column, file.name)}" in msg, msg
    assert not (tmp_path / "out.h5").exists()
    return msg


def test_negative_beam_power(raw, tmp_path):
    f = raw / "unit1/mmWave_data/mmWave_power_5.txt"
    power = mk.beam_powers(3, 4)
    power[7] = -1e-4
    np.savetxt(f, power)
    assert "< 0 at beam 7; expected 64 finite linear powers >= 0" in _one_line_error(raw, tmp_path, f,
                                                                                     "unit1_pwr_60ghz")


def test_nan_beam_power_and_wrong_count(raw, tmp_path):
    f = raw / "unit1/mmWave_data/mmWave_power_20.txt"
    power = mk.beam_powers(7, 3)
    power[0] = np.nan
    np.savetxt(f, power)
    assert "non-finite power at beam 0" in _one_line_error(raw, tmp_path, f, "unit1_pwr_60ghz")
    np.savetxt(f, mk.beam_powers(7, 3)[:60])
    assert "60 values; expected 64" in _one_line_error(raw, tmp_path, f, "unit1_pwr_60ghz")


def test_latitude_out_of_range(raw, tmp_path):
    f = raw / "unit2/GPS_data/gps_location_9.txt"
    f.write_text("123.0\n-111.93\n")
    assert "latitude 123.0; expected a finite latitude in [-90, 90]" in _one_line_error(raw, tmp_path, f,
                                                                                       "unit2_loc")


def test_missing_image_is_an_error_unless_skipped(raw, tmp_path):
    f = raw / "unit1/camera_data/image_9.jpg"  # sequence 3, frame 8
    f.unlink()
    assert "no such file; expected the image file" in _one_line_error(raw, tmp_path, f, "unit1_rgb")
    report = deepsense.convert(raw, tmp_path / "out.h5", skip_missing=True, **SMALL)
    assert dict(report.skipped) == {"row with a missing sensor file (--skip-missing)": 1}
    data = load_sequence(report.outputs[0], standardised=False)
    # sequence 3 is cut at frame 8 into 8 + 7 frames, too short for a window: only sequence 7's windows remain
    assert _frames(data) == [(7, 0), (7, 1), (7, 2)] and data.preprocessing["skipped_rows"] == 1


def test_bad_radar_and_lidar_files(raw, tmp_path):
    radar = raw / "unit1/radar_data/radar_data_3.mat"
    import scipy.io

    scipy.io.savemat(radar, {"data": np.zeros((4, 64), np.complex64)})
    assert "shape (4, 64); expected a complex or real 3-D radar IF cube" in _one_line_error(
        raw, tmp_path, radar, "unit1_radar")
    mk.make(raw)  # restore
    lidar = raw / "unit1/lidar_data/lidar_data_30.ply"
    lidar.write_text(lidar.read_text().replace("20.0000", "nan", 1))
    assert "non-finite coordinate" in _one_line_error(raw, tmp_path, lidar, "unit1_lidar")


def test_short_sequences_skipped_and_counted(tmp_path):
    raw = mk.make(tmp_path / "raw", sequences={1: 14, 2: 5})
    report = deepsense.convert(raw, tmp_path / "out.h5", **SMALL)
    assert report.samples_written == 2 and dict(report.skipped) == {"sequence shorter than a window of 13 frames": 1}


def test_wfm_convert_bad_folder_exit_code(tmp_path, capsys):
    assert wfm_convert(["deepsense", str(tmp_path / "nothing"), str(tmp_path / "out.h5")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nothing: no such scenario folder" in err and "Traceback" not in err
    (tmp_path / "empty").mkdir()
    assert wfm_convert(["deepsense", str(tmp_path / "empty"), str(tmp_path / "out.h5")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "expected exactly one *.csv index" in err
    raw = mk.make(tmp_path / "raw")
    with open(raw / "scenario32.csv") as f:
        lines = f.read().replace(",unit1_loc", ",other").splitlines()
    (raw / "scenario32.csv").write_text("\n".join(lines) + "\n")
    assert wfm_convert(["deepsense", str(raw), str(tmp_path / "out.h5")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no BS position" in err and "--bs-lat-lon" in err
    with pytest.raises(SystemExit):  # numeric options are checked by argparse
        deepsense.main([str(raw), str(tmp_path / "out.h5"), "--window", "0"])
    with pytest.raises(ValueError, match="--history"):
        deepsense.convert(raw, tmp_path / "out.h5", history=13)
