"""Accuracy per SNR bin: a classification task whose file names a ``stratify`` label gets its probe's accuracy
reported per bin of that label (as signal-classification papers plot it), from the table's own splits."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from wfm.data.hdf5 import label_meta, read_attrs, write_dataset_file
from wfm.data.split import train_test_split
from wfm.data.task import TaskInfo
from wfm.eval.analyses import accuracy_by_stratum, strata_bins
from wfm.eval.report import probe_report, publish

TASK = TaskInfo("mod", "label", "classification", num_classes=2, class_names=("a", "b"), stratify="snr_db")


def _split(seed: int):
    return train_test_split(400, seed, 0.8)


def _data(seed: int = 0):
    """Features that carry the label only at SNR >= 10 dB (pure noise below)."""
    rng = np.random.default_rng(seed)
    y = np.arange(400) % 2
    snr = rng.uniform(-10.0, 30.0, 400).astype(np.float32)
    clean = snr >= 10
    f = rng.normal(0.0, 1.0, (400, 4))
    f[clean, 0] = 4.0 * (2 * y[clean] - 1)
    return f, {"label": y, "snr_db": snr[:, None]}


def test_bins_are_one_per_value_when_discrete_and_five_db_wide_when_continuous():
    bins, names = strata_bins(np.array([[-20], [18], [-20], [0]], np.float32))
    assert names == ["-20", "0", "18"] and bins.tolist() == [0, 2, 0, 1]
    v = np.linspace(-10, 29.9, 100)
    bins, names = strata_bins(v)
    assert names == ["-10..-5", "-5..0", "0..5", "5..10", "10..15", "15..20", "20..25", "25..30"]
    assert bins[0] == 0 and bins[-1] == 7 and np.all(np.diff(bins) >= 0)


def test_accuracy_per_bin_is_perfect_where_the_features_carry_the_label_and_chance_below():
    f, labels = _data()
    rows = accuracy_by_stratum(f, labels, TASK, _split, seeds=(0, 1, 2))
    by = {r.metric: r for r in rows}
    assert list(by) == [f"acc@{b}" for b in ("-10..-5", "-5..0", "0..5", "5..10", "10..15", "15..20", "20..25",
                                               "25..30")]
    for b in ("10..15", "15..20", "20..25", "25..30"):
        assert by[f"acc@{b}"].mean == 100.0 and len(by[f"acc@{b}"].values) == 3
    assert all(by[f"acc@{b}"].mean < 80.0 for b in ("-10..-5", "-5..0", "0..5", "5..10"))
    # plain accuracy of the test samples of the bin, per split seed
    test = _split(0)[1]
    low = test[(labels["snr_db"][test, 0] >= 10)]
    assert by["acc@10..15"].values[0] == 100.0 and low.size > 0


def test_a_task_without_a_stratify_label_is_refused():
    f, labels = _data()
    plain = TaskInfo("mod", "label", "classification", num_classes=2)
    with pytest.raises(ValueError, match="stratify"):
        accuracy_by_stratum(f, labels, plain, _split)
    with pytest.raises(KeyError, match="snr_db"):
        accuracy_by_stratum(f, {"label": labels["label"]}, TASK, _split)


class _Task:
    def __init__(self, task: TaskInfo) -> None:
        self.task = task

    def split_indices(self, seed: int):
        return _split(seed)


def test_the_report_bins_stratified_tasks_and_publish_writes_one_row_per_bin(tmp_path):
    f, labels = _data()
    plain = TaskInfo("other", "label", "classification", num_classes=2)
    per_task = [(_Task(TASK), {"enc": f, "random-init": f[:, ::-1].copy()}, labels),
                (_Task(plain), {"enc": f, "random-init": f}, labels)]
    report = probe_report(per_task, seeds=(0, 1), analyses=False)
    assert set(report.strata) == {"mod"} and set(report.strata["mod"]) == {"enc", "random-init"}
    publish(report, tmp_path, "t")
    md = (tmp_path / "probe_mod_by_snr_db.md").read_text(encoding="utf-8").splitlines()
    assert md[0] == "| snr_db | enc acc (%) ↑ | random-init acc (%) ↑ |"
    assert len(md) == 2 + 8 and md[-1].startswith("| 25..30 | 100.0 ± 0.0 |")
    assert "mod/acc@25..30" in (tmp_path / "probe_mod_by_snr_db.csv").read_text(encoding="utf-8")
    assert not (tmp_path / "probe_other_by_snr_db.md").exists()


def test_stratify_is_recorded_checked_and_read_back(tmp_path):
    meta = label_meta({"label": "classification", "snr_db": "regression"}, {"label": ["a", "b"]},
                      units={"snr_db": "dB"}, stratify={"label": "snr_db"})
    assert meta["label"]["stratify"] == "snr_db" and "stratify" not in meta["snr_db"]
    with pytest.raises(ValueError, match="stratify 'label' by 'snr'"):
        label_meta({"label": "classification"}, {"label": ["a", "b"]}, stratify={"label": "snr"})
    x = np.random.default_rng(0).normal(size=(10, 1, 4, 4)).astype(np.float32)
    labels = {"label": np.arange(10) % 2, "snr_db": np.zeros((10, 1), np.float32)}
    path = write_dataset_file(tmp_path, "m", x, labels, meta, source="test", modality="spectrogram",
                              preprocessing={})
    info = read_attrs(path)["labels"]
    assert TaskInfo.from_labels("m", "label", info["label"]).stratify == "snr_db"
    with h5py.File(path, "r+") as fh:  # a file that names a stratify label it lacks is refused, naming both
        bad = dict(info)
        bad["label"] = {**bad["label"], "stratify": "rssi"}
        fh.attrs["labels"] = json.dumps(bad)
    with pytest.raises(ValueError, match="stratified by 'rssi'"):
        read_attrs(path)


def test_a_file_with_a_label_and_its_snr_needs_no_target(tmp_path):
    from wfm.data.datamodules import DownstreamDataModule

    meta = label_meta({"label": "classification", "snr_db": "regression"}, {"label": ["a", "b"]},
                      units={"snr_db": "dB"}, stratify={"label": "snr_db"})
    x = np.random.default_rng(0).normal(size=(20, 1, 8, 8)).astype(np.float32)
    labels = {"label": np.arange(20) % 2, "snr_db": np.arange(20, dtype=np.float32)[:, None]}
    path = write_dataset_file(tmp_path, "m", x, labels, meta, source="test", modality="spectrogram",
                              preprocessing={})
    dm = DownstreamDataModule(dataset=str(path), size=8, batch_size=8)
    dm.setup()
    assert dm.task.target == "label" and dm.task.stratify == "snr_db"
    batch = next(iter(dm.probe_dataloader()))
    assert batch["snr_db"].shape == (8, 1)  # the target brings its stratum along
