"""Anti-collapse regularisers (VICReg variance/covariance, SIGReg) and the JEPA channel-variance monitor."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from wfm.methods.jepa import channel_variance
from wfm.methods.regularizers import regularizer_loss, sigreg, vicreg


def test_vicreg_terms_have_their_closed_form() -> None:
    # two dimensions: std 2 (no hinge) and 0.5 (hinge 0.5), covariance between them known
    z = torch.tensor([[2.0, 0.5], [-2.0, -0.5], [2.0, -0.5], [-2.0, 0.5]])
    # unbiased variances 16/3 and 1/3, covariance 0 -> variance term = mean(relu(1 - std)) only
    std = torch.sqrt(torch.tensor([16 / 3, 1 / 3]) + 1e-4)
    assert float(vicreg(z)) == pytest.approx(float(torch.relu(1 - std).mean()), rel=1e-6)
    # perfectly correlated unit-variance columns: no variance hinge, covariance term = 2 * 1^2 / 2
    w = torch.randn(4096, 1)
    w = (w - w.mean()) / w.std()
    assert float(vicreg(torch.cat([w, w], 1))) == pytest.approx(1.0, abs=2e-3)


def test_sigreg_is_small_for_an_isotropic_gaussian_and_large_for_collapse() -> None:
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    gauss = sigreg(torch.randn(512, 32), rng)
    collapsed = sigreg(torch.zeros(512, 32) + 0.01 * torch.randn(512, 32), rng)
    squashed = sigreg(0.2 * torch.randn(512, 32), rng)
    # N x the Epps-Pulley distance stays O(1) for samples of the target law, and grows with N otherwise
    assert float(gauss) < 5.0 < 100.0 < float(squashed) < float(collapsed)
    # the directions come from the caller's generator: the same draw gives the same value
    z = torch.randn(64, 8)
    assert float(sigreg(z, np.random.default_rng(3))) == float(sigreg(z, np.random.default_rng(3)))


def test_regularizers_give_gradients_and_none_is_zero() -> None:
    z = torch.randn(32, 16, requires_grad=True)
    for name in ("vicreg", "sigreg"):
        z.grad = None
        regularizer_loss(name, z, np.random.default_rng(0)).backward()
        assert z.grad is not None and float(z.grad.abs().sum()) > 0
    assert float(regularizer_loss("none", z, np.random.default_rng(0))) == 0.0
    with pytest.raises(ValueError, match="regularizer must be one of"):
        regularizer_loss("barlow", z, np.random.default_rng(0))


def test_channel_variance_monitor() -> None:
    torch.manual_seed(0)
    b, m, c, kt, d, n = 4, 2, 3, 5, 8, 16
    target = torch.randn(b, m, c * kt, d)
    valid = torch.ones(b, m, c * kt, dtype=torch.bool)
    idx = torch.randint(0, n, (b, m, kt))
    exact = channel_variance(target, target, valid, idx, c, n)
    assert float(exact["channel_r2"]) == pytest.approx(1.0)
    assert 0.0 < float(exact["channel_share"]) <= 1.0
    # a channel-blind predictor (the same output for every channel) explains none of it
    t = target.view(b, m, c, kt, d)
    blind = t.mean(2, keepdim=True).expand_as(t).reshape(b, m, c * kt, d)
    assert float(channel_variance(blind, target, valid, idx, c, n)["channel_r2"]) == pytest.approx(0.0, abs=1e-5)
    # single-channel batches have nothing channel-specific: no entry
    assert channel_variance(target[:, :, :kt], target[:, :, :kt], valid[:, :, :kt], idx, 1, n) == {}


def test_token_level_regulariser_sees_every_valid_context_token_and_no_padding(monkeypatch) -> None:  # noqa: ANN001
    import wfm.methods.jepa as jepa_module
    from wfm.methods.jepa import JEPA
    from wfm.models import ViTEncoder
    from wfm.views import RegionMask

    def model(level: str) -> JEPA:
        torch.manual_seed(0)
        enc = ViTEncoder(img_size=32, patch_size=8, embed_dim=32, depth=1, num_heads=2, channel_embed="fixed")
        return JEPA(encoder=enc, masking=RegionMask(num_targets=2, min_context=4), predictor_dim=16,
                    predictor_depth=1, predictor_heads=2, regularizer="sigreg", reg_weight=0.1, reg_level=level,
                    channel_sampling="none")

    x = torch.randn(3, 2, 32, 32)
    pooled, token = model("pooled"), model("token")
    seen = {}

    def record(name, z, rng, n_ref=None):  # noqa: ANN001
        seen["z"], seen["n_ref"] = z.detach().clone(), n_ref
        return sigreg(z, rng, n_ref=n_ref)

    monkeypatch.setattr(jepa_module, "regularizer_loss", record)
    out = token.shared_step({"x": x, "channels": torch.tensor([2, 1, 2])}, np.random.default_rng(0), "train")
    z, n_ref = seen["z"], seen["n_ref"]
    # the same batch with the padded channel slot filled by other values: the same tokens are penalised
    x2 = x.clone()
    x2[1, 1] = 100.0
    token.shared_step({"x": x2, "channels": torch.tensor([2, 1, 2])}, np.random.default_rng(0), "train")
    monkeypatch.undo()
    torch.testing.assert_close(seen["z"], z)
    # every real context token of every sample (channels 2 + 1 + 2 times each sample's context size), batch size 3
    masks = token.masking(3, token.encoder.grid_size, np.random.default_rng(0))
    ctx = masks.context.reshape(3, -1).sum(1)
    assert z.shape == (int(2 * ctx[0] + ctx[1] + 2 * ctx[2]), 32) and n_ref == 3
    torch.testing.assert_close(out["loss"].detach(), out["pred_loss"] + 0.1 * out["reg"])
    assert "reg" in pooled.shared_step({"x": x, "channels": torch.tensor([2, 1, 2])}, np.random.default_rng(0),
                                       "train")
    with pytest.raises(ValueError, match="reg_level must be one of"):
        model("patch")


def test_sigreg_reference_count_scales_the_statistic() -> None:
    z = torch.randn(200, 8)
    full = sigreg(z, np.random.default_rng(1))
    assert float(sigreg(z, np.random.default_rng(1), n_ref=50)) == pytest.approx(float(full) * 50 / 200, rel=1e-6)
