"""JEPA-MSAC's networks: token counts and shapes per tokenizer, the factorized embedding, and that no future frame
can reach the heads."""

from __future__ import annotations

import pytest
import torch
from msac_tiny import SHAPES, TOKENS

from wfm.models.msac import (
    PAPER_TOKENS,
    MapTokenizer,
    MSACEncoder,
    MSACPredictor,
    StateTokenizer,
    build_tokenizer,
    predict_future,
)


def _inputs(b: int, frames: int, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {k: torch.randn((b, frames, *s), generator=g) for k, s in SHAPES.items()}


@pytest.mark.parametrize("name", list(SHAPES))
def test_each_tokenizer_gives_its_token_count(name: str) -> None:
    tokens = PAPER_TOKENS[name]
    tok = build_tokenizer(name, SHAPES[name], 24, tokens)
    x = torch.randn(5, *SHAPES[name])
    assert tok(x).shape == (5, tokens, 24)


def test_paper_token_counts_and_tokenizer_kinds() -> None:
    assert PAPER_TOKENS == {"image": 9, "radar": 16, "lidar": 16, "gps": 1, "beam_power": 1}
    assert isinstance(build_tokenizer("radar", (1, 32, 32), 8, 16), MapTokenizer)
    assert isinstance(build_tokenizer("lidar", (1, 16, 64), 8, 16), MapTokenizer)
    gps = build_tokenizer("gps", (2,), 8, 1)
    assert isinstance(gps, StateTokenizer) and isinstance(gps.norm, torch.nn.LayerNorm)
    with pytest.raises(ValueError, match="square token count"):
        build_tokenizer("radar", (1, 32, 32), 8, 5)
    with pytest.raises(ValueError, match="one token per frame"):
        build_tokenizer("gps", (2,), 8, 2)


def test_sequence_is_time_major_with_all_tokens() -> None:
    enc = MSACEncoder(SHAPES, frames=7, tokens=TOKENS, embed_dim=16, depth=1, num_heads=2, tokenizer_width=4)
    z = enc.tokenize(_inputs(2, 7))
    assert enc.tokens_per_frame == 14 and z.shape == (2, 7 * 14, 16)
    t, m, p = enc.layout(7)
    assert t.tolist()[:14] == [0] * 14 and t.tolist()[14] == 1
    assert m.tolist()[:14] == [0] * 4 + [1] * 4 + [2] * 4 + [3] + [4]
    assert p.tolist()[:5] == [0, 1, 2, 3, 0]


def test_factorized_embedding_is_the_sum_of_three_tables() -> None:
    enc = MSACEncoder(SHAPES, frames=7, tokens=TOKENS, embed_dim=16, depth=1, num_heads=2, tokenizer_width=4,
                      gps_relative=0.0)
    with torch.no_grad():
        enc.pos.time.copy_(torch.arange(7).float()[:, None].expand(7, 16) * 100)
        enc.pos.modality.copy_(torch.arange(5).float()[:, None].expand(5, 16) * 10)
        enc.pos.index.copy_(torch.arange(4).float()[:, None].expand(4, 16))
    inputs = _inputs(1, 7)
    raw = {k: enc.tokenizers[k](v[0]) for k, v in inputs.items()}  # (T, P_m, D) each
    z = enc.tokenize(inputs)[0].detach()
    # frame 3, LiDAR (modality 2), token 1: position 3 * 14 + 8 + 1
    i = 3 * 14 + 8 + 1
    assert torch.allclose(z[i], raw["lidar"][3, 1].detach() + 300 + 20 + 1, atol=1e-5)
    # frame 6, beam power (modality 4, its only token)
    assert torch.allclose(z[6 * 14 + 13], raw["beam_power"][6, 0].detach() + 600 + 40 + 0, atol=1e-5)


def test_no_future_frame_reaches_the_heads() -> None:
    """Perturbing every future-frame input leaves S_pred (the heads' input) bit-identical."""
    torch.manual_seed(0)
    enc = MSACEncoder(SHAPES, frames=7, tokens=TOKENS, embed_dim=16, depth=2, num_heads=2, tokenizer_width=4)
    pred = MSACPredictor(enc, pred_dim=8, depth=1, num_heads=2)
    enc.eval()
    pred.eval()
    a = _inputs(3, 7, seed=1)
    b = {k: v.clone() for k, v in a.items()}
    for v in b.values():
        v[:, 4:] = torch.randn_like(v[:, 4:]) * 100 + 7
    with torch.no_grad():
        sa, sb = predict_future(enc, pred, a, history=4), predict_future(enc, pred, b, history=4)
    assert sa.shape == (3, 3, 5 * 16)  # one mean per modality (pool="modality")
    assert torch.equal(sa, sb)
    # and the history does matter
    c = {k: v.clone() for k, v in a.items()}
    c["gps"][:, 0] += 1.0
    with torch.no_grad():
        assert not torch.equal(predict_future(enc, pred, c, history=4), sa)


def test_encoder_refuses_other_frame_shapes() -> None:
    enc = MSACEncoder(SHAPES, frames=7, tokens=TOKENS, embed_dim=16, depth=1, num_heads=2, tokenizer_width=4)
    bad = _inputs(1, 7)
    bad["radar"] = torch.randn(1, 7, 1, 9, 9)
    with pytest.raises(ValueError, match=r"radar frames have shape \(1, 9, 9\)"):
        enc.tokenize(bad)
    missing = {k: v for k, v in _inputs(1, 7).items() if k != "lidar"}
    with pytest.raises(ValueError, match="no \\['lidar'\\]"):
        enc.tokenize(missing)


def test_gps_token_sees_the_fix_relative_to_the_first_frame() -> None:
    """A translation of the whole track changes only the absolute half of the GPS token's input."""
    enc = MSACEncoder(SHAPES, frames=7, tokens=TOKENS, embed_dim=16, depth=1, num_heads=2, tokenizer_width=4,
                      gps_relative=8.0)
    assert enc.tokenizers["gps"].proj.in_features == 4
    with torch.no_grad():
        enc.tokenizers["gps"].proj.weight[:, :2] = 0.0  # keep only the relative inputs
    a = _inputs(2, 7)
    b = {k: v.clone() for k, v in a.items()}
    b["gps"] += torch.tensor([3.0, -1.0])
    za, zb = enc.tokenize(a), enc.tokenize(b)
    gps = enc.token_modality() == enc.modalities.index("gps")
    assert torch.allclose(za[:, gps], zb[:, gps], atol=1e-5)


def test_power_token_sees_the_profile_relative_to_the_first_frame() -> None:
    """``power_relative``: the beam-power token's input is ``[p_t, f (p_t - p_0)]``; a level shift of the whole
    window's profiles changes only the absolute half, and the option is recorded (absent when 0)."""
    enc = MSACEncoder(SHAPES, frames=7, tokens=TOKENS, embed_dim=16, depth=1, num_heads=2, tokenizer_width=4,
                      power_relative=4.0)
    k = SHAPES["beam_power"][0]
    assert enc.tokenizers["beam_power"].proj.in_features == 2 * k and enc.config["power_relative"] == 4.0
    assert "power_relative" not in MSACEncoder(SHAPES, frames=7, tokens=TOKENS, embed_dim=16, depth=1,
                                               num_heads=2, tokenizer_width=4).config
    with torch.no_grad():
        enc.tokenizers["beam_power"].proj.weight[:, :k] = 0.0  # keep only the relative inputs
    a = _inputs(2, 7)
    b = {m: v.clone() for m, v in a.items()}
    b["beam_power"] += 1.5
    za, zb = enc.tokenize(a), enc.tokenize(b)
    power = enc.token_modality() == enc.modalities.index("beam_power")
    assert torch.allclose(za[:, power], zb[:, power], atol=1e-5)
    c = {m: v.clone() for m, v in a.items()}
    c["beam_power"][:, 3] += 1.5  # one frame's level moves: its relative input does
    assert not torch.allclose(za[:, power], enc.tokenize(c)[:, power], atol=1e-3)
