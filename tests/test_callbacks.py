"""ProbeCallback, CollapseMonitor, FeatureWriter and the plot helpers on tiny in-memory data."""

from __future__ import annotations

import warnings

import h5py
import numpy as np
import pytest
import torch
from lightning.pytorch import LightningModule, Trainer
from torch import nn

from wfm.callbacks import CollapseMonitor, FeatureWriter, ProbeCallback
from wfm.eval import plots
from wfm.eval.features import extract_features
from wfm.eval.toy import ToyDownstream
from wfm.models.encoder import ViTEncoder

CFG = {"img_size": 32, "patch_size": 8, "embed_dim": 32, "depth": 1, "num_heads": 2}


class ConstantBackbone(nn.Module):
    """A collapsed encoder: the same feature for every input."""

    def __init__(self) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.ones(32))

    def features(self, x, channels=None):
        return self.bias.expand(x.shape[0], -1) + 0 * x.mean()


class Method(LightningModule):
    """Stand-in for a wfm method: `.backbone`, a trivial loss, and the predict_step contract."""

    def __init__(self, backbone: nn.Module | None = None) -> None:
        super().__init__()
        self.backbone = backbone if backbone is not None else ViTEncoder(**CFG)

    def training_step(self, batch, batch_idx):
        return self.backbone.features(batch["x"], batch["channels"]).pow(2).mean()

    def validation_step(self, batch, batch_idx):
        pass

    def predict_step(self, batch, batch_idx, dataloader_idx=0):
        tokens, valid = self.backbone(batch["x"], batch["channels"])
        return {
            "features": self.backbone.pool_tokens(tokens, valid),
            "tokens": tokens,
            "label": batch["label"],
        }

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=1e-3)


def _trainer(tmp_path, callbacks, epochs=2, **kw):
    return Trainer(
        accelerator="cpu",
        devices=1,
        max_epochs=epochs,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
        callbacks=callbacks,
        limit_train_batches=1,
        limit_val_batches=2,
        num_sanity_val_steps=0,
        **kw,
    )


def test_probe_callback_logs_and_caps(tmp_path):
    torch.manual_seed(0)
    tasks = [
        ToyDownstream(name="cls", num_samples=60),
        ToyDownstream(kind="regression", name="pos", num_samples=30),
    ]
    cb = ProbeCallback(tasks=tasks, every_n_epochs=2, max_samples=40, bf16=False)
    trainer = _trainer(tmp_path, [cb], epochs=2)
    trainer.fit(Method(), datamodule=ToyDownstream(num_samples=32))
    m = trainer.callback_metrics
    assert {"probe/cls/acc", "probe/pos/error", "probe/seconds"} <= set(m)
    assert float(m["probe/seconds"]) > 0
    # step 0 (the initial weights) and the end of epoch 2 (every_n_epochs=2; one batch per epoch)
    assert [(h["step"], h["epoch"]) for h in cb.history] == [(0.0, 0.0), (2.0, 1.0)]
    # the random baselines of the curves: one per init scheme, on the same samples
    assert set(cb.baselines) == {"random-init", "random-init (ijepa)"}
    assert set(cb.baselines["random-init"]) == {"probe/cls/acc", "probe/pos/error"}
    # the 60-sample task is probed on a fixed 40-sample subset whose split follows split_indices
    loader, sel, n = cb._subsets[0]
    assert n == 60 and len(sel) == 40 and len(loader.dataset) == 40
    tr, te = cb._split_fn(tasks[0], sel, n)(0)
    full_tr, _ = tasks[0].split_indices(0)
    assert set(sel[tr]) == set(full_tr) & set(sel) and not set(tr) & set(te)
    assert cb._subsets[1][1] is None  # 30 <= 40: all samples


def test_probe_callback_final_report_writes_table_and_plots(tmp_path):
    from tiny import tiny_jepa

    torch.manual_seed(0)
    tasks = [ToyDownstream(name="cls", num_samples=60), ToyDownstream(kind="regression", name="pos", num_samples=40)]
    cb = ProbeCallback(tasks=tasks, every_n_epochs=1, max_samples=None, bf16=False, final_seeds=[0, 1])
    trainer = _trainer(tmp_path, [cb], epochs=2)
    trainer.fit(tiny_jepa(), datamodule=ToyDownstream(num_samples=32))
    assert [r.seeds for r in cb.final_results["JEPA"]] == [[0, 1], [0, 1]]
    md = (tmp_path / "probe_results.md").read_text(encoding="utf-8")
    assert "| JEPA |" in md and "| random-init |" in md and "| random-init (ijepa) |" in md
    assert "| strongest random |" in md
    pngs = sorted(p.name for p in (tmp_path / "plots").iterdir())
    assert pngs == sorted([
        "cls_embedding_pca.png", "cls_label_efficiency.png", "masks.png", "pos_embedding_pca.png",
        "pos_label_efficiency.png", "probe_cls_acc_vs_step.png", "probe_pos_error_vs_step.png",
    ])
    assert all((tmp_path / "plots" / p).read_bytes()[:4] == b"\x89PNG" for p in pngs)


