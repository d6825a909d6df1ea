"""Every real-data converter (``wfm.data.converters.<name>``) on its tiny fixture (real on-disk layout), read
back through H5Dataset; label sources for layouts that differ between releases; the installed ``wfm-convert``."""

from __future__ import annotations

import importlib
import importlib.util
import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from helpers import load_module

from wfm.data.datasets import H5Dataset
from wfm.data.hdf5 import read_attrs

ROOT = Path(__file__).resolve().parents[2]  # the repository (this file: tests/data/test_converters.py)


def _load(rel: str, name: str):
    return load_module(rel, name)


def _tool(name: str):
    return importlib.import_module(f"wfm.data.converters.{name}")


def _out(report) -> Path:
    """The one file a conversion wrote."""
    assert len(report.outputs) == 1, report.outputs
    return report.outputs[0]


def _make(name: str):
    return _load(f"tests/data/{name}/make.py", f"make_{name}").make


def _check(path: Path, size: int, channels: int, label_keys: set[str]) -> H5Dataset:
    ds = H5Dataset(path, size=size)
    s = ds[len(ds) - 1]
    assert s["x"].shape == (channels, size, size) and torch.isfinite(s["x"]).all()
    pairs = {"complex_pairs"} if ds.complex_pairs else set()  # files with complex channels say which pairs
    assert set(s) == {"x", "channels", "modality"} | label_keys | pairs and s["modality"] == ds.modality
    return ds


def test_sigmf(tmp_path):
    raw = _make("sigmf")(tmp_path / "raw")
    report = _tool("sigmf").convert(raw, tmp_path / "out", size=16, nfft=32, frames=8)
    out = _out(report)
    assert out == (tmp_path / "out" / "ota_tiny.h5").resolve()
    assert (report.files_read, report.samples_written, dict(report.skipped)) == (2, 12, {})
    ds = _check(out, 16, 1, {"label"})
    assert len(ds) == 12 and ds.meta["labels"]["label"]["class_names"] == ["bluetooth", "lte", "wifi"]
    assert ds.meta["modality"] == "spectrogram"
    assert [s["step"] for s in ds.meta["preprocessing"]["steps"]][:3] == ["source", "to_db", "resize"]
    with h5py.File(out) as f:
        assert sorted(np.bincount(f["label"][:])) == [4, 4, 4]


