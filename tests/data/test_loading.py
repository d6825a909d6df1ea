"""H5Dataset, the built-in cache, the channel-grouped batch sampler and the DataModules."""

from __future__ import annotations

import pickle
import threading
from types import SimpleNamespace

import h5py
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from wfm.data.collate import pad_collate
from wfm.data.datamodules import ChannelGroupedBatchSampler, DownstreamDataModule, PretrainDataModule
from wfm.data.datasets import BuiltinDataset, H5Dataset
from wfm.data.hdf5 import label_meta, write_h5

SIZE = (8, 8)


def _fake_generate(name, start, stop, seed=0, **options):
    """Deterministic per-sample data so chunking cannot change the result."""
    spec = _FAKE[name]
    idx = np.arange(start, stop)
    rng = [np.random.default_rng((seed, int(i))) for i in idx]
    raw = np.stack([r.random((spec.channels, *spec.raw_shape)) for r in rng]).astype(np.float32)
    labels = {}
    for key, kind in spec.labels.items():
        if kind == "classification":
            labels[key] = idx % len(spec.class_names[key])
        else:
            labels[key] = np.stack([np.full(3, float(i)) for i in idx])
    return raw, labels


def _spec(name, channels, labels=None, class_names=None, power=True):
    return SimpleNamespace(
        name=name,
        modality="spectrogram" if channels == 1 else "csi",
        channels=channels,
        raw_shape=(12, 10),
        power=power,
        labels=labels or {},
        class_names=class_names or {},
        units={"position": "m"} if labels and "position" in labels else {},
        description="fake",
    )


_FAKE = {
    "spectrogram": _spec("spectrogram", 1),
    "csi": _spec("csi", 3, power=False),
    "csi2": _spec("csi2", 2, power=False),
    "rfs": _spec("rfs", 1, {"label": "classification"}, {"label": ("a", "b", "c", "d")}),
    "positioning": _spec("positioning", 4, {"position": "regression"}, power=False),
}


