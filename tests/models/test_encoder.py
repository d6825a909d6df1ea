"""Per-channel ViT encoder: size, channel-count invariance of the weights, padding invariance, pooling."""

from __future__ import annotations

import pytest
import torch
from helpers import tiny_encoder

from wfm.models import ViTEncoder
from wfm.models.pos_embed import sincos_2d


def tiny(**kw) -> ViTEncoder:
    return tiny_encoder(**kw).eval()


def test_latentwave_size_has_6_38m_parameters() -> None:
    enc = ViTEncoder(img_size=112, patch_size=16, embed_dim=256, depth=8, num_heads=8)
    n = sum(p.numel() for p in enc.parameters())
    assert n == 6_384_384  # 65 792 patch embedding + 8 x 789 760 blocks + 512 final norm
    assert enc.grid_size == (7, 7)


def test_same_weights_take_any_channel_count() -> None:
    enc = tiny()
    for c in (1, 2, 3, 5):
        tokens, valid = enc(torch.randn(2, c, 32, 32))
        assert tokens.shape == (2, c * 16, 32)
        assert valid.all()
        assert enc.features(torch.randn(2, c, 32, 32)).shape == (2, 32)


def test_position_embedding_is_shared_across_channels() -> None:
    enc = tiny()
    x = torch.randn(1, 1, 32, 32)
    # the same image on two channels gives the same embedded tokens on both
    emb = enc.embed(torch.cat([x, x], 1))
    torch.testing.assert_close(emb[:, 0], emb[:, 1])
    pe = sincos_2d(32, 4, 4)
    assert pe.shape == (16, 32)
    assert not torch.allclose(pe[0], pe[1])


def test_padding_never_changes_a_sample() -> None:
    torch.manual_seed(0)
    enc = tiny()
    a = torch.randn(1, 2, 32, 32)
    b = torch.randn(1, 4, 32, 32)
    alone = enc.features(a)
    padded = torch.zeros(2, 4, 32, 32)
    padded[0, :2] = a[0]
    padded[0, 2:] = 1e3 * torch.randn(2, 32, 32)  # garbage in padding slots must not leak
    padded[1] = b[0]
    batch = enc.features(padded, torch.tensor([2, 4]))
    torch.testing.assert_close(batch[0:1], alone, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(batch[1:2], enc.features(b), atol=1e-5, rtol=1e-5)


def test_keep_subset_with_padding_matches_exact_subset() -> None:
    torch.manual_seed(0)
    enc = tiny()
    x = torch.randn(1, 2, 32, 32)
    keep = torch.tensor([[0, 3, 5, 15]])
    exact, _ = enc(x, keep=keep)
    keep_pad = torch.tensor([[0, 3, 5, 15, 7, 8]])
    valid = torch.tensor([[True, True, True, True, False, False]])
    padded, v = enc(x, keep=keep_pad, keep_valid=valid)
    got = padded.view(1, 2, 6, 32)[:, :, :4].reshape(1, 8, 32)
    torch.testing.assert_close(got, exact, atol=1e-5, rtol=1e-5)
    assert v.sum() == 8


def test_cls_pooling_and_channel_embedding() -> None:
    enc = tiny(cls_token=True, pool="cls", channel_embed=True, max_channels=4)
    tokens, valid = enc(torch.randn(3, 2, 32, 32))
    assert tokens.shape == (3, 1 + 2 * 16, 32)
    torch.testing.assert_close(enc.pool_tokens(tokens, valid), tokens[:, 0])
    with pytest.raises(ValueError, match="channel_embed knows only 4"):
        enc(torch.randn(1, 5, 32, 32))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(patch_size=7), "must divide"),
        (dict(pool="max"), "pool must be"),
        (dict(pool="cls"), "needs cls_token"),
        (dict(num_heads=5), "divisible by num_heads"),
    ],
)
def test_bad_configuration_is_refused(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        tiny(**kwargs)


def test_bad_inputs_are_refused() -> None:
    enc = tiny()
    with pytest.raises(ValueError, match=r"expects inputs of size \(32, 32\)"):
        enc(torch.randn(1, 1, 16, 32))
    with pytest.raises(ValueError, match="between 1 and 2 channels"):
        enc(torch.randn(2, 2, 32, 32), torch.tensor([0, 2]))


def test_bf16_autocast_runs_on_cpu() -> None:
    enc = tiny()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = enc.features(torch.randn(2, 3, 32, 32))
    assert out.dtype == torch.bfloat16 and torch.isfinite(out.float()).all()


@pytest.mark.parametrize("init", ["xavier", "ijepa"])
def test_init_schemes_set_the_std_of_every_linear(init: str) -> None:
    """Every Linear (and the patch projection) of encoder, predictor and MAE decoder follows the scheme."""
    import math

    from timm.models.vision_transformer import Block

    from wfm.models.decoder import MAEDecoder
    from wfm.models.predictor import Predictor

    torch.manual_seed(0)
    modules = [
        ViTEncoder(img_size=64, patch_size=8, embed_dim=128, depth=4, num_heads=4, init=init),
        Predictor((8, 8), embed_dim=128, predictor_dim=64, depth=3, num_heads=4, init=init),
        MAEDecoder((8, 8), 8, embed_dim=128, decoder_dim=64, depth=3, num_heads=4, init=init),
    ]
    for module in modules:
        blocks = [m for m in module.modules() if isinstance(m, Block)]
        rescaled = {id(b.attn.proj): i for i, b in enumerate(blocks, 1)}
        rescaled |= {id(b.mlp.fc2): i for i, b in enumerate(blocks, 1)}
        layers = [m for m in module.modules() if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d))]
        assert layers
        for layer in layers:
            w = layer.weight.detach().reshape(layer.weight.shape[0], -1)
            fan_out, fan_in = w.shape
            if init == "xavier":
                expected = math.sqrt(2.0 / (fan_in + fan_out))
            else:
                # trunc_normal(0.02) truncated at ±2 std has std 0.02 * 0.8796; block outputs / sqrt(2 i)
                depth = rescaled.get(id(layer))
                expected = 0.02 * 0.8796 / (math.sqrt(2.0 * depth) if depth else 1.0)
            assert float(w.std()) == pytest.approx(expected, rel=0.1), (type(module).__name__, tuple(w.shape))
            if layer.bias is not None:
                assert float(layer.bias.detach().abs().max()) == 0.0
    with pytest.raises(ValueError, match="init must be one of"):
        ViTEncoder(img_size=32, patch_size=8, embed_dim=32, depth=1, num_heads=4, init="kaiming")


