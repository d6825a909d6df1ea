"""The built-in dataset/task registry and the data-modality registry: a toy task and a toy modality are added
through the registries alone, and every sample and batch says which modality it holds."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pytest
import torch
import toy_task

import wfm.data.modalities as modalities
import wfm.data.synthetic as synthetic
from wfm.data.collate import pad_collate
from wfm.data.datamodules import DownstreamDataModule
from wfm.data.datasets import H5Dataset, open_dataset
from wfm.data.hdf5 import label_meta, write_h5
from wfm.data.modalities.grid import GridModality
from wfm.data.task import TaskInfo


@pytest.fixture
def registry(monkeypatch):
    """The built-in registry, restored after the test (a test may register its own sets)."""
    monkeypatch.setattr(synthetic, "BUILTIN", dict(synthetic.BUILTIN))
    return synthetic


def test_the_builtin_tasks_and_datasets_in_registry_order() -> None:
    assert synthetic.builtin_tasks() == ("rfs", "positioning", "beam", "los", "sionna_uma_los", "sionna_uma_position",
                                         "sionna_uma_beam", "rffp", "interference", "modulation", "modulation_iq",
                                         "signal_family")
    assert synthetic.builtin_datasets() == tuple(synthetic.BUILTIN)
    assert {"spectrogram", "csi", "csi2", "csi_ri", "csi2_ri", "iq1", "iq2", "iq4"} <= set(synthetic.builtin_datasets())
    for name in synthetic.builtin_tasks():
        spec = synthetic.BUILTIN[name]
        assert spec.downstream and spec.labels and spec.modality in modalities.MODALITIES


def test_a_toy_task_through_the_registry_alone(registry, tmp_path) -> None:
    registry.register(toy_task.SPEC)
    assert registry.builtin_tasks()[-1] == "tone"
    x, labels = registry.generate("tone", 2, 8, seed=1)
    assert x.shape == (6, 1, 16, 16) and x.dtype == np.float32
    np.testing.assert_array_equal(labels["tone"], np.arange(2, 8) % 3)
    assert registry.describe("tone", n=8).raw_shape == (8, 8)
    with pytest.raises(ValueError, match="unknown option"):
        registry.generate("tone", 0, 1, n_beams=3)

    dm = DownstreamDataModule("tone", n=20, size=8, batch_size=5, cache_dir=str(tmp_path))
    assert dm.task == TaskInfo("tone", "tone", "classification", num_classes=3, class_names=toy_task.CLASS_NAMES)
    batch = next(iter(dm.probe_dataloader()))
    assert batch["modality"] == "spectrogram" and batch["x"].shape == (5, 1, 8, 8)
    assert batch["tone"].tolist() == [0, 1, 2, 0, 1]
    ds = open_dataset("tone", 20, 8, cache_dir=str(tmp_path))
    assert len(ds) == 20 and ds.meta["labels"]["tone"]["class_names"] == list(toy_task.CLASS_NAMES)
    assert ds.meta["attrs"]["description"] == toy_task.SPEC.description


def test_register_refuses_what_cannot_be_built(registry) -> None:
    with pytest.raises(ValueError, match="already registered"):
        registry.register(toy_task.SPEC.__class__(**{**toy_task.SPEC.__dict__, "name": "rfs"}))
    bad = dict(toy_task.SPEC.__dict__)
    with pytest.raises(ValueError, match="unknown data modality 'radar'"):
        registry.register(synthetic.SyntheticSpec(**{**bad, "modality": "radar"}))
    with pytest.raises(ValueError, match="needs >= 2 class names"):
        registry.register(synthetic.SyntheticSpec(**{**bad, "class_names": {}}))
    with pytest.raises(ValueError, match="needs at least one label"):
        registry.register(synthetic.SyntheticSpec(**{**bad, "labels": {}, "class_names": {}}))


def test_the_modality_registry_answers_for_every_file_modality() -> None:
    assert modalities.modality_names() == ("spectrogram", "csi", "iq")
    iq, csi = modalities.get_modality("iq"), modalities.get_modality("csi")
    assert (iq.num_stats(4), csi.num_stats(4)) == (2, 4)
    assert (iq.sample_hw(64), csi.sample_hw(64), csi.sample_hw((8, 16))) == ((2, 64), (64, 64), (8, 16))
    assert iq.generator_options(64) == {"n_samples": 64} and csi.generator_options(64) == {}
    x = np.arange(2 * 3 * 2 * 5, dtype=np.float32).reshape(2, 3, 2, 5)
    assert iq.stats_view(x).shape == (2, 2, 3, 5) and csi.stats_view(x).shape == x.shape
    with pytest.raises(ValueError, match=r"bad.h5: iq samples must be \(antennas, 2, T\)"):
        iq.check_sample_shape("bad.h5", (3, 4, 5))
    with pytest.raises(ValueError, match="unknown data modality 'radar'; expected one of"):
        modalities.get_modality("radar")


@dataclass(frozen=True, repr=False)
class _Vector(GridModality):
    """A toy modality: 1 x D feature vectors per channel, one statistic for the whole sample."""

    name: str = "vector"
    stats_per: str = "one for the whole sample"

    def num_stats(self, channels: int) -> int:
        return 1

    def stats_view(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x).reshape(len(x), 1, -1, x.shape[-1])

    def check_sample_shape(self, path: str | os.PathLike, shape: Sequence[int]) -> None:
        if int(shape[1]) != 1:
            raise ValueError(f"{path}: vector samples must be (C, 1, D), got {tuple(shape)}")

    def stats_arrays(self, mean, std, channel_index):
        return np.asarray(mean, np.float32).reshape(1, 1, 1), np.asarray(std, np.float32).reshape(1, 1, 1)


def test_a_toy_modality_is_one_class_and_one_registry_line(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(modalities, "MODALITIES", dict(modalities.MODALITIES))
    modalities.register_modality(_Vector())
    x = np.random.default_rng(0).normal(3.0, 2.0, (10, 2, 1, 6)).astype(np.float32)
    meta = label_meta({"label": "classification"}, {"label": ("a", "b")})
    attrs = {"source": "t", "modality": "vector", "preprocessing": {}, "labels": meta}
    path = write_h5(tmp_path / "v.h5", x, {"label": np.arange(10) % 2}, attrs)
    ds = H5Dataset(path)
    assert ds.meta["mean"].shape == (1,) and ds[0]["modality"] == "vector"
    np.testing.assert_allclose(ds[3]["x"].numpy(), (x[3] - x.mean()) / x.std(), rtol=1e-4, atol=1e-5)
    assert pad_collate([ds[0], ds[1]])["modality"] == "vector"
    with pytest.raises(ValueError, match=r"vector samples must be \(C, 1, D\)"):
        write_h5(tmp_path / "w.h5", x.reshape(10, 2, 2, 3), {"label": np.arange(10) % 2}, attrs)


def test_collate_gives_one_modality_and_refuses_a_mix() -> None:
    def sample(modality: str | None, c: int = 1) -> dict:
        s = {"x": torch.zeros(c, 4, 4), "channels": c, "label": torch.tensor(0)}
        return s if modality is None else {**s, "modality": modality}

    batch = pad_collate([sample("csi", 2), sample("csi", 1)])
    assert batch["modality"] == "csi" and set(batch) == {"x", "channels", "modality", "label"}
    assert "modality" not in pad_collate([sample(None), sample(None)])  # a user's own samples
    with pytest.raises(ValueError, match=r"mixes samples of modalities \['csi', 'spectrogram'\]"):
        pad_collate([sample("csi"), sample("spectrogram")])
    with pytest.raises(ValueError, match="some samples name their modality"):
        pad_collate([sample("csi"), sample(None)])