@pytest.fixture
def fake_synthetic(monkeypatch, tmp_path):
    """The synthetic API replaced by a tiny fake, and an empty cache folder."""
    import wfm.data.synthetic as synthetic

    monkeypatch.setattr(synthetic, "BUILTIN", _FAKE, raising=False)
    monkeypatch.setattr(synthetic, "generate", _fake_generate, raising=False)
    monkeypatch.setattr(synthetic, "describe", lambda name, **options: _FAKE[name], raising=False)
    monkeypatch.setenv("WFM_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _file(tmp_path, n=12, c=2, name="d.h5"):
    rng = np.random.default_rng(0)
    x = rng.normal(5.0, 2.0, (n, c, *SIZE)).astype(np.float32)
    y = {"label": rng.integers(0, 3, n), "position": rng.normal(size=(n, 3))}
    meta = label_meta(
        {"label": "classification", "position": "regression"}, {"label": ("a", "b", "c")}, {"position": "m"}
    )
    attrs = {"source": "t", "modality": "csi", "preprocessing": {}, "labels": meta}
    return write_h5(tmp_path / name, x, y, attrs), x, y


# --- H5Dataset --------------------------------------------------------------------------------------


def test_h5dataset_sample_contract(tmp_path):
    path, x, y = _file(tmp_path)
    ds = H5Dataset(path)
    s = ds[3]
    assert set(s) == {"x", "channels", "modality", "label", "position"} and s["modality"] == "csi"
    assert s["x"].dtype == torch.float32 and s["x"].shape == (2, *SIZE) and s["channels"] == 2
    assert s["label"].dtype == torch.int64 and s["label"].ndim == 0 and int(s["label"]) == y["label"][3]
    assert s["position"].dtype == torch.float32 and s["position"].shape == (3,)
    m, sd = x.mean(axis=(0, 2, 3)), x.std(axis=(0, 2, 3))
    np.testing.assert_allclose(
        s["x"].numpy(), (x[3] - m[:, None, None]) / sd[:, None, None], rtol=1e-4, atol=1e-5
    )
    assert set(H5Dataset(path, target="label")[0]) == {"x", "channels", "modality", "label"}
    assert H5Dataset(path, channels=[1])[0]["x"].shape == (1, *SIZE)
    assert set(H5Dataset(path, labels=False)[0]) == {"x", "channels", "modality"}


def test_h5dataset_pickles_into_workers(tmp_path):
    path, _, _ = _file(tmp_path)
    ds = H5Dataset(path)
    _ = ds[0]  # open a handle; pickling must drop it
    clone = pickle.loads(pickle.dumps(ds))
    assert torch.equal(clone[5]["x"], ds[5]["x"])
    batches = list(DataLoader(ds, batch_size=4, num_workers=2, collate_fn=pad_collate))
    assert sum(b["x"].shape[0] for b in batches) == 12


def test_h5dataset_open_errors(tmp_path):
    path, _, _ = _file(tmp_path)
    with pytest.raises(ValueError, match=r"d.h5: samples are \(8, 8\), expected \(16, 16\)"):
        H5Dataset(path, size=16)
    with pytest.raises(ValueError, match="no label 'beam'"):
        H5Dataset(path, target="beam")
    with pytest.raises(FileNotFoundError):
        H5Dataset(tmp_path / "nope.h5")


def test_h5dataset_bad_sample_errors(tmp_path):
    path, _, _ = _file(tmp_path)
    # Corrupt the file after writing (the writer itself refuses such data).
    with h5py.File(path, "a") as f:
        f["inputs"][5, 0, 0, 0] = np.nan
        f["label"][7] = 9
    ds = H5Dataset(path)
    _ = ds[4]
    with pytest.raises(ValueError, match="d.h5: sample 5 has NaN/Inf"):
        ds[5]
    with pytest.raises(ValueError, match=r"d.h5: sample 7 has label label=9, expected an integer in \[0, 3\)"):
        ds[7]


# --- built-in cache ---------------------------------------------------------------------------------


def test_builtin_builds_once_and_reuses(fake_synthetic):
    from wfm.data.synthetic import GENERATOR_VERSION

    ds = BuiltinDataset("rfs", n=10, seed=1, size=SIZE)
    # the generator version is in the name: a cache written by an older generator is never read
    path = fake_synthetic / f"rfs-n10-s1-8x8-g{GENERATOR_VERSION}.h5"
    assert ds.path == path and path.exists()
    assert ds.meta["labels"]["label"]["num_classes"] == 4
    assert ds.meta["preprocessing"]["steps"][1]["step"] == "to_db"
    mtime = path.stat().st_mtime_ns
    again = BuiltinDataset("rfs", n=10, seed=1, size=SIZE)
    assert path.stat().st_mtime_ns == mtime and torch.equal(again[3]["x"], ds[3]["x"])
    assert sorted(p.name for p in fake_synthetic.iterdir()) == [path.name, path.name + ".lock"]
    # non-default generator options are a different file
    other = BuiltinDataset("rfs", n=10, seed=1, size=SIZE, options={"snr_db": (0.0, 5.0)})
    assert other.path != path and other.path.name.startswith(path.stem + "-o")


def test_builtin_chunking_does_not_change_data(fake_synthetic, tmp_path):
    from wfm.data.datasets.builtin import build_builtin

    a = build_builtin("positioning", 9, 0, SIZE, tmp_path / "a", chunk=2)
    b = build_builtin("positioning", 9, 0, SIZE, tmp_path / "b", chunk=100)
    with h5py.File(a) as fa, h5py.File(b) as fb:
        np.testing.assert_array_equal(fa["inputs"][:], fb["inputs"][:])
        np.testing.assert_allclose(fa.attrs["mean"], fb.attrs["mean"], rtol=1e-6)


def test_builtin_concurrent_builders(fake_synthetic):
    paths, errors = [], []

    def build():
        try:
            paths.append(BuiltinDataset("csi", n=8, size=SIZE).path)
        except Exception as e:  # noqa: BLE001 - surfaced below
            errors.append(e)

    threads = [threading.Thread(target=build) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(set(paths)) == 1
    assert not [p for p in fake_synthetic.iterdir() if ".tmp" in p.name]


# --- grouped batch sampler --------------------------------------------------------------------------


def _counts():
    return [1] * 13 + [3] * 9 + [2] * 10


def test_grouped_sampler_one_count_per_batch_and_each_sample_once():
    counts = _counts()
    s = ChannelGroupedBatchSampler(counts, batch_size=4, seed=0)
    batches = list(s)
    assert all(len({counts[i] for i in b}) == 1 for b in batches)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(len(counts))) and len(batches) == len(s)
    s.set_epoch(1)
    assert list(s) != batches  # new order next epoch ...
    s.set_epoch(0)
    assert list(s) == batches  # ... and a pure function of (seed, epoch)


def test_grouped_sampler_disjoint_ranks():
    counts = _counts()  # 4 + 3 + 3 = 10 batches of <= 4: divisible by 2 ranks
    shards = [list(ChannelGroupedBatchSampler(counts, 4, seed=3, rank=r, world_size=2)) for r in range(2)]
    assert len(shards[0]) == len(shards[1]) == 5
    flat = [[i for b in sh for i in b] for sh in shards]
    assert set(flat[0]).isdisjoint(flat[1])
    assert sorted(flat[0] + flat[1]) == list(range(len(counts)))
    # 3 ranks: 10 batches -> 9 used, still disjoint and equal length per rank
    shards3 = [list(ChannelGroupedBatchSampler(counts, 4, rank=r, world_size=3)) for r in range(3)]
    assert {len(s) for s in shards3} == {3}
    all3 = [i for sh in shards3 for b in sh for i in b]
    assert len(all3) == len(set(all3))


# --- DataModules ------------------------------------------------------------------------------------


@pytest.mark.parametrize("group", [True, False])
def test_pretrain_mix(fake_synthetic, tmp_path, group):
    path, _, _ = _file(tmp_path, n=10, c=2, name="extra.h5")
    # a padded batch holds one modality (collate refuses a mix): without grouping, a mix of CSI sets only
    dm = PretrainDataModule(
        ["spectrogram" if group else "csi2", "csi", str(path)],
        n=16,
        size=8,
        batch_size=5,
        seed=0,
        val_fraction=0.25,
        group_by_channels=group,
    )
    dm.prepare_data()
    dm.setup("fit")
    seen = 0
    for b in dm.train_dataloader():
        assert set(b) == {"x", "channels", "modality"}
        if group:
            assert len(set(b["channels"].tolist())) == 1 and b["x"].shape[1] == int(b["channels"][0])
        else:
            assert b["x"].shape[1] == int(b["channels"].max())
            for xb, c in zip(b["x"], b["channels"], strict=True):
                assert torch.all(xb[int(c) :] == 0)  # padding slots are zero
        seen += b["x"].shape[0]
    assert seen == 12 + 12 + 8  # 75 % of 16, 16, 10
    assert sum(b["x"].shape[0] for b in dm.val_dataloader()) == 4 + 4 + 2


def test_downstream_task_split_and_loaders(fake_synthetic):
    dm = DownstreamDataModule("rfs", n=20, size=8, batch_size=8, split_seed=1)
    dm.setup("fit")
    t = dm.task
    assert (t.name, t.target, t.kind, t.num_classes, t.class_names) == (
        "rfs",
        "label",
        "classification",
        4,
        ("a", "b", "c", "d"),
    )
    tr, te = dm.split_indices(1)
    assert len(tr) == 16 and len(te) == 4
    np.testing.assert_array_equal(tr, dm.split_indices(1)[0])
    assert sum(len(b["label"]) for b in dm.train_dataloader()) == 16
    assert sum(len(b["label"]) for b in dm.val_dataloader()) == 4
    assert sum(len(b["label"]) for b in dm.test_dataloader()) == 4
    probe = [b["label"] for b in dm.probe_dataloader()]
    np.testing.assert_array_equal(torch.cat(probe).numpy(), np.arange(20) % 4)  # all samples, file order


def test_downstream_regression_and_file(fake_synthetic, tmp_path):
    dm = DownstreamDataModule("positioning", n=10, size=8)
    assert dm.task.kind == "regression" and dm.task.units == "m" and dm.task.target == "position"
    path, _, _ = _file(tmp_path)
    with pytest.raises(ValueError, match="choose one with target"):
        _ = DownstreamDataModule(str(path), size=8).task
    dm2 = DownstreamDataModule(str(path), target="label", size=8)
    assert dm2.task.name == "d" and dm2.task.num_classes == 3
    with pytest.raises(FileNotFoundError, match="nope.h5"):
        _ = DownstreamDataModule(str(tmp_path / "nope.h5"), size=8).task


# --- the real synthetic generator (tiny) ------------------------------------------------------------


def test_real_builtins_through_datamodules(tmp_path):
    pytest.importorskip("wfm.data.synthetic").BUILTIN  # noqa: B018 - skip until the generator exists
    dm = PretrainDataModule(n=8, size=16, batch_size=4, val_fraction=0.25, cache_dir=str(tmp_path))
    dm.prepare_data()
    dm.setup("fit")
    batches = list(dm.train_dataloader())
    # the default mix: spectrogram, csi, csi2, csi_ri, csi2_ri, 6 training samples each
    assert sum(b["x"].shape[0] for b in batches) == 30
    assert sorted({int(c) for b in batches for c in b["channels"]}) == [1, 2, 4, 5]
    assert all(len(set(b["channels"].tolist())) == 1 for b in batches)
    for name, target, kind in (("rfs", "label", "classification"), ("positioning", "position", "regression"),
                               ("beam", "beam", "classification"), ("los", "los", "classification")):
        ds = DownstreamDataModule(name, n=10, size=16, batch_size=5, cache_dir=str(tmp_path))
        assert (ds.task.target, ds.task.kind) == (target, kind)
        assert sum(len(b[target]) for b in ds.probe_dataloader()) == 10


def test_supervised_reference_only_at_the_calibrated_options(tmp_path):
    """The recorded supervised reference (the ``gap closed`` column's 100 %) was measured at a task's default
    options; a harder variant (more beams, lower SNR) must not be scored against it."""
    from wfm.data.synthetic import describe

    assert describe("beam").supervised == {"beam": 82.5}
    assert describe("beam", n_beams=16, snr_db=20).supervised == {"beam": 82.5}  # the defaults, spelled out
    assert describe("beam", n_beams=32).supervised == {} and describe("los", snr_db=-15.0).supervised == {}
    assert describe("los", scene={"penetration_db": 6.0}).supervised == {"los": 90.8}
    default = DownstreamDataModule("beam", n=10, size=16, batch_size=5, cache_dir=str(tmp_path))
    harder = DownstreamDataModule("beam", n=10, size=16, batch_size=5, cache_dir=str(tmp_path),
                                  options={"n_beams": 32})
    assert default.task.supervised == 82.5 and harder.task.supervised is None
