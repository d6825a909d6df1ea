"""FeatureWriter: predict-time features (and tokens) written atomically to an HDF5 file, in sample order."""

from __future__ import annotations

import h5py
import numpy as np
import torch
from callback_stubs import LIMITS, Method
from toy import ToyDownstream

from wfm.callbacks import FeatureWriter
from wfm.eval.features import extract_features


def test_feature_writer(cpu_trainer, tmp_path):
    torch.manual_seed(0)
    out = tmp_path / "feats" / "toy.h5"
    dm = ToyDownstream(num_samples=20, batch_size=8, variable_channels=True, channels=3)
    model = Method()
    trainer = cpu_trainer(max_epochs=2, callbacks=[FeatureWriter(str(out), write_tokens=True)], **LIMITS)
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


def test_feature_writer_keeps_the_batch_modality_as_an_attribute(cpu_trainer, tmp_path):
    class Spectrogram(Method):
        def predict_step(self, batch, batch_idx, dataloader_idx=0):
            return {**super().predict_step(batch, batch_idx, dataloader_idx), "modality": "spectrogram"}

    out = tmp_path / "toy.h5"
    dm = ToyDownstream(num_samples=12, batch_size=8)
    trainer = cpu_trainer(callbacks=[FeatureWriter(str(out))], **LIMITS)
    trainer.predict(Spectrogram(), dataloaders=dm.probe_dataloader(), return_predictions=False)
    with h5py.File(out) as f:
        assert f.attrs["modality"] == "spectrogram" and "modality" not in f
        assert f["features"].shape == (12, 32)
