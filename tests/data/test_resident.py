"""A device-resident pretraining mix serves exactly the batches the file-backed one does."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from wfm.data.collate import pad_collate
from wfm.data.datamodules import PretrainDataModule


def _mix(tmp_path, resident: bool) -> PretrainDataModule:
    dm = PretrainDataModule(datasets=["spectrogram", "csi", "csi2"], n=12, size=16, batch_size=4,
                            val_fraction=0.25, cache_dir=str(tmp_path), resident=resident)
    dm.prepare_data()
    dm.setup("fit")
    return dm


def test_resident_batches_equal_file_batches(tmp_path) -> None:
    files, resident = _mix(tmp_path, False), _mix(tmp_path, True)
    assert len(resident.train_set) == len(files.train_set) == 27
    for a, b in zip(files.train_dataloader(), resident.train_dataloader(), strict=True):
        assert torch.equal(a["channels"], b["channels"])
        torch.testing.assert_close(a["x"], b["x"], rtol=1e-6, atol=1e-6)
    # one sample, and a batch that mixes channel counts (padded as pad_collate pads) of one channel layout (csi:
    # 4 channels of magnitude, csi2: 5; a batch never mixes real/imag pairs with other channels)
    idx = [9, 20, 12]
    mixed = pad_collate([files.train_set[i] for i in idx])
    got = resident.train_set.__getitems__(idx)
    torch.testing.assert_close(got["x"], mixed["x"])
    assert torch.equal(got["channels"], mixed["channels"])
    assert got["modality"] == mixed["modality"] == "csi"
    with pytest.raises(ValueError, match=r"mixes samples of modalities \['csi', 'spectrogram'\]"):
        resident.train_set.__getitems__([0, 9])
    assert resident.train_set.nbytes() == 4 * sum(t.numel() for t in resident.train_set.inputs)


def test_resident_needs_the_grouped_single_process_loader(tmp_path) -> None:
    with pytest.raises(ValueError, match="num_workers=0 and group_by_channels=True"):
        PretrainDataModule(resident=True, num_workers=2)


def test_a_fit_runs_from_a_resident_mix(tmp_path, cpu_trainer) -> None:
    from tiny import tiny_jepa

    model = tiny_jepa(encoder=__import__("helpers").tiny_encoder(img_size=16, patch_size=4))
    dm = PretrainDataModule(datasets=["spectrogram", "csi"], n=12, size=16, batch_size=4, cache_dir=str(tmp_path),
                            resident=True)
    cpu_trainer(max_steps=3, limit_val_batches=1).fit(model, dm)
    assert model.global_step == 3 and np.isfinite(float(model.encoder.norm.weight.detach().sum()))