def test_collapse_monitor_warns_on_constant_features(tmp_path):
    mon = CollapseMonitor(num_batches=2, patience=2, std_threshold=1e-4)
    with pytest.warns(UserWarning, match="collapse suspected"):
        _trainer(tmp_path, [mon], epochs=2).fit(
            Method(ConstantBackbone()), datamodule=ToyDownstream(num_samples=40)
        )
    assert mon.history[-1]["feature_std"] < 1e-6 and mon.history[-1]["rankme"] < 1.01


def test_collapse_monitor_quiet_on_healthy_features(tmp_path):
    torch.manual_seed(0)
    mon = CollapseMonitor(num_batches=2, patience=1)
    trainer = _trainer(tmp_path, [mon], epochs=2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer.fit(Method(), datamodule=ToyDownstream(num_samples=40))
    assert not [w for w in caught if "collapse" in str(w.message)]
    assert "monitor/rankme" in trainer.callback_metrics and mon.history[-1]["rankme"] > 2.0


def test_collapse_monitor_stops(tmp_path):
    mon = CollapseMonitor(num_batches=1, patience=1, stop_on_collapse=True)
    trainer = _trainer(tmp_path, [mon], epochs=5)
    with pytest.warns(UserWarning, match="stopping training"):
        trainer.fit(Method(ConstantBackbone()), datamodule=ToyDownstream(num_samples=40))
    assert trainer.current_epoch < 5


def test_feature_writer(tmp_path):
    torch.manual_seed(0)
    out = tmp_path / "feats" / "toy.h5"
    dm = ToyDownstream(num_samples=20, batch_size=8, variable_channels=True, channels=3)
    model = Method()
    trainer = _trainer(tmp_path, [FeatureWriter(str(out), write_tokens=True)])
    trainer.predict(model, dataloaders=dm.probe_dataloader(), return_predictions=False)
    assert out.is_file() and not list(out.parent.glob("*.tmp"))
    ref, targets = extract_features(model.backbone, dm.probe_dataloader(), bf16=False)
    with h5py.File(out) as f:
        assert f.attrs["format"] == "wfm-features"
        np.testing.assert_allclose(f["features"][:], ref, atol=1e-5)
        np.testing.assert_array_equal(f["label"][:], targets["label"])
        np.testing.assert_array_equal(f["index"][:], np.arange(20))
        assert f["tokens"].shape == (20, 3 * 16, 32)
        assert f["num_tokens"].shape == (20,)


def test_plots(tmp_path):
    dm = ToyDownstream(num_samples=40)
    enc = ViTEncoder(**CFG)
    feats, targets = extract_features(enc, dm.probe_dataloader(), bf16=False)

    def mask_fn(strategy):
        ctx = np.zeros(16, bool)
        ctx[:8] = True
        tgt = np.zeros((2, 16), bool)
        tgt[0, 8:10], tgt[1, 12:14] = True, True
        return ctx, tgt

    paths = [
        plots.plot_mask_examples(dm.dataset[0]["x"], mask_fn, (4, 4), tmp_path / "masks.png"),
        plots.plot_probe_history(
            [{"step": 0, "probe/toy/acc": 50.0}, {"step": 10, "probe/toy/acc": 60.0}],
            "probe/toy/acc",
            tmp_path / "hist.png",
            baselines={"random-init": 40.0},
        ),
        plots.plot_label_efficiency(
            plots.label_efficiency(
                feats, targets, dm.task, dm.split_indices, fractions=(0.25, 1.0), seeds=(0,)
            ),
            tmp_path / "eff.png",
        ),
        plots.plot_channel_robustness(
            plots.channel_robustness(
                enc, dm.probe_dataloader(), dm.task, dm.split_indices, [1, 2], seeds=(0,)
            ),
            tmp_path / "chan.png",
        ),
        plots.plot_embedding(feats, targets["label"], tmp_path / "emb.png"),
    ]
    for p in paths:
        assert p.is_file() and p.read_bytes()[:4] == b"\x89PNG"
