"""Supervised ViT: losses, the probe protocol's metrics on toy batches, target standardisation, fit/test."""

from __future__ import annotations

import lightning as L
import numpy as np
import pytest
import torch
from helpers import RandomDataModule, tiny_encoder
from torch.utils.data import DataLoader

from wfm.data.collate import pad_collate
from wfm.methods.supervised import Supervised


class PositionDataModule(L.LightningDataModule):
    """Positions that are a linear function of the input's mean level, in metres around (100, -50, 10)."""

    def __init__(self, n: int = 32, batch_size: int = 8) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.samples = []
        for _ in range(n):
            level = torch.randn(2, generator=g)
            x = level[:, None, None] + 0.1 * torch.randn(2, 32, 32, generator=g)
            pos = torch.tensor([100.0, -50.0, 10.0]) + torch.tensor([20.0 * level[0], 5.0 * level[1], 0.0])
            self.samples.append({"x": x, "channels": 2, "position": pos})
        self.batch_size = batch_size

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.samples, batch_size=self.batch_size, collate_fn=pad_collate)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.samples[:16], batch_size=self.batch_size, collate_fn=pad_collate)

    test_dataloader = val_dataloader


def _fixed_output(model: Supervised, out: torch.Tensor) -> None:
    model.forward = lambda x, channels=None, channel_ids=None: out  # type: ignore[method-assign]


def test_mean_per_class_accuracy_on_a_toy_batch() -> None:
    model = Supervised(encoder=tiny_encoder(), num_classes=3)
    y = torch.tensor([0, 0, 1, 1, 2])
    pred = torch.tensor([0, 1, 1, 1, 0])  # per class 1/2, 2/2, 0/1 -> mean 50 % (plain accuracy: 60 %)
    logits = torch.nn.functional.one_hot(pred, 3).float() * 5
    _fixed_output(model, logits)
    batch = {"x": torch.zeros(5, 1, 32, 32), "channels": torch.ones(5, dtype=torch.long), "label": y}
    out = model.shared_step(batch, np.random.default_rng(0), "val")
    assert out["loss"] == pytest.approx(float(torch.nn.functional.cross_entropy(logits, y)))
    assert model.epoch_metrics("val") == {"acc": pytest.approx(50.0)}


def test_label_smoothing_and_class_weights_enter_the_loss() -> None:
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    y = torch.tensor([0, 1, 1])
    batch = {"x": torch.zeros(3, 1, 32, 32), "channels": torch.ones(3, dtype=torch.long), "label": y}
    model = Supervised(encoder=tiny_encoder(), num_classes=2, label_smoothing=0.1, class_weights=[1.0, 3.0])
    _fixed_output(model, logits)
    loss = model.shared_step(batch, np.random.default_rng(0), "train")["loss"]
    ref = torch.nn.functional.cross_entropy(logits, y, weight=torch.tensor([1.0, 3.0]), label_smoothing=0.1)
    assert float(loss) == pytest.approx(float(ref))


def test_regression_error_is_in_metres_after_destandardising() -> None:
    mean, std = [1.0, 2.0, 3.0], [2.0, 2.0, 2.0]
    model = Supervised(encoder=tiny_encoder(), target="position", task_kind="regression", target_dim=3,
                       target_mean=mean, target_std=std)
    _fixed_output(model, torch.zeros(2, 3))  # predicts the mean position
    y = torch.tensor(mean) + torch.tensor([[3.0, 4.0, 0.0], [0.0, 0.0, 1.0]])  # errors 5 m and 1 m
    batch = {"x": torch.zeros(2, 1, 32, 32), "channels": torch.ones(2, dtype=torch.long), "position": y}
    out = model.shared_step(batch, np.random.default_rng(0), "val")
    z = (y - torch.tensor(mean)) / torch.tensor(std)
    assert float(out["loss"]) == pytest.approx(float(z.pow(2).mean()))
    assert model.epoch_metrics("val") == {"error": pytest.approx(3.0)}


def test_classification_fit_validate_test(cpu_trainer) -> None:
    dm = RandomDataModule(n=16)
    dm.test_dataloader = dm.val_dataloader  # type: ignore[method-assign]
    model = Supervised(encoder=tiny_encoder(), num_classes=2)
    tr = cpu_trainer(max_steps=2)
    tr.fit(model, dm)
    assert 0.0 <= float(tr.callback_metrics["val/acc"]) <= 100.0
    res = tr.test(model, dm, verbose=False)[0]
    assert "test/acc" in res and "test/loss" in res


def test_regression_standardises_with_training_statistics(cpu_trainer) -> None:
    dm = PositionDataModule(n=16)  # one epoch = 2 steps, so validation runs
    model = Supervised(encoder=tiny_encoder(), target="position", task_kind="regression", target_dim=3)
    tr = cpu_trainer(max_steps=2)
    tr.fit(model, dm)
    y = torch.stack([s["position"] for s in dm.samples])
    assert torch.allclose(model.target_mean, y.mean(0), atol=1e-4)
    std = y.std(0, unbiased=False)
    assert torch.allclose(model.target_std[:2], std[:2], atol=1e-4)
    assert model.target_std[2] == 1.0  # constant coordinate: no division by zero
    # the error is reported in metres: a model that predicts about the mean is off by metres, not by z-units
    err = float(tr.callback_metrics["val/error"])
    assert 1.0 < err < 100.0
    assert "test/error" in tr.test(model, dm, verbose=False)[0]


