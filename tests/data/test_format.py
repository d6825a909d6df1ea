"""Transforms, the HDF5 format (round-trip, atomic writes, clear errors) and the deterministic split."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from wfm.data import transforms
from wfm.data.datasets import H5Dataset
from wfm.data.hdf5 import (
    FORMAT_VERSION,
    H5Writer,
    label_meta,
    read_attrs,
    safe_output_path,
    write_dataset_file,
    write_h5,
)
from wfm.data.split import train_test_split

META = label_meta(
    {"label": "classification", "position": "regression"}, {"label": ("a", "b", "c")}, {"position": "m"}
)


def _attrs(**kw):
    return {"source": "test", "modality": "spectrogram", "preprocessing": {"steps": []}, "labels": META, **kw}


def _data(n=10, c=2, h=8, w=6, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(3.0, 2.0, (n, c, h, w)).astype(np.float32)
    return x, {"label": rng.integers(0, 3, n), "position": rng.normal(size=(n, 3))}


def _no_leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir()]


# --- transforms -------------------------------------------------------------------------------------


def test_to_db_numpy_and_torch():
    p = np.array([1.0, 10.0, 100.0, 0.0])
    db = transforms.to_db(p, eps=1e-10)
    np.testing.assert_allclose(db[:3], [0.0, 10.0, 20.0], atol=1e-5)
    assert db[3] == pytest.approx(-100.0)
    assert db.dtype == np.float32
    assert torch.allclose(transforms.to_db(torch.tensor([100.0])), torch.tensor([20.0]))


def test_resize_shapes_and_constant():
    x = np.full((3, 2, 20, 30), 5.0, dtype=np.float32)
    y = transforms.resize(x, (8, 12))
    assert y.shape == (3, 2, 8, 12) and y.dtype == np.float32
    np.testing.assert_allclose(y, 5.0, atol=1e-4)  # bicubic + antialias keeps constants
    assert transforms.resize(torch.ones(4, 5), 7).shape == (7, 7)
    same = np.random.default_rng(0).normal(size=(2, 4, 4)).astype(np.float32)
    np.testing.assert_array_equal(transforms.resize(same, 4), same)


def test_resize_channels_independent():
    x = np.zeros((2, 16, 16), np.float32)
    x[1] = 1.0
    y = transforms.resize(x, 8)
    np.testing.assert_allclose(y[0], 0.0, atol=1e-6)
    np.testing.assert_allclose(y[1], 1.0, atol=1e-5)


def test_channel_stats_streaming_matches_numpy():
    x, _ = _data(n=37, c=3)
    x[:, 1] += 1000.0  # large offset: naive sum of squares would lose precision
    mean, std = transforms.channel_stats(x, chunk=5)
    np.testing.assert_allclose(mean, x.mean(axis=(0, 2, 3)), rtol=1e-6)
    np.testing.assert_allclose(std, x.std(axis=(0, 2, 3)), rtol=1e-5)
    z = transforms.standardise(x, mean, std)
    np.testing.assert_allclose(z.mean(axis=(0, 2, 3)), 0.0, atol=1e-4)
    np.testing.assert_allclose(z.std(axis=(0, 2, 3)), 1.0, atol=1e-4)


# --- split ------------------------------------------------------------------------------------------


def test_split_deterministic():
    a_tr, a_te = train_test_split(100, seed=1)
    b_tr, b_te = train_test_split(100, seed=1)
    c_tr, _ = train_test_split(100, seed=2)
    np.testing.assert_array_equal(a_tr, b_tr)
    np.testing.assert_array_equal(a_te, b_te)
    assert not np.array_equal(a_tr, c_tr)
    assert len(a_tr) == 80 and len(a_te) == 20
    assert np.all(np.diff(a_tr) > 0) and np.all(np.diff(a_te) > 0)
    assert set(a_tr).isdisjoint(a_te) and set(a_tr) | set(a_te) == set(range(100))
    with pytest.raises(ValueError):
        train_test_split(1, 0)


# --- HDF5 -------------------------------------------------------------------------------------------


def test_roundtrip_attrs(tmp_path):
    x, y = _data()
    path = write_h5(tmp_path / "d.h5", x, y, _attrs(note="hello"))
    meta = read_attrs(path)
    assert meta["n"] == 10 and meta["shape"] == (2, 8, 6)
    np.testing.assert_allclose(meta["mean"], x.mean(axis=(0, 2, 3)), rtol=1e-5)
    np.testing.assert_allclose(meta["std"], x.std(axis=(0, 2, 3)), rtol=1e-5)
    assert meta["labels"]["label"] == {
        "kind": "classification",
        "num_classes": 3,
        "class_names": ["a", "b", "c"],
        "units": None,
    }
    assert meta["labels"]["position"]["units"] == "m"
    assert meta["modality"] == "spectrogram" and meta["source"] == "test" and meta["format_version"] == FORMAT_VERSION
    assert meta["attrs"]["note"] == "hello"
    with h5py.File(path) as f:
        np.testing.assert_array_equal(f["inputs"][:], x)
        np.testing.assert_array_equal(f["label"][:], y["label"])
        assert f["label"].dtype == np.int64 and f["position"].dtype == np.float32
    assert _no_leftovers(tmp_path) == ["d.h5"]


def test_test_split_carries_given_stats(tmp_path):
    x, y = _data()
    path = write_h5(tmp_path / "test.h5", x, y, _attrs(mean=np.array([1.0, 2.0]), std=np.array([3.0, 4.0])))
    meta = read_attrs(path)
    np.testing.assert_array_equal(meta["mean"], [1.0, 2.0])
    np.testing.assert_array_equal(meta["std"], [3.0, 4.0])


def test_chunked_writer_streams_train_stats(tmp_path):
    x, y = _data(n=20)
    rows = np.arange(20) % 4 != 0
    with H5Writer(tmp_path / "c.h5", (2, 8, 6), META, "t", "csi", {}) as w:
        for s in range(0, 20, 7):
            w.append(x[s : s + 7], {k: v[s : s + 7] for k, v in y.items()}, stats_rows=rows[s : s + 7])
    meta = read_attrs(tmp_path / "c.h5")
    assert meta["n"] == 20
    np.testing.assert_allclose(meta["mean"], x[rows].mean(axis=(0, 2, 3)), rtol=1e-5)


def test_write_dataset_file_uses_train_split(tmp_path):
    x, y = _data(n=30)
    path = write_dataset_file(tmp_path, "ds", x, y, META, "t", "csi", {})
    tr, _ = train_test_split(30, 0)
    np.testing.assert_allclose(read_attrs(path)["mean"], x[tr].mean(axis=(0, 2, 3)), rtol=1e-5)
    assert json.loads(read_attrs(path)["attrs"]["stats_split"]) == {"seed": 0, "train_frac": 0.8}


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda x, y: (x[:, 0], y), "shape"),
        (lambda x, y: (x[:0], {k: v[:0] for k, v in y.items()}), "empty"),
        (lambda x, y: (np.where(np.arange(10)[:, None, None, None] == 7, np.nan, x), y), "sample 7 has NaN"),
        (
            lambda x, y: (np.where(np.arange(10)[:, None, None, None] == 3, np.inf, x), y),
            "sample 3 has NaN/Inf",
        ),
        (lambda x, y: (x, {**y, "label": np.where(np.arange(10) == 4, 3, y["label"])}), "sample 4 has label"),
        (
            lambda x, y: (x, {**y, "label": np.where(np.arange(10) == 2, -1, y["label"])}),
            "sample 2 has label",
        ),
        (lambda x, y: (x, {"label": y["label"]}), "label keys"),
    ],
)
def test_write_errors_leave_nothing(tmp_path, mutate, match):
    x, y = _data()
    x, y = mutate(x, y)
    with pytest.raises(ValueError, match=match) as e:
        write_h5(tmp_path / "bad.h5", x, y, _attrs(), chunk=3)  # the error is met mid-way for late samples
    assert "bad.h5" in str(e.value)
    assert _no_leftovers(tmp_path) == []


def test_failed_write_keeps_previous_file(tmp_path):
    x, y = _data()
    path = write_h5(tmp_path / "d.h5", x, y, _attrs())
    before = path.read_bytes()
    x[9] = np.nan
    with pytest.raises(ValueError, match="sample 9"):
        write_h5(path, x, y, _attrs(), chunk=4)
    assert path.read_bytes() == before and _no_leftovers(tmp_path) == ["d.h5"]


def test_exception_inside_writer_block_cleans_up(tmp_path):
    x, y = _data()
    with pytest.raises(RuntimeError):
        with H5Writer(tmp_path / "w.h5", (2, 8, 6), META, "t", "csi", {}) as w:
            w.append(x[:5], {k: v[:5] for k, v in y.items()})
            raise RuntimeError("interrupted")
    assert _no_leftovers(tmp_path) == []


def test_read_attrs_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.h5"):
        read_attrs(tmp_path / "missing.h5")
    (tmp_path / "text.h5").write_text("not hdf5")
    with pytest.raises(ValueError, match="text.h5.*not a readable HDF5"):
        read_attrs(tmp_path / "text.h5")
    x, y = _data()
    good = write_h5(tmp_path / "good.h5", x, y, _attrs())
    data = good.read_bytes()
    (tmp_path / "trunc.h5").write_bytes(data[: len(data) // 3])
    with pytest.raises(ValueError, match="trunc.h5"):
        read_attrs(tmp_path / "trunc.h5")
    with h5py.File(tmp_path / "nostats.h5", "w") as f:
        f["inputs"] = x
        f.attrs["modality"] = "csi"
    with pytest.raises(ValueError, match=r"nostats.h5: missing attribute.*mean"):
        read_attrs(tmp_path / "nostats.h5")
    with h5py.File(tmp_path / "ndim.h5", "w") as f:
        f["inputs"] = x[:, 0]
    with pytest.raises(ValueError, match="ndim.h5.*4 dimensions"):
        read_attrs(tmp_path / "ndim.h5")
    with h5py.File(tmp_path / "empty.h5", "w") as f:
        f.create_dataset("inputs", shape=(0, 2, 8, 6), dtype="f4")
    with pytest.raises(ValueError, match="empty.h5: empty"):
        read_attrs(tmp_path / "empty.h5")
    with h5py.File(good, "a") as f:
        f.attrs["std"] = np.ones(3, np.float32)
    with pytest.raises(ValueError, match="good.h5: mean/std.*expected 2"):
        read_attrs(good)


@pytest.mark.parametrize("name", ["../evil", "/abs", "a/b", "..", "", ".hidden", "a\\b"])
def test_safe_output_path_rejects(tmp_path, name):
    with pytest.raises(ValueError, match="unsafe output name"):
        safe_output_path(tmp_path, name)


def test_safe_output_path_ok(tmp_path):
    assert safe_output_path(tmp_path, "rf_2024-v1") == (tmp_path / "rf_2024-v1.h5").resolve()


# --- IQ files (format version 2) ------------------------------------------------------------------


def _iq(n=12, a=3, t=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, a, 2, t)).astype(np.float32)
    x[:, :, 0] = 2.0 + 3.0 * x[:, :, 0]  # I: mean 2, std 3
    x[:, :, 1] = -1.0 + 0.5 * x[:, :, 1]  # Q: mean -1, std 0.5
    return x, {"label": rng.integers(0, 3, n)}


def test_iq_file_has_per_component_stats_and_standardises_every_antenna(tmp_path):
    x, y = _iq()
    meta_labels = label_meta({"label": "classification"}, {"label": ("a", "b", "c")})
    path = write_h5(tmp_path / "iq.h5", x, y, {**_attrs(), "modality": "iq", "labels": meta_labels})
    meta = read_attrs(path)
    assert meta["modality"] == "iq" and meta["shape"] == (3, 2, 64) and meta["format_version"] == FORMAT_VERSION
    np.testing.assert_allclose(meta["mean"], x.mean(axis=(0, 1, 3)), rtol=1e-5)
    np.testing.assert_allclose(meta["std"], x.std(axis=(0, 1, 3)), rtol=1e-5)
    ds = H5Dataset(path, size=64)
    assert ds.num_channels == 3
    z = np.stack([ds[i]["x"].numpy() for i in range(len(ds))])
    np.testing.assert_allclose(z.mean(axis=(0, 1, 3)), [0.0, 0.0], atol=1e-5)
    np.testing.assert_allclose(z.std(axis=(0, 1, 3)), [1.0, 1.0], atol=1e-4)
    with pytest.raises(ValueError, match=r"samples are \(2, 64\), expected \(2, 128\)"):
        H5Dataset(path, size=128)


def test_iq_files_refuse_a_wrong_layout(tmp_path):
    x, y = _iq()
    meta_labels = label_meta({"label": "classification"}, {"label": ("a", "b", "c")})
    with pytest.raises(ValueError, match=r"iq samples must be \(antennas, 2, T\)"):
        write_h5(tmp_path / "bad.h5", x.reshape(12, 6, 1, 64), y, {**_attrs(), "modality": "iq", "labels": meta_labels})
    assert _no_leftovers(tmp_path) == []


def test_version_1_files_still_read(tmp_path):
    x, y = _data()
    path = write_h5(tmp_path / "old.h5", x, y, _attrs())
    with h5py.File(path, "r+") as f:
        f.attrs["format_version"] = 1
    meta = read_attrs(path)
    assert meta["format_version"] == 1 and meta["shape"] == (2, 8, 6)
    assert H5Dataset(path)[0]["x"].shape == (2, 8, 6)
