"""JEPA method: EMA math, schedules applied in training, where gradients flow, and what ends up in a checkpoint."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import RandomDataModule, tiny_encoder

from wfm.methods.jepa import JEPA
from wfm.views import FrequencyMask, RegionMask
from wfm.views.channels import draw_holdout


def tiny_jepa(**kw) -> JEPA:
    enc = tiny_encoder()
    args = dict(encoder=enc, masking=RegionMask(num_targets=2, min_context=4),
                predictor_dim=16, predictor_depth=1, predictor_heads=2)
    args.update(kw)
    return JEPA(**args)


def test_predictor_and_gradients_reach_context_encoder_never_target() -> None:
    model = tiny_jepa()
    batch = {"x": torch.randn(4, 3, 32, 32), "channels": torch.tensor([3, 1, 2, 3])}
    out = model.shared_step(batch, np.random.default_rng(0), "train")
    out["loss"].backward()
    assert all(p.grad is not None for p in model.predictor.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.encoder.parameters())
    assert model.predictor.proj_out.weight.grad.abs().sum() > 0
    assert all(p.grad is None and not p.requires_grad for p in model.target_encoder.parameters())


def test_predict_grad_false_keeps_the_prediction_loss_out_of_the_encoder() -> None:
    batch = {"x": torch.randn(4, 3, 32, 32), "channels": torch.tensor([3, 1, 2, 3])}
    # no regulariser: the encoder gets no gradient at all, the predictor still learns
    model = tiny_jepa(predict_grad=False)
    out = model.shared_step(batch, np.random.default_rng(0), "train")
    out["loss"].backward()
    assert model.predictor.proj_out.weight.grad.abs().sum() > 0
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in model.encoder.parameters())
    # with a token-level regulariser the encoder still trains: the regulariser's gradient is all it gets
    control = tiny_jepa(predict_grad=False, regularizer="sigreg", reg_weight=0.5, reg_level="token")
    out = control.shared_step(batch, np.random.default_rng(0), "train")
    out["loss"].backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in control.encoder.parameters())


def test_target_encoder_not_in_optimizer() -> None:
    model = tiny_jepa()
    opt = model.configure_optimizers()
    in_opt = {id(p) for g in opt.param_groups for p in g["params"]}
    assert not in_opt & {id(p) for p in model.target_encoder.parameters()}
    assert {id(p) for p in model.predictor.parameters()} <= in_opt
    # 1-D parameters (biases, norms) get no weight decay
    for g in opt.param_groups:
        if not g["decay"]:
            assert all(p.ndim <= 1 for p in g["params"]) and g["weight_decay"] == 0.0


def test_optimizer_is_fused_adamw_with_adamw_arithmetic() -> None:
    model = tiny_jepa()
    opt = model.configure_optimizers()
    assert all(g["fused"] for g in opt.param_groups)  # CPU parameters: torch's fused kernel
    params = [p for g in opt.param_groups for p in g["params"]]
    start = [p.detach().clone() for p in params]
    loop = torch.optim.AdamW([{**{k: v for k, v in g.items() if k not in ("params", "fused")},
                               "params": [s.detach().clone().requires_grad_() for s in g["params"]]}
                              for g in opt.param_groups], foreach=False)
    looped = [p for g in loop.param_groups for p in g["params"]]
    gen = torch.Generator().manual_seed(0)
    for _ in range(3):
        grads = [torch.randn(p.shape, generator=gen) for p in params]
        for p, q, g in zip(params, looped, grads, strict=True):
            p.grad, q.grad = g.clone(), g.clone()
        opt.step()
        loop.step()
    for p, q, s in zip(params, looped, start, strict=True):
        assert not torch.equal(p, s)  # it stepped
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)  # same update as the per-tensor AdamW


def test_ema_update_math_is_exact() -> None:
    model = tiny_jepa()
    with torch.no_grad():
        for p in model.encoder.parameters():
            p.add_(torch.randn_like(p))
    before_t = [p.clone() for p in model.target_encoder.parameters()]
    online = [p.clone() for p in model.encoder.parameters()]
    model.ema_update(0.9)
    for t0, o, t1 in zip(before_t, online, model.target_encoder.parameters(), strict=True):
        torch.testing.assert_close(t1, 0.9 * t0 + (1 - 0.9) * o, rtol=1e-6, atol=1e-7)  # one float32 rounding


def test_ema_runs_once_per_optimizer_step_with_gradient_accumulation(cpu_trainer) -> None:
    model = tiny_jepa()
    calls = []
    orig = model.ema_update
    model.ema_update = lambda m: (calls.append(m), orig(m))  # type: ignore[method-assign]
    cpu_trainer(max_steps=2, accumulate_grad_batches=2, limit_val_batches=0).fit(model, RandomDataModule(n=32))
    assert len(calls) == 2


def test_training_applies_schedules_and_moves_target(cpu_trainer) -> None:
    model = tiny_jepa(warmup_fraction=0.5)
    start = [p.clone() for p in model.target_encoder.parameters()]
    cpu_trainer(max_steps=4, limit_val_batches=0).fit(model, RandomDataModule(n=32))
    opt = model.trainer.optimizers[0]
    # after 4 of 4 steps the optimizer carries the step-3 values (set before each step)
    v = model.schedule_values(3)
    assert opt.param_groups[0]["lr"] == pytest.approx(v["lr"])
    assert opt.param_groups[0]["weight_decay"] == pytest.approx(v["wd"])
    assert any(not torch.equal(a, b) for a, b in zip(start, model.target_encoder.parameters(), strict=True))


def test_checkpoint_carries_target_encoder_as_backbone(cpu_trainer, tmp_path) -> None:
    model = tiny_jepa()
    t = cpu_trainer(max_steps=1, limit_val_batches=0)
    t.fit(model, RandomDataModule(n=16))
    path = tmp_path / "m.ckpt"
    t.save_checkpoint(path)
    ckpt = torch.load(path, weights_only=True)
    rec = ckpt["wfm_backbone"]
    assert rec["config"]["embed_dim"] == 32 and rec["method"] == "JEPA"
    for k, v in model.target_encoder.state_dict().items():
        torch.testing.assert_close(rec["state_dict"][k], v)


def test_bad_method_configuration_fails_before_data() -> None:
    with pytest.raises(ValueError, match="don't fit"):
        tiny_jepa(masking=FrequencyMask(num_targets=5))  # 4x4 grid: 5 bands can't fit
    with pytest.raises(ValueError, match="loss must be one of"):
        tiny_jepa(loss="l1")


def test_non_finite_loss_stops_with_the_step(cpu_trainer) -> None:
    model = tiny_jepa()
    dm = RandomDataModule(n=16)
    dm.samples[0]["x"][0, 0, 0] = float("nan")
    with pytest.raises(FloatingPointError, match="global step 0"):
        cpu_trainer(max_steps=2, limit_val_batches=0).fit(model, dm)


def test_multi_layer_targets_average_the_normed_top_blocks() -> None:
    import torch.nn.functional as F

    one, two = tiny_jepa(), tiny_jepa(target_layers=2)
    two.target_encoder.load_state_dict(one.target_encoder.state_dict())
    x, channels = torch.randn(3, 2, 32, 32), torch.tensor([2, 1, 2])
    with torch.no_grad():
        h1 = one.targets(x, channels, None, "image")
        outs, _ = one.target_encoder.forward_intermediates(x, channels, last=2)
        expected = F.layer_norm(sum(F.layer_norm(o, (o.shape[-1],)) for o in outs) / 2, (outs[0].shape[-1],))
        torch.testing.assert_close(two.targets(x, channels, None, "image"), expected)
        tokens, _ = one.target_encoder(x, channels)
    torch.testing.assert_close(h1, F.layer_norm(tokens, (tokens.shape[-1],)))  # K = 1: I-JEPA's targets
    out = two.shared_step({"x": x, "channels": channels}, np.random.default_rng(0), "train")
    assert torch.isfinite(out["loss"])
    with pytest.raises(ValueError, match="target_layers"):
        tiny_jepa(target_layers=9)


def test_pixel_term_adds_the_weighted_reconstruction_of_the_predicted_targets() -> None:
    from wfm.methods.mae import patchify

    model = tiny_jepa(pixel_weight=0.5)
    x, channels = torch.randn(3, 2, 32, 32), torch.tensor([2, 1, 2])
    out = model.shared_step({"x": x, "channels": channels}, np.random.default_rng(0), "train")
    torch.testing.assert_close(out["loss"].detach(), out["pred_loss"] + 0.5 * out["pixel"])
    out["loss"].backward()
    assert model.pixel_head["image"].weight.grad.abs().sum() > 0  # trained with the predictor
    assert model.pixel_head["image"].weight.shape == (64, model.encoder.embed_dim)  # one 8 x 8 patch per token
    # the loss is over the valid target tokens only, channel-major, against those patches' pixels
    tgt_idx = torch.tensor([[[0, 5]], [[3, 15]], [[7, 8]]])  # (B, M=1, Kt=2)
    valid = torch.ones(3, 1, 4, dtype=torch.bool)
    valid[1, 0, 2:] = False  # sample 1 has one real channel
    pred = torch.zeros(3, 1, 4, model.encoder.embed_dim)
    with torch.no_grad():
        model.pixel_head["image"].weight.zero_()
        model.pixel_head["image"].bias.fill_(0.25)
        got = model.pixel_loss(x, pred, valid, tgt_idx, "image")
    pix = patchify(x, 8)
    sq = [(pix[b, c, tgt_idx[b, 0, k]] - 0.25).pow(2).mean() for b in range(3) for c in range(int(channels[b]))
          for k in range(2)]
    assert float(got) == pytest.approx(float(torch.stack(sq).mean()), rel=1e-5)
    # per-patch normalised targets: a head that outputs 0 scores (P - 1) / P, their mean square
    normed = tiny_jepa(pixel_weight=0.5, pixel_norm=True)
    with torch.no_grad():
        normed.pixel_head["image"].weight.zero_()
        assert float(normed.pixel_loss(x, pred, valid, tgt_idx, "image")) == pytest.approx(63 / 64, rel=1e-4)
    plain = tiny_jepa()
    assert plain.pixel_head is None and "pixel" not in plain.shared_step(
        {"x": x, "channels": channels}, np.random.default_rng(0), "train")
    with pytest.raises(ValueError, match="pixel_weight must be >= 0"):
        tiny_jepa(pixel_weight=-1)


def test_channel_holdout_predicts_hidden_channels_from_the_others_only() -> None:
    """Held-out channels are invisible to the context encoder: changing them moves the targets, never the
    predictions; and the predictor gets one more block, the context positions on the held-out channels."""
    torch.manual_seed(0)
    model = tiny_jepa(channel_holdout=1.0, channel_sampling="none")
    seen = {}
    predictor_forward = model.predictor.forward

    def spy(*args, **kw):
        pred, valid = predictor_forward(*args, **kw)
        seen["pred"], seen["valid"], seen["channels"] = pred, valid, args[5]
        return pred, valid

    model.predictor.forward = spy
    x = torch.randn(4, 2, 32, 32)
    batch = {"x": x, "channels": torch.tensor([2, 2, 2, 2])}
    model.shared_step(batch, np.random.default_rng(0), "train")
    pred, chans = seen["pred"], seen["channels"]
    m = model.masking.num_targets
    assert chans.shape == (4, m + 1, 2)
    assert chans[:, :m].all() and (chans[:, m].sum(1) == 1).all()  # every channel, then the held-out one
    # the same draw with the held-out channel's values changed: identical predictions
    order, _ = draw_holdout(np.full(4, 2), 2, np.random.default_rng(0), 1.0)
    x2 = x.clone()
    for b in range(4):
        x2[b, order[b, 1]] += 5.0
    model.shared_step({"x": x2, "channels": batch["channels"]}, np.random.default_rng(0), "train")
    torch.testing.assert_close(seen["pred"], pred)
    # without holdout (validation) the blocks are the mask's own
    model.shared_step(batch, np.random.default_rng(0), "val")
    assert seen["channels"].shape == (4, 2)
    with pytest.raises(ValueError, match="channel_holdout"):
        tiny_jepa(channel_holdout=1.5)