@pytest.mark.parametrize("antennas", [1, 2])
def test_sigmf_to_raw_iq_windows(tmp_path, antennas):
    raw = _make("sigmf")(tmp_path / "raw", num_channels=antennas)
    report = _tool("sigmf").convert(raw, tmp_path / "out", iq_length=64)
    n_per = 4 * (32 + 7 * 16)  # samples per annotation in the fixture: 9 windows of 64, a tail of 0
    assert (report.files_read, report.samples_written, dict(report.skipped)) == (2, 3 * (n_per // 64), {})
    ds = H5Dataset(_out(report), size=64)
    assert ds.meta["modality"] == "iq" and ds.meta["shape"] == (antennas, 2, 64) and ds.meta["mean"].shape == (2,)
    assert ds.meta["labels"]["label"]["class_names"] == ["bluetooth", "lte", "wifi"]
    # the windows are the recording, cut and split into I / Q: the first window of rec0 is its first 64 samples
    data = np.fromfile(raw / "rec0.sigmf-data", np.float32)
    first = (data[0::2] + 1j * data[1::2]).reshape(-1, antennas)[:64].T
    with h5py.File(ds.path) as f:
        np.testing.assert_allclose(f["inputs"][0, :, 0] + 1j * f["inputs"][0, :, 1], first, rtol=1e-6)
    if antennas > 1:
        with pytest.raises(ValueError, match="2 channels .* convert with --iq-length"):
            _tool("sigmf").convert(raw, tmp_path / "out2", size=16, nfft=32, frames=8)


def test_sigmf_rejects_unsafe_name_from_metadata(tmp_path):
    raw = _make("sigmf")(tmp_path / "raw", collection="../../escape")
    (tmp_path / "out").mkdir()
    with pytest.raises(ValueError, match="unsafe output name"):
        _tool("sigmf").convert(raw, tmp_path / "out", size=16, nfft=32, frames=8)
    assert list((tmp_path / "out").iterdir()) == [] and not list(tmp_path.glob("*.h5"))
    assert not (tmp_path.parent / "escape.h5").exists()


def test_sigmf_bad_datatype(tmp_path):
    raw = _make("sigmf")(tmp_path / "raw")
    mp = raw / "rec0.sigmf-meta"
    meta = json.loads(mp.read_text())
    meta["global"]["core:datatype"] = "rf32_le"
    mp.write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="rec0.sigmf-meta: core:datatype 'rf32_le' not supported"):
        _tool("sigmf").convert(raw, tmp_path / "out", size=16, nfft=32, frames=8)


def test_powder(tmp_path):
    raw = _make("powder")(tmp_path / "raw")
    report = _tool("powder").convert(raw, tmp_path / "out", size=16, nfft=32, frames=8)
    ds = _check(_out(report), 16, 1, {"label"})
    assert (report.files_read, report.samples_written) == (3, 9)
    assert len(ds) == 9 and ds.meta["labels"]["label"]["class_names"] == ["bs1", "bs2", "bs3"]
    with pytest.raises(ValueError, match="unsafe"):
        _tool("powder").convert(raw, tmp_path / "out", size=16, nfft=32, frames=8, name="/tmp/x")


def test_nr_positioning_matlab_transpose(tmp_path):
    mat, features, position = _make("nr_positioning")(tmp_path / "raw")
    assert h5py.File(mat)["features"].shape == (193, 16, 4, 10)  # as MATLAB v7.3 stores it
    tool = _tool("nr_positioning")
    out = _out(tool.convert(mat, tmp_path / "out", size=16, chunk=3))
    ds = _check(out, 16, 4, {"position"})
    with h5py.File(out) as f:
        np.testing.assert_allclose(f["position"][:], position, rtol=1e-6)
        from wfm.data.transforms import resize

        np.testing.assert_allclose(
            f["inputs"][:], resize(features.astype(np.float32), 16), rtol=1e-5, atol=1e-5
        )
    assert ds.meta["labels"]["position"]["units"] == "m"
    # A row-major file (already (N, C, 16, 193)) converts to the same data.
    with h5py.File(tmp_path / "rowmajor.mat", "w") as f:
        f["features"] = features
        f["labels/position"] = position
    out2 = _out(tool.convert(tmp_path / "rowmajor.mat", tmp_path / "out", size=16, name="rm"))
    with h5py.File(out) as a, h5py.File(out2) as b:
        np.testing.assert_allclose(a["inputs"][:], b["inputs"][:])
    with h5py.File(tmp_path / "bad.mat", "w") as f:
        f["features"] = np.zeros((5, 4, 8, 8))
        f["labels/position"] = np.zeros((5, 3))
    with pytest.raises(ValueError, match=r"bad.mat: 'features' has shape \(5, 4, 8, 8\)"):
        tool.convert(tmp_path / "bad.mat", tmp_path / "out", size=16, name="bad")
    assert not (tmp_path / "out" / "bad.h5").exists()


def test_ntufi_train_test_files(tmp_path):
    raw = _make("ntufi")(tmp_path / "NTU-Fi_HAR")
    report = _tool("ntufi").convert(raw, tmp_path / "out", size=16)
    train, test = report.outputs
    assert (report.files_read, report.samples_written) == (18, 18)
    a, b = _check(train, 16, 3, {"label"}), _check(test, 16, 3, {"label"})
    assert len(a) == 12 and len(b) == 6 and a.meta["labels"]["label"]["num_classes"] == 6
    np.testing.assert_array_equal(a.meta["mean"], b.meta["mean"])  # test file carries training statistics
    with h5py.File(train) as f:
        np.testing.assert_allclose(f.attrs["mean"], f["inputs"][:].mean(axis=(0, 2, 3)), rtol=1e-5)
        np.testing.assert_array_equal(f["label"][:], np.repeat(np.arange(6), 2))


def test_commrad(tmp_path):
    raw = _make("commrad")(tmp_path / "raw")
    out = _out(_tool("commrad").convert(raw, tmp_path / "out", size=16))
    ds = _check(out, 16, 1, {"label"})
    assert len(ds) == 9 and ds.meta["labels"]["label"]["class_names"] == ["ble_1m", "lte", "wifi_ac"]
    with pytest.raises(ValueError, match="not in the class list"):
        _tool("commrad").convert(raw, tmp_path / "out", size=16, name="x", classes=["lte", "wifi_ac"])


def test_deepmimo(tmp_path):
    src = _make("deepmimo")(tmp_path / "raw")
    report = _tool("deepmimo").convert(src, tmp_path / "out", beams=64, size=16)
    out = _out(report)
    assert out.name == "deepmimo_O1_3p5_b64.h5"
    assert report.samples_written == 8 and dict(report.skipped) == {"user without any path (los = -1)": 4}
    ds = _check(out, 16, 2, {"beam", "los"})
    assert len(ds) == 8  # 4 users without a path dropped
    exp = np.load(src)["expected_beam64"][np.load(src)["los"] >= 0]
    with h5py.File(out) as f:
        np.testing.assert_array_equal(f["beam"][:], exp)
        np.testing.assert_array_equal(f["los"][:], [1, 0] * 4)
    assert ds.meta["labels"]["beam"]["num_classes"] == 64
    assert ds.meta["complex_pairs"] == [(0, 1)] and ds.complex_pairs == ((0, 1),)  # re, im of one channel
    out16 = _out(_tool("deepmimo").convert(src, tmp_path / "out", beams=16, size=16))
    assert read_attrs(out16)["labels"]["beam"]["num_classes"] == 16


def test_deepmimo_unsafe_scenario(tmp_path):
    rel = "tests/data/deepmimo/make.py"
    src = _load(rel, "mk").make(tmp_path / "raw", scenario="../../../etc/evil")
    with pytest.raises(ValueError, match="unsafe output name"):
        _tool("deepmimo").convert(src, tmp_path / "out", size=16)
    assert not list(tmp_path.rglob("*.h5"))


# --- layouts that differ between releases: where the label is -----------------------------------------------


def test_powder_label_from_a_json_key_path_a_file_name_or_the_folder(tmp_path):
    raw = _make("powder")(tmp_path / "raw")
    # a release that keeps the transmitter under a nested key and not under "transmitter"
    for meta_path in raw.rglob("*.json"):
        meta = json.loads(meta_path.read_text())
        meta["tx"] = {"id": meta.pop("transmitter")}
        meta_path.write_text(json.dumps(meta))
    tool = _tool("powder")
    with pytest.raises(ValueError, match=r"capture_0.json: no label at json:transmitter; choose .* --label"):
        tool.convert(raw, tmp_path / "out", size=16, nfft=32, frames=8)
    names = {}
    for spec in ("json:tx.id", "folder"):
        report = tool.convert(raw, tmp_path / "out", size=16, nfft=32, frames=8, name="p", label=spec)
        names[spec] = read_attrs(_out(report))["labels"]["label"]["class_names"]
    assert names["json:tx.id"] == names["folder"] == ["bs1", "bs2", "bs3"]
    # every capture is called capture_0.bin: the file name alone says nothing
    with pytest.raises(ValueError, match=r"every sample is labelled '0' \(labels from filename:capture_"):
        tool.convert(raw, tmp_path / "out", size=16, nfft=32, frames=8, label=r"filename:capture_(\d+)")
    for capture in list(raw.rglob("capture_0.bin")):  # a release that names captures after their transmitter
        capture.rename(capture.with_name(f"{capture.parent.name}_rec0.bin"))
        capture.with_suffix(".json").rename(capture.with_name(f"{capture.parent.name}_rec0.json"))
    report = tool.convert(raw, tmp_path / "out", size=16, nfft=32, frames=8, name="f", label=r"filename:^(bs\d)_")
    assert read_attrs(_out(report))["labels"]["label"]["class_names"] == ["bs1", "bs2", "bs3"]
    with pytest.raises(ValueError, match="label source 'nowhere:x'"):
        tool.convert(raw, tmp_path / "out", size=16, nfft=32, frames=8, label="nowhere:x")


def test_sigmf_label_from_another_annotation_field_and_skips_reported(tmp_path):
    raw = _make("sigmf")(tmp_path / "raw")
    # a release that writes the class into "core:description" of all but one annotation
    for mp in raw.glob("*.sigmf-meta"):
        meta = json.loads(mp.read_text())
        for a in meta["annotations"]:
            a["core:description"] = a.pop("core:label")
        if mp.name == "rec0.sigmf-meta":
            del meta["annotations"][1]["core:description"]
        mp.write_text(json.dumps(meta))
    report = _tool("sigmf").convert(raw, tmp_path / "out", size=16, nfft=32, frames=8,
                                    label="annotation:core:description")
    ds = H5Dataset(_out(report), size=16)
    assert ds.meta["labels"]["label"]["class_names"] == ["lte", "wifi"]
    assert report.samples_written == 8 and dict(report.skipped) == {
        "segment without a label at annotation:core:description": 1}
    assert "skipped 1: segment without a label" in str(report)


def test_installed_wfm_convert_runs_a_converter_on_its_fixture(tmp_path):
    """The converter as a pip-installed user runs it: the console script, outside the checkout."""
    import subprocess
    import sys

    raw = _make("powder")(tmp_path / "raw")
    exe = Path(sys.executable).parent / "wfm-convert"
    done = subprocess.run([str(exe), "powder", str(raw), str(tmp_path / "out"), "--size", "16", "--nfft", "32",
                           "--frames", "8"], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "read 3 file(s), wrote 9 sample(s)" in done.stdout
    assert len(H5Dataset(tmp_path / "out" / "powder.h5", size=16)) == 9
    bad = subprocess.run([str(exe), "powder", str(tmp_path / "nothing"), str(tmp_path / "out")],
                         capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and "nothing: no *.bin captures" in bad.stderr
    assert "Traceback" not in bad.stderr
