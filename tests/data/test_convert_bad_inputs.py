"""``wfm-convert`` on bad raw inputs and bad options: every one is a single error line on stderr naming the file
(and the sample / row / key) and what was expected, never a traceback; exit 1 for a bad input, 2 for a bad option.

Each case builds a tiny raw input from the converters' fixtures (tests/data/<format>/make.py) and breaks one
thing: a SigMF field of the wrong JSON type or value, a value that would be cast or sliced before it is checked
(a float or NaN label, a sample count past the end of the file), a corrupt MATLAB / npz / PNG file, a
decompression bomb, a numeric option of 0 or below. Most run in-process through ``wfm.data.converters.main`` (the
console script's code); a few run the installed ``wfm-convert`` as a user does, so a traceback or a crash of the
process itself would be seen.
"""

from __future__ import annotations

import json
import pickle
import shutil
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io
from helpers import load_module

from wfm.data.converters import main as convert_main

BIN = Path(sys.executable).parent


def _make(name: str, fn: str = "make"):
    return getattr(load_module(f"tests/data/{name}/make.py", f"make_{name}_bad"), fn)


def png_claiming(width: int, height: int) -> bytes:
    """A few-byte PNG whose header claims ``width`` x ``height`` pixels (PIL checks the size when it opens it)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + chunk(b"IEND", b""))


# ------------------------------------------------------------------------------------------- raw inputs
def _sigmf(tmp: Path, edit: Callable[[dict], None] | None = None, data: bytes | None = None,
           meta_text: bytes | None = None) -> list[str]:
    raw = _make("sigmf")(tmp / "raw")
    meta_path = raw / "rec0.sigmf-meta"
    if edit is not None:
        meta = json.loads(meta_path.read_text())
        edit(meta)
        meta_path.write_text(json.dumps(meta))
    if meta_text is not None:
        meta_path.write_bytes(meta_text)
    if data is not None:
        (raw / "rec0.sigmf-data").write_bytes(data)
    return ["sigmf", str(raw), str(tmp / "out"), "--size", "16", "--nfft", "32", "--frames", "8"]


def _annotation(key: str, value) -> Callable[[dict], None]:
    def edit(meta: dict) -> None:
        meta["annotations"][1][key] = value
    return edit


def _global(key: str, value) -> Callable[[dict], None]:
    def edit(meta: dict) -> None:
        meta["global"][key] = value
    return edit


def _top(key: str, value) -> Callable[[dict], None]:
    def edit(meta: dict) -> None:
        meta[key] = value
    return edit


def _nan_iq() -> bytes:
    x = np.ones(2 * 1200, "<f4")
    x[2 * 7 + 1] = np.nan
    return x.tobytes()


def _powder_meta(tmp: Path) -> list[str]:
    raw = _make("powder")(tmp / "raw")
    (raw / "day1/bs2/capture_0.json").write_bytes(b"\xff\xfe{\x00}")
    return ["powder", str(raw), str(tmp / "out"), "--size", "16", "--nfft", "32", "--frames", "8"]


def _commrad(tmp: Path, png: bytes) -> list[str]:
    raw = _make("commrad")(tmp / "raw")
    (raw / "lte_1.png").write_bytes(png)
    return ["commrad", str(raw), str(tmp / "out"), "--size", "16"]


def _nr(tmp: Path, what: str) -> list[str]:
    path, _, _ = _make("nr_positioning")(tmp / "raw")
    with h5py.File(path, "r+") as f:
        if what == "features_group":
            del f["features"]
            f.create_group("features").create_dataset("x", data=np.zeros(3))
        elif what == "position_nan":
            pos = f["labels/position"][()]
            pos[1, 4] = np.nan  # MATLAB layout (3, N): sample 4
            del f["labels/position"]
            f["labels/position"] = pos
        elif what == "features_nan":
            feats = f["features"][()]
            feats[3, 2, 1, 6] = np.inf  # (193, 16, C, N): sample 6
            del f["features"]
            f["features"] = feats
        elif what == "features_huge":
            feats = f["features"][()]
            feats[0, 0, 0, 8] = 1e300  # finite in float64, inf once cast to the float32 the file stores
            del f["features"]
            f["features"] = feats
        elif what == "claims_more":
            del f["features"]
            f.create_dataset("features", shape=(193, 16, 4, 10 ** 6), chunks=(193, 16, 4, 1), dtype="f8")
            del f["labels/position"]
            f["labels/position"] = np.zeros((3, 10 ** 6))
    return ["nr_positioning", str(path), str(tmp / "out"), "--size", "16"]


def _ntufi(tmp: Path, what: str) -> list[str]:
    raw = _make("ntufi")(tmp / "raw")
    bad = raw / "train_amp" / "fall" / "fall1.mat"
    if what == "truncated":
        bad.write_bytes(bad.read_bytes()[:100])
    elif what == "empty":
        bad.write_bytes(b"")
    elif what == "complex":
        scipy.io.savemat(bad, {"CSIamp": np.ones((342, 40)) * (1 + 2j)})
    elif what == "nan":
        amp = np.ones((342, 40))
        amp[17, 3] = np.nan
        scipy.io.savemat(bad, {"CSIamp": amp})
    return ["ntufi", str(raw), str(tmp / "out"), "--size", "16"]


def _deepmimo(tmp: Path, what: str) -> list[str]:
    path = _make("deepmimo")(tmp / "raw")
    d = dict(np.load(path))
    if what == "los_float":
        d["los"] = d["los"].astype(np.float64)
        d["los"][4] = 0.5
    elif what == "los_nan":
        d["los"] = d["los"].astype(np.float64)
        d["los"][2] = np.nan
    elif what == "los_two":
        d["los"][7] = 2
    elif what == "los_text":
        d["los"] = d["los"].astype(str)
    elif what == "channels_nan":
        d["channels"][5, 1, 2] = np.nan
    elif what == "scenario_empty":
        d["scenario"] = np.array([], dtype=str)
    if what == "not_a_zip":
        path.write_bytes(b"PK\x03\x04" + b"\0" * 40)
    elif what == "object_array":
        np.savez(path, channels=np.array([object(), 1], dtype=object), los=d["los"])
    elif what == "mat_corrupt":
        path = path.with_suffix(".mat")
        scipy.io.savemat(path, {"channels": d["channels"], "los": d["los"]}, do_compression=True)
        b = path.read_bytes()
        path.write_bytes(b[:160] + bytes(x ^ 0xFF for x in b[160:400]) + b[400:])
    else:
        np.savez(path, **d)
    return ["deepmimo", str(path), str(tmp / "out"), "--size", "16", "--beams", "16"]


def _radioml_pickle(tmp: Path, snr, value: float = 0.25) -> list[str]:
    path = tmp / "rml.pkl"
    good = np.full((2, 2, 128), 0.25, np.float32)
    odd = np.full((2, 2, 128), value, np.float64)
    path.write_bytes(pickle.dumps({("QPSK", snr): odd, ("BPSK", 0): good}, protocol=2))
    return ["radioml2016", str(path), str(tmp / "out"), "--size", "16"]


def _radioml2018_z(tmp: Path) -> list[str]:
    path = _make("radioml", "make_2018")(tmp / "raw")
    with h5py.File(path, "r+") as f:
        z = np.full(f["Z"].shape, 8, np.uint64)  # an unsigned SNR column (every capture at 8 dB) ...
        z[9] = 2 ** 63 + 5  # ... with one entry that wraps to a negative int64 if cast before the check
        del f["Z"]
        f["Z"] = z
    return ["radioml2018", str(path), str(tmp / "out"), "--size", "16"]


@pytest.fixture(scope="module")
def scenario(tmp_path_factory) -> Path:
    return _make("deepsense")(tmp_path_factory.mktemp("deepsense") / "scenario32")


def _deepsense(tmp: Path, scenario: Path, what: str) -> list[str]:
    raw = tmp / "scenario32"
    shutil.copytree(scenario, raw)
    if what == "radar_corrupt":
        (raw / "unit1/radar_data/radar_data_5.mat").write_bytes(b"")
    elif what == "image_bomb":
        (raw / "unit1/camera_data/image_5.jpg").write_bytes(png_claiming(30000, 30000))
    elif what == "csv_binary":
        csv_path = raw / "scenario32.csv"
        csv_path.write_bytes(csv_path.read_bytes().replace(b"unit1_loc", b"unit1_loc\xff\xfe", 1))
    elif what == "csv_huge_field":
        csv_path = raw / "scenario32.csv"
        text = csv_path.read_bytes().splitlines(keepends=True)
        csv_path.write_bytes(b"".join(text[:3]) + b'1,3,"' + b"x" * 200_000 + b'"\n' + b"".join(text[3:]))
    return ["deepsense", str(raw), str(tmp / "out.h5"), "--image-size", "12", "16", "--lidar-size", "8", "32"]


BAD_INPUTS = {
    # SigMF metadata of the wrong JSON type
    "sigmf_annotations_a_string": (lambda t: _sigmf(t, _top("annotations", "wifi")),
                                   "rec0.sigmf-meta: 'annotations' is a str; expected a JSON list"),
    "sigmf_annotation_a_number": (lambda t: _sigmf(t, _top("annotations", [3])),
                                  "rec0.sigmf-meta: annotations[0]: the annotation is an int; expected a JSON object"),
    "sigmf_global_a_list": (lambda t: _sigmf(t, _top("global", [])),
                            "rec0.sigmf-meta: 'global' is a list; expected a JSON object"),
    "sigmf_document_a_list": (lambda t: _sigmf(t, meta_text=b"[1, 2]"),
                              "rec0.sigmf-meta: the metadata document is a list; expected a JSON object"),
    "sigmf_datatype_a_list": (lambda t: _sigmf(t, _global("core:datatype", ["cf32_le"])),
                              "rec0.sigmf-meta: core:datatype ['cf32_le'] not supported"),
    "sigmf_sample_rate_text": (lambda t: _sigmf(t, _global("core:sample_rate", "fast")),
                               "rec0.sigmf-meta: global: core:sample_rate is 'fast'; expected a finite number > 0"),
    "sigmf_num_channels_zero": (lambda t: _sigmf(t, _global("core:num_channels", 0)),
                                "rec0.sigmf-meta: global: core:num_channels is 0; expected an integer >= 1"),
    "sigmf_num_channels_text": (lambda t: _sigmf(t, _global("core:num_channels", "2")),
                                "rec0.sigmf-meta: global: core:num_channels is '2'; expected an integer >= 1"),
    # SigMF values checked before they slice
    "sigmf_sample_start_text": (lambda t: _sigmf(t, _annotation("core:sample_start", "10")),
                                "rec0.sigmf-meta: annotations[1]: core:sample_start is '10'; expected an integer in "
                                "[0, 1152]"),
    "sigmf_sample_start_fraction": (lambda t: _sigmf(t, _annotation("core:sample_start", 1.5)),
                                    "rec0.sigmf-meta: annotations[1]: core:sample_start is 1.5; expected an integer"),
    "sigmf_sample_start_negative": (lambda t: _sigmf(t, _annotation("core:sample_start", -3)),
                                    "rec0.sigmf-meta: annotations[1]: core:sample_start is -3; expected an integer in "
                                    "[0, 1152]"),
    "sigmf_sample_start_huge": (lambda t: _sigmf(t, _annotation("core:sample_start", 1e30)),
                                "rec0.sigmf-meta: annotations[1]: core:sample_start is 1e+30; expected an integer"),
    "sigmf_sample_count_past_the_end": (lambda t: _sigmf(t, _annotation("core:sample_count", 5000)),
                                        "rec0.sigmf-meta: annotations[1]: core:sample_count 5000 from "
                                        "core:sample_start 576 ends at sample 5576, past the end of the recording "
                                        "(1152 samples)"),
    "sigmf_sample_count_negative": (lambda t: _sigmf(t, _annotation("core:sample_count", -1)),
                                    "rec0.sigmf-meta: annotations[1]: core:sample_count is -1; expected an integer "
                                    ">= 0"),
    "sigmf_meta_not_utf8": (lambda t: _sigmf(t, meta_text=b"\xff\xfe\x00{"),
                            "rec0.sigmf-meta: SigMF metadata is not UTF-8 text"),
    "sigmf_meta_nested_too_deeply": (lambda t: _sigmf(t, meta_text=b"[" * 100000 + b"]" * 100000),
                                     "rec0.sigmf-meta: not valid JSON (nested too deeply)"),
    "sigmf_data_partial_value": (lambda t: _sigmf(t, data=b"\0" * 4098),
                                 "rec0.sigmf-data: 4098 bytes is not a whole number of cf32_le values (4 bytes each)"),
    "sigmf_data_nan": (lambda t: _sigmf(t, data=_nan_iq()),
                       "rec0.sigmf-data: sample 7 has a NaN/Inf value; expected finite I/Q"),
    # POWDER
    "powder_meta_not_utf8": (_powder_meta, "capture_0.json: capture metadata is not UTF-8 text"),
    # CommRad images
    "commrad_decompression_bomb": (lambda t: _commrad(t, png_claiming(30000, 30000)),
                                   "lte_1.png: refusing an image this large, a possible decompression bomb"),
    "commrad_decompression_bomb_warning": (lambda t: _commrad(t, png_claiming(10000, 10000)),
                                           "lte_1.png: refusing an image this large, a possible decompression bomb"),
    "commrad_corrupt_png": (lambda t: _commrad(t, b"\x89PNG\r\n\x1a\n" + b"\0" * 30),
                            "lte_1.png: not a readable image"),
    # 5G NR positioning (.mat v7.3)
    "nr_features_a_group": (lambda t: _nr(t, "features_group"),
                            "nr_positioning.mat: 'features' is a group, expected a dataset (a MATLAB array)"),
    "nr_position_nan": (lambda t: _nr(t, "position_nan"),
                        "nr_positioning.mat: sample 4 has NaN/Inf values in labels/position; expected finite numbers"),
    "nr_features_inf": (lambda t: _nr(t, "features_nan"),
                        "nr_positioning.mat: sample 6 has NaN/Inf values in 'features'; expected finite numbers"),
    "nr_features_beyond_float32": (lambda t: _nr(t, "features_huge"),
                                   "nr_positioning.mat: sample 8 has a value beyond the float32 range in 'features'; "
                                   "expected |x| < 3.4e38"),
    "nr_claims_more_samples_than_stored": (lambda t: _nr(t, "claims_more"),
                                           "nr_positioning.mat: 'features' claims shape (193, 16, 4, 1000000) but "
                                           "stores 0 of its 1000000 chunks"),
    # NTU-Fi (.mat v5)
    "ntufi_truncated_mat": (lambda t: _ntufi(t, "truncated"), "fall1.mat: not a readable MATLAB .mat file"),
    "ntufi_empty_mat": (lambda t: _ntufi(t, "empty"),
                        "fall1.mat: not a readable MATLAB .mat file (MatReadError: Mat file appears to be truncated)"),
    "ntufi_complex_csiamp": (lambda t: _ntufi(t, "complex"),
                             "fall1.mat: CSIamp has dtype complex128; expected real numbers"),
    "ntufi_nan_csiamp": (lambda t: _ntufi(t, "nan"),
                         "fall1.mat: subcarrier row 17 has NaN/Inf values in CSIamp; expected finite numbers"),
    # DeepMIMO
    "deepmimo_los_fraction": (lambda t: _deepmimo(t, "los_float"),
                              "deepmimo.npz: user 4 has los=0.5; expected one of (-1, 0, 1)"),
    "deepmimo_los_nan": (lambda t: _deepmimo(t, "los_nan"),
                         "deepmimo.npz: user 2 has los=nan; expected one of (-1, 0, 1)"),
    "deepmimo_los_two": (lambda t: _deepmimo(t, "los_two"),
                         "deepmimo.npz: user 7 has los=2; expected one of (-1, 0, 1)"),
    "deepmimo_los_text": (lambda t: _deepmimo(t, "los_text"),
                          "deepmimo.npz: los has dtype <U21; expected one of (-1, 0, 1) per user"),
    "deepmimo_channels_nan": (lambda t: _deepmimo(t, "channels_nan"),
                              "deepmimo.npz: user 5 has NaN/Inf values in channels"),
    "deepmimo_scenario_empty": (lambda t: _deepmimo(t, "scenario_empty"),
                                "deepmimo.npz: scenario is <U1 of 0 value(s); expected one name"),
    "deepmimo_not_a_zip": (lambda t: _deepmimo(t, "not_a_zip"), "deepmimo.npz: not a readable .npz file"),
    "deepmimo_object_array": (lambda t: _deepmimo(t, "object_array"),
                              "deepmimo.npz: not a readable .npz file (ValueError: Object arrays cannot be loaded"),
    "deepmimo_corrupt_mat": (lambda t: _deepmimo(t, "mat_corrupt"),
                             "deepmimo.mat: not a readable MATLAB .mat file (zlib.error: Error -3 while decompressing"),
    # RadioML
    "radioml2016_snr_out_of_range": (lambda t: _radioml_pickle(t, 10 ** 6),
                                     "rml.pkl: key ('QPSK', 1000000): SNR 1000000 dB, expected an integer in "
                                     "[-1000, 1000]"),
    "radioml2016_value_beyond_float32": (lambda t: _radioml_pickle(t, 2, 1e300),
                                         "rml.pkl: key ('QPSK', 2), sample 0: values beyond the float32 range, "
                                         "expected |x| < 3.4e38"),
    "radioml2018_snr_wraps_int64": (_radioml2018_z,
                                    "GOLD_XYZ_OSC.0001_1024.hdf5: sample 9: Z = 9223372036854775813, expected an "
                                    "integer SNR in dB in [-1000, 1000]"),
}

DEEPSENSE = {
    "deepsense_radar_corrupt_mat": ("radar_corrupt", "radar_data_5.mat: not a readable MATLAB .mat file "
                                    "(MatReadError"),
    "deepsense_image_bomb": ("image_bomb", "image_5.jpg: refusing an image this large, a possible decompression "
                             "bomb"),
    "deepsense_csv_not_utf8": ("csv_binary", "scenario32.csv: not UTF-8 text"),
    "deepsense_csv_field_too_large": ("csv_huge_field", "scenario32.csv: not a readable CSV file (field larger than "
                                      "field limit (131072))"),
}

BAD_OPTIONS = {
    "sigmf_size_0": (["sigmf", "r", "o", "--size", "0"], "argument --size: expected an integer >= 1, got '0'"),
    "sigmf_frames_negative": (["sigmf", "r", "o", "--frames", "-1"],
                              "argument --frames: expected an integer >= 1, got '-1'"),
    "sigmf_nfft_1": (["sigmf", "r", "o", "--nfft", "1"], "argument --nfft: expected an integer >= 2, got '1'"),
    "sigmf_iq_length_0": (["sigmf", "r", "o", "--iq-length", "0"],
                          "argument --iq-length: expected an integer >= 1, got '0'"),
    "powder_max_windows_0": (["powder", "r", "o", "--max-windows", "0"],
                             "argument --max-windows: expected an integer >= 1, got '0'"),
    "commrad_size_text": (["commrad", "r", "o", "--size", "big"], "argument --size: expected an integer >= 1, got "
                          "'big'"),
    "nr_positioning_size_negative": (["nr_positioning", "f.mat", "o", "--size", "-5"],
                                     "argument --size: expected an integer >= 1, got '-5'"),
    "ntufi_size_0": (["ntufi", "r", "o", "--size", "0"], "argument --size: expected an integer >= 1, got '0'"),
    "deepmimo_size_0": (["deepmimo", "c.npz", "o", "--size", "0"],
                        "argument --size: expected an integer >= 1, got '0'"),
    "deepmimo_beams_0": (["deepmimo", "c.npz", "o", "--beams", "0"],
                         "argument --beams: expected an integer >= 1, got '0'"),
    "deepsense_window_1": (["deepsense", "d", "o.h5", "--window", "1"],
                           "argument --window: expected an integer >= 2, got '1'"),
    "deepsense_stride_0": (["deepsense", "d", "o.h5", "--stride", "0"],
                           "argument --stride: expected an integer >= 1, got '0'"),
    "deepsense_frame_rate_0": (["deepsense", "d", "o.h5", "--frame-rate", "0"],
                               "argument --frame-rate: expected a finite number > 0, got '0'"),
    "deepsense_radar_scale_nan": (["deepsense", "d", "o.h5", "--radar-scale", "nan"],
                                  "argument --radar-scale: expected a finite number > 0, got 'nan'"),
    "deepsense_history_not_below_window": (["deepsense", "d", "o.h5", "--window", "4", "--history", "4"],
                                           "--history (4) must be smaller than --window (4)"),
    "radioml2016_max_samples_negative": (["radioml2016", "p.pkl", "o", "--max-samples", "-1"],
                                         "argument --max-samples: expected an integer >= 2, got '-1'"),
    "radioml2016_seed_negative": (["radioml2016", "p.pkl", "o", "--seed", "-1"],
                                  "argument --seed: expected an integer >= 0, got '-1'"),
    "radioml2016_nfft_2": (["radioml2016", "p.pkl", "o", "--nfft", "2"],
                           "argument --nfft: expected an integer >= 4, got '2'"),
    "rml22_snr_min_inf": (["rml22", "p.pkl", "o", "--snr-min", "inf"],
                          "argument --snr-min: expected a finite number, got 'inf'"),
    "radioml2018_max_samples_1": (["radioml2018", "x.hdf5", "o", "--max-samples", "1"],
                                  "argument --max-samples: expected an integer >= 2, got '1'"),
}


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err[-3000:]
    return lines[0]


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_raw_input_is_one_line_naming_the_file(tmp_path, capsys, case):
    build, message = BAD_INPUTS[case]
    argv = build(tmp_path)
    capsys.readouterr()
    assert convert_main(argv) == 1
    line = _one_line(capsys.readouterr().err)
    assert line.startswith(f"wfm-convert {argv[0]}: error: ") and line.endswith("(--debug shows the traceback)")
    assert message in line, line
    assert str(tmp_path) in line  # the file is named by its path
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())  # nothing written


@pytest.mark.parametrize("case", sorted(DEEPSENSE))
def test_bad_deepsense_file_is_one_line_naming_the_file(tmp_path, capsys, scenario, case):
    what, message = DEEPSENSE[case]
    argv = _deepsense(tmp_path, scenario, what)
    assert convert_main(argv) == 1
    line = _one_line(capsys.readouterr().err)
    assert message in line and str(tmp_path) in line, line
    assert not (tmp_path / "out.h5").exists()


@pytest.mark.parametrize("case", sorted(BAD_OPTIONS))
def test_bad_numeric_option_is_a_one_line_usage_error(capsys, case):
    argv, message = BAD_OPTIONS[case]
    with pytest.raises(SystemExit) as exc:
        convert_main(argv)
    assert exc.value.code == 2
    line = _one_line(capsys.readouterr().err)
    assert line == f"wfm-convert {argv[0]}: error: {message}  (--help lists the options)", line


def test_debug_shows_the_traceback(tmp_path, monkeypatch):
    argv = _sigmf(tmp_path, _top("annotations", "wifi"))
    with pytest.raises(ValueError, match="'annotations' is a str"):
        convert_main([*argv, "--debug"])
    monkeypatch.setenv("WFM_DEBUG", "1")
    with pytest.raises(ValueError, match="'annotations' is a str"):
        convert_main(argv)


def _run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "wfm-convert"), *argv], capture_output=True, text=True, cwd=cwd, timeout=300)


@pytest.mark.parametrize("case", ["sigmf_annotations_a_string", "sigmf_sample_start_fraction",
                                  "ntufi_empty_mat", "commrad_decompression_bomb_warning"])
def test_installed_wfm_convert_prints_one_line_for_a_bad_input(tmp_path, case):
    build, message = BAD_INPUTS[case]
    done = _run(build(tmp_path), tmp_path)
    assert done.returncode == 1, done.stderr[-3000:]
    line = _one_line(done.stderr)
    assert message in line and str(tmp_path) in line, line


def test_installed_wfm_convert_prints_one_line_for_a_bad_option(tmp_path):
    done = _run(["sigmf", "raw", "out", "--size", "0"], tmp_path)
    assert done.returncode == 2
    assert _one_line(done.stderr) == ("wfm-convert sigmf: error: argument --size: expected an integer >= 1, got '0'  "
                                      "(--help lists the options)")


GENERATE_OPTIONS = {
    "samples_0": (["--samples", "0"], "argument --samples: expected an integer >= 2, got '0'"),
    "seed_negative": (["--seed", "-1"], "argument --seed: expected an integer >= 0, got '-1'"),
    "spacing_0": (["--spacing", "0"], "argument --spacing: expected a finite number > 0, got '0'"),
    "indoor_probability_2": (["--indoor-probability", "2"],
                             "argument --indoor-probability: expected a number in [0, 1], got '2'"),
    "batch_0": (["--batch", "0"], "argument --batch: expected an integer >= 1, got '0'"),
    "snr_db_nan": (["--snr-db", "0", "nan"], "argument --snr-db: expected a finite number, got 'nan'"),
}


@pytest.mark.parametrize("case", sorted(GENERATE_OPTIONS))
def test_wfm_generate_bad_option_is_a_one_line_usage_error(tmp_path, capsys, case):
    from wfm.generate import main as generate_main

    options, message = GENERATE_OPTIONS[case]
    with pytest.raises(SystemExit) as exc:
        generate_main(["sionna", str(tmp_path / "o.h5"), *options])
    assert exc.value.code == 2
    assert _one_line(capsys.readouterr().err) == f"wfm-generate sionna: error: {message}  (--help lists the options)"
    assert not (tmp_path / "o.h5").exists()


# ------------------------------------------------------------------- a folder where one input file is expected
FILE_INPUTS = {
    "deepmimo": "a DeepMIMO export file (.npz or .mat) with channels (N, M, K) and los (N,)",
    "nr_positioning": "the release's .mat file (MATLAB v7.3, HDF5) with features and labels/position",
    "radioml2016": "a RadioML pickle (.pkl)",
    "radioml2018": "a RadioML 2018.01A HDF5 file (GOLD_XYZ_OSC.0001_1024.hdf5)",
    "rml22": "a RadioML pickle (.pkl)",
}


@pytest.mark.parametrize("name", sorted(FILE_INPUTS))
def test_a_folder_as_the_input_file_is_named_a_folder_not_missing(tmp_path, capsys, name):
    folder = tmp_path / "emptydir"
    folder.mkdir()
    assert convert_main([name, str(folder), str(tmp_path / "out")]) == 1
    line = _one_line(capsys.readouterr().err)
    assert f"{folder}: a folder; expected {FILE_INPUTS[name]}  (--debug" in line, line
    assert convert_main([name, str(tmp_path / "nothere"), str(tmp_path / "out")]) == 1
    line = _one_line(capsys.readouterr().err)
    assert f"nothere: no such file; expected {FILE_INPUTS[name]}  (--debug" in line, line
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