def test_channel_codes_are_distinct_fixed_and_at_position_scale() -> None:
    from wfm.models.pos_embed import channel_codes

    codes = channel_codes(16, 128)
    # orthogonal rows of the norm of a sine-cosine position row, the same on every call (not learned)
    gram = codes @ codes.T
    torch.testing.assert_close(torch.diag(gram), torch.full((16,), 64.0))
    assert float((gram - torch.diag(torch.diag(gram))).abs().max()) < 1e-4
    torch.testing.assert_close(channel_codes(16, 128), codes)
    assert float(sincos_2d(128, 7, 7).norm(dim=1).mean()) == pytest.approx(8.0, rel=1e-5)
    # more codes than dimensions: still distinct (random rows), same norm
    many = channel_codes(200, 32)
    assert torch.allclose(many.norm(dim=1), torch.full((200,), 4.0))
    assert torch.unique(many, dim=0).shape[0] == 200
    enc = tiny(channel_embed="fixed", max_channels=8)
    assert not list(p for n, p in enc.named_parameters() if n.startswith("channel_embed"))  # not decayed, not trained


def test_channel_identity_survives_channel_sampling() -> None:
    """A channel keeps its code wherever sampling puts it: tokens depend on which channel, not which slot."""
    import numpy as np

    from wfm.views.channels import sample_channels

    torch.manual_seed(0)
    enc = tiny(channel_embed="fixed", max_channels=4)
    x = torch.randn(64, 4, 32, 32)
    full, _ = enc(x)  # (B, 4 * 16, D), channel-major
    xs, k, ids = sample_channels(x, torch.full((64,), 4), np.random.default_rng(0), "sample")
    sub, valid = enc(xs, k, channel_ids=ids)
    for b in range(64):
        if int(k[b]) != 1:
            continue
        # a sample reduced to one channel: its tokens equal those of that channel encoded alone with its code
        c = int(ids[b, 0])
        alone, _ = enc(x[b : b + 1, c : c + 1], channel_ids=torch.tensor([[c]]))
        torch.testing.assert_close(sub[b, :16], alone[0], atol=1e-5, rtol=1e-5)
    # without channel ids the same subset would carry the codes of slots 0..k-1: a different encoding
    moved = [b for b in range(64) if int(k[b]) == 1 and int(ids[b, 0]) != 0]
    assert moved
    b = moved[0]
    slot0, _ = enc(xs[b : b + 1, :1])
    assert not torch.allclose(slot0[0], sub[b, :16], atol=1e-3)
    with pytest.raises(ValueError, match="channel indices must be in"):
        enc(x[:, :1], channel_ids=torch.full((64, 1), 4))


def test_intermediates_end_in_the_forward_output_and_refuse_a_bad_depth() -> None:
    enc = tiny(depth=3).eval()
    x, channels = torch.randn(2, 3, 32, 32), torch.tensor([3, 2])
    outs, valid = enc.forward_intermediates(x, channels, last=2)
    tokens, valid_fwd = enc(x, channels)
    assert len(outs) == 2 and all(o.shape == tokens.shape for o in outs)
    assert torch.equal(valid, valid_fwd)
    torch.testing.assert_close(enc.norm(outs[-1]), tokens)
    with pytest.raises(ValueError, match="last must be in"):
        enc.forward_intermediates(x, channels, last=4)
