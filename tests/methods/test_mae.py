"""MAE: masking draws, loss only on hidden patches of real channels, gradients, checkpoints (decoder shapes:
models/test_decoder.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import RandomDataModule, tiny_encoder

from wfm.checkpoint import load_backbone
from wfm.methods.mae import MAE, patchify, random_masking


def tiny_mae(**kw) -> MAE:
    enc_kw = kw.pop("encoder_kw", {})
    enc = tiny_encoder(**enc_kw)
    args = dict(encoder=enc, decoder_dim=16, decoder_depth=1, decoder_heads=2, max_channels=4)
    args.update(kw)
    return MAE(**args)


def toy_batch() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 3, 32, 32, generator=g)
    x[1, 2:] = 0  # padding slots
    x[2, 1:] = 0
    return {"x": x, "channels": torch.tensor([3, 2, 1])}


def test_random_masking_is_per_sample_and_reproducible() -> None:
    keep, mask = random_masking(4, 16, 0.75, np.random.default_rng(1))
    assert keep.shape == (4, 4) and mask.shape == (4, 16)
    assert (mask.sum(1) == 12).all()
    assert not mask.gather(1, keep).any()  # kept positions are exactly the unmasked ones
    assert (keep.diff(dim=1) > 0).all()  # sorted, distinct
    assert len({tuple(k.tolist()) for k in keep}) > 1  # samples differ
    keep2, _ = random_masking(4, 16, 0.75, np.random.default_rng(1))
    assert torch.equal(keep, keep2)


def test_patchify_matches_the_encoder_grid_order() -> None:
    x = torch.randn(2, 3, 32, 32)
    patches = patchify(x, 8)  # (B, C, 16, 64)
    r, c = 2, 1
    block = x[:, :, r * 8:(r + 1) * 8, c * 8:(c + 1) * 8].reshape(2, 3, 64)
    assert torch.equal(patches[:, :, r * 4 + c], block)


def _loss_with_target_edit(model: MAE, edit) -> float:
    """Loss on toy_batch (same masks) after ``edit(target, mask, channel_valid)`` changed the target."""
    batch = toy_batch()
    _, mask = random_masking(3, 16, model.mask_ratio, np.random.default_rng(7))  # what shared_step will draw
    base_target = model.reconstruction_target
    cv = model.encoder.channel_valid(batch["x"], batch["channels"])
    model.reconstruction_target = lambda x, *a: edit(base_target(x, *a), mask, cv)  # type: ignore[method-assign]
    try:
        with torch.no_grad():
            return float(model.shared_step(batch, np.random.default_rng(7), "val")["loss"])
    finally:
        del model.reconstruction_target


@pytest.mark.parametrize("norm_pix", [False, True])
def test_loss_counts_only_hidden_patches_of_real_channels(norm_pix: bool) -> None:
    torch.manual_seed(0)
    model = tiny_mae(norm_pix_loss=norm_pix).eval()
    ref = _loss_with_target_edit(model, lambda t, m, cv: t)

    def visible(t, m, cv):  # change the pixels of every visible patch
        return torch.where(~m[:, None, :, None], t + 100.0, t)

    def padding(t, m, cv):  # change padded channel slots everywhere
        return torch.where(~cv[:, :, None, None], t - 50.0, t)

    def hidden(t, m, cv):
        return torch.where(m[:, None, :, None] & cv[:, :, None, None], t + 1.0, t)

    assert _loss_with_target_edit(model, visible) == ref
    assert _loss_with_target_edit(model, padding) == ref
    assert _loss_with_target_edit(model, hidden) != ref


def test_loss_matches_a_direct_computation() -> None:
    torch.manual_seed(0)
    model = tiny_mae().eval()
    batch = toy_batch()
    with torch.no_grad():
        loss = model.shared_step(batch, np.random.default_rng(3), "val")["loss"]
        keep, mask = random_masking(3, 16, 0.75, np.random.default_rng(3))
        kv = torch.ones_like(keep).bool()
        tok, _ = model.encoder(batch["x"], batch["channels"], keep=keep, keep_valid=kv)
        cv = model.encoder.channel_valid(batch["x"], batch["channels"])
        pred = model.decoder(tok, keep, torch.ones_like(keep).bool(), cv)
        err = (pred - patchify(batch["x"], 8)).pow(2).mean(-1)
        terms = [err[b, c, n] for b in range(3) for c in range(int(batch["channels"][b])) for n in range(16)
                 if mask[b, n]]
    assert torch.allclose(loss, torch.stack(terms).mean(), atol=1e-6)


def test_gradient_reaches_encoder_and_decoder() -> None:
    torch.manual_seed(0)
    model = tiny_mae(encoder_kw=dict(cls_token=True, pool="cls"))
    out = model.shared_step(toy_batch(), np.random.default_rng(0), "train")
    out["loss"].backward()
    enc = model.encoder
    for name, p in [("patch_embed", enc.patch_embed.weight), ("block0", enc.blocks[0].attn.qkv.weight),
                    ("cls", model.encoder.cls_token), ("mask_token", model.decoder.mask_token),
                    ("head", model.decoder.head.weight)]:
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    # the decoder's channel codes are fixed: a buffer, never trained or decayed
    assert not any(n.startswith("channel_embed") for n, _ in model.decoder.named_parameters())


def test_training_runs_and_checkpoint_carries_the_encoder(cpu_trainer, tmp_path) -> None:
    # the MAE recipes' optimisation (configs/mae.yaml), passed through to the base class
    model = tiny_mae(betas=(0.9, 0.95), weight_decay_start=0.05, weight_decay_end=0.05)
    tr = cpu_trainer(max_steps=2, limit_val_batches=0)
    tr.fit(model, RandomDataModule(n=16))
    opt = tr.optimizers[0]
    assert opt.defaults["betas"] == (0.9, 0.95)
    assert all(g["weight_decay"] in (0.0, 0.05) for g in opt.param_groups)
    n_opt = sum(p.numel() for g in opt.param_groups for p in g["params"])
    assert n_opt == sum(p.numel() for p in model.parameters())  # encoder and decoder both train
    path = tmp_path / "mae.ckpt"
    tr.save_checkpoint(path)
    enc = load_backbone(path)
    x = torch.randn(2, 2, 32, 32)
    assert torch.allclose(enc.features(x), model.encoder.features(x), atol=1e-6)


def test_bad_configuration_fails_early() -> None:
    with pytest.raises(ValueError, match="mask_ratio"):
        tiny_mae(mask_ratio=1.0)


def test_channel_holdout_reconstructs_hidden_channels_everywhere_from_the_others() -> None:
    """A held-out channel never reaches the encoder (its pixels do not change the reconstruction) and all its
    patches count in the loss, visible positions included."""
    from wfm.views.channels import draw_holdout

    torch.manual_seed(0)
    model = tiny_mae(channel_holdout=1.0, channel_sampling="none")
    seen = {}
    decoder_forward = model.decoder.forward

    def spy(*args, **kw):
        seen["pred"], seen["hidden"] = decoder_forward(*args, **kw), kw["hidden"]
        return seen["pred"]

    model.decoder.forward = spy
    x = torch.randn(4, 2, 32, 32)
    batch = {"x": x, "channels": torch.full((4,), 2)}
    loss = model.shared_step(batch, np.random.default_rng(0), "train")["loss"]
    pred, hidden = seen["pred"], seen["hidden"]
    assert (hidden.sum(1) == 1).all()
    order, _ = draw_holdout(np.full(4, 2), 2, np.random.default_rng(0), 1.0)  # the draw after "none" sampling
    x2 = x.clone()
    for b in range(4):
        x2[b, order[b, 1]] += 5.0  # the held-out channel's input: prediction unchanged, loss changed
    loss2 = model.shared_step({"x": x2, "channels": batch["channels"]}, np.random.default_rng(0), "train")["loss"]
    torch.testing.assert_close(seen["pred"], pred)
    assert loss2 > loss + 1.0
    with pytest.raises(ValueError, match="channel_holdout"):
        tiny_mae(channel_holdout=-0.1)