def test_bad_arguments_fail_clearly(tmp_path) -> None:
    with pytest.raises(ValueError, match="num_classes"):
        Supervised(encoder=tiny_encoder())
    with pytest.raises(ValueError, match="task_kind"):
        Supervised(encoder=tiny_encoder(), task_kind="ranking")
    with pytest.raises(ValueError, match="finetune"):
        Supervised(encoder=tiny_encoder(), num_classes=2, finetune="adapters")
    with pytest.raises(ValueError, match="not both"):
        Supervised(encoder=tiny_encoder(), backbone=str(tmp_path / "x.ckpt"), num_classes=2)
    with pytest.raises(ValueError, match="partial_blocks"):
        Supervised(encoder=tiny_encoder(), num_classes=2, finetune="partial", partial_blocks=5)
    model = Supervised(encoder=tiny_encoder(), num_classes=2, target="beam")
    with pytest.raises(ValueError, match="no label 'beam'"):
        batch = {"x": torch.zeros(1, 1, 32, 32), "channels": torch.ones(1)}
        model.shared_step(batch, np.random.default_rng(0), "val")


def _task_file(tmp_path, name: str, labels: dict, meta: dict):
    from wfm.data.hdf5 import write_h5

    x = torch.randn(20, 2, 32, 32, generator=torch.Generator().manual_seed(0)).numpy()
    attrs = {"source": "t", "modality": "csi", "preprocessing": {}, "labels": meta}
    return str(write_h5(tmp_path / name, x, labels, attrs))


def test_task_from_data_sizes_the_head_from_the_file(cpu_trainer, tmp_path) -> None:
    from wfm.data.datamodules import DownstreamDataModule
    from wfm.data.hdf5 import label_meta

    cls = _task_file(tmp_path, "cls.h5", {"tx": np.arange(20) % 5},
                     label_meta({"tx": "classification"}, {"tx": tuple("abcde")}))
    dm = DownstreamDataModule(cls, size=32, batch_size=8)
    model = Supervised(encoder=tiny_encoder(), task_from_data=True)
    assert model.head is None
    tr = cpu_trainer(max_steps=2, enable_checkpointing=True, default_root_dir=str(tmp_path))
    tr.fit(model, dm)
    assert (model.target, model.task_kind, model.head.out_features) == ("tx", "classification", 5)
    assert "val/acc" in tr.callback_metrics
    tr.save_checkpoint(tmp_path / "cls.ckpt")
    restored = Supervised.load_from_checkpoint(tmp_path / "cls.ckpt")  # the resolved task is in the hparams
    x = torch.randn(2, 2, 32, 32)
    assert restored.head.out_features == 5 and torch.allclose(restored(x), model(x), atol=1e-6)

    pos = np.random.default_rng(0).normal(size=(20, 2)) * 10
    reg = _task_file(tmp_path, "reg.h5", {"xy": pos}, label_meta({"xy": "regression"}, units={"xy": "m"}))
    model = Supervised(encoder=tiny_encoder(), task_from_data=True)
    cpu_trainer(max_steps=1, limit_val_batches=0).fit(model, DownstreamDataModule(reg, size=32, batch_size=8))
    assert (model.task_kind, model.head.out_features, model.target_mean.shape) == ("regression", 2, (2,))


def test_task_from_data_refuses_contradictions_and_a_datamodule_without_a_task(cpu_trainer, tmp_path) -> None:
    from wfm.data.datamodules import DownstreamDataModule
    from wfm.data.hdf5 import label_meta

    cls = _task_file(tmp_path, "cls.h5", {"tx": np.arange(20) % 5},
                     label_meta({"tx": "classification"}, {"tx": tuple("abcde")}))
    for kw, match in (({"task_kind": "regression"}, "task_kind='regression' contradicts"),
                      ({"num_classes": 3}, "fewer than the 5 classes")):
        model = Supervised(encoder=tiny_encoder(), task_from_data=True, **kw)
        with pytest.raises(ValueError, match=match):
            cpu_trainer(max_steps=1).fit(model, DownstreamDataModule(cls, size=32, batch_size=8))
    model = Supervised(encoder=tiny_encoder(img_size=16, patch_size=4), task_from_data=True)
    with pytest.raises(ValueError, match="cls.h5: "):  # samples of another size, named before a step runs
        cpu_trainer(max_steps=1).fit(model, DownstreamDataModule(cls, size=32, batch_size=8))
    with pytest.raises(ValueError, match="has none: give target"):
        cpu_trainer(max_steps=1).fit(Supervised(encoder=tiny_encoder(), task_from_data=True), RandomDataModule(n=8))
