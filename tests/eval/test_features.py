"""Feature extraction: order, dtype, eval mode, bf16, channel caps; the toy DataModule (tests/toy.py)
obeys the contract."""

from __future__ import annotations

import numpy as np
import torch
from helpers import PROBE_ENCODER_CFG as CFG
from toy import ToyDownstream

from wfm.eval.features import extract_features
from wfm.models.encoder import ViTEncoder


def test_extract_features_order_dtype_mode():
    torch.manual_seed(0)
    enc = ViTEncoder(**CFG).train()
    dm = ToyDownstream(num_samples=20, batch_size=6, variable_channels=True, channels=3)
    feats, targets = extract_features(enc, dm.probe_dataloader(), bf16=False)
    assert feats.shape == (20, 32) and feats.dtype == np.float32
    assert set(targets) == {"label"} and targets["label"].shape == (20,)
    np.testing.assert_array_equal(targets["label"], np.arange(20) % 3)
    assert enc.training  # mode restored
    s = dm.dataset[7]
    with torch.no_grad():
        one = enc.eval().features(s["x"][None], torch.tensor([s["channels"]]))
    np.testing.assert_allclose(feats[7], one[0].numpy(), atol=1e-5)

    bf, _ = extract_features(enc, dm.probe_dataloader(), bf16=True)
    assert bf.dtype == np.float32 and np.abs(bf - feats).max() < 0.1

    one_ch, _ = extract_features(enc, dm.probe_dataloader(), bf16=False, max_channels=1)
    with torch.no_grad():
        ref = enc.features(s["x"][None, :1])
    np.testing.assert_allclose(one_ch[7], ref[0].numpy(), atol=1e-5)


def test_features_are_fp32_by_default_even_where_bf16_is_native(monkeypatch):
    # probe numbers must not depend on the machine: bf16 rounding weakens random-init features more than
    # trained ones, so the default extraction stays fp32 on a CPU that has native bf16, too
    import wfm.eval.features as features

    torch.manual_seed(0)
    enc = ViTEncoder(**CFG)
    dm = ToyDownstream(num_samples=12, batch_size=6)
    calls = []
    real = features.autocast_context
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: True)
    monkeypatch.setattr(features, "autocast_context", lambda d, bf16: calls.append(bf16) or real(d, bf16))
    default, _ = extract_features(enc, dm.probe_dataloader())
    assert calls and not any(calls)
    with torch.no_grad():
        ref = torch.cat([enc.eval().features(b["x"], b["channels"]) for b in dm.probe_dataloader()])
    np.testing.assert_array_equal(default, ref.numpy())


def test_toy_split_contract():
    dm = ToyDownstream(num_samples=50)
    tr, te = dm.split_indices(0)
    assert len(tr) == 40 and len(te) == 10 and not set(tr) & set(te)
    assert np.array_equal(dm.split_indices(0)[0], tr) and not np.array_equal(dm.split_indices(1)[0], tr)


def test_the_batch_modality_reaches_the_encoder_and_is_no_label():
    class Recording(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.seen: list = []

        def features(self, x, channels=None, modality=None):
            self.seen.append(modality)
            return x.flatten(1)[:, :4]

    enc = Recording()
    batches = [{"x": torch.randn(3, 1, 2, 4), "channels": torch.ones(3, dtype=torch.long), "modality": "iq",
                "label": torch.arange(3)}]
    feats, targets = extract_features(enc, batches)
    assert enc.seen == ["iq"] and feats.shape == (3, 4) and set(targets) == {"label"}
    extract_features(enc, [{k: v for k, v in batches[0].items() if k != "modality"}])
    assert enc.seen == ["iq", None]
