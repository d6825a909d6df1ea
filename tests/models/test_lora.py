"""wfm.models.lora: LoRA on the attention qkv (no-op at start, parameter count, q/v slices only, merge)."""

from __future__ import annotations

import copy

import pytest
import torch
from helpers import TINY_ENCODER_KW, tiny_encoder

from wfm.models.lora import LoRAQKV, add_lora, lora_parameters, merge_lora, merged_state_dict

DIM, DEPTH = TINY_ENCODER_KW["embed_dim"], TINY_ENCODER_KW["depth"]  # 32, 2


def test_lora_is_an_exact_no_op_at_init_and_keeps_state_keys() -> None:
    torch.manual_seed(0)
    enc = tiny_encoder()
    ref = copy.deepcopy(enc)
    keys = set(enc.state_dict())
    layers = add_lora(enc, rank=4, alpha=8.0)
    assert len(layers) == DEPTH and all(isinstance(m, LoRAQKV) for m in layers)
    assert keys <= set(enc.state_dict())  # the base weights keep their names
    x = torch.randn(2, 3, 32, 32)
    assert torch.equal(enc.features(x), ref.features(x))


@pytest.mark.parametrize("rank", [1, 4])
def test_lora_parameter_count(rank: int) -> None:
    enc = tiny_encoder()
    before = sum(p.numel() for p in enc.parameters())
    add_lora(enc, rank=rank, alpha=1.0)
    added = sum(p.numel() for p in enc.parameters()) - before
    assert added == DEPTH * 2 * rank * (DIM + DIM)
    assert sum(p.numel() for p in lora_parameters(enc)) == added


def test_lora_only_changes_query_and_value_slices() -> None:
    torch.manual_seed(0)
    layer = LoRAQKV(torch.nn.Linear(DIM, 3 * DIM), rank=2, alpha=4.0)
    with torch.no_grad():
        layer.lora_q_b.normal_()
        layer.lora_v_b.normal_()
    x = torch.randn(5, DIM)
    plain = torch.nn.functional.linear(x, layer.weight, layer.bias)
    diff = (layer(x) - plain).abs().amax(0)
    assert diff[:DIM].min() > 0 and diff[2 * DIM:].min() > 0
    assert torch.equal(diff[DIM:2 * DIM], torch.zeros(DIM))


def test_lora_merge_gives_identical_outputs_and_a_plain_encoder() -> None:
    torch.manual_seed(0)
    enc = tiny_encoder()
    add_lora(enc, rank=4, alpha=8.0)
    with torch.no_grad():
        for p in lora_parameters(enc):
            p.normal_(std=0.1)  # a trained adapter: B no longer zero
    x = torch.randn(2, 3, 32, 32)
    adapted = enc.features(x)
    plain = tiny_encoder()
    plain.load_state_dict(merged_state_dict(enc))  # strict: exactly a plain encoder's keys
    assert torch.allclose(plain.features(x), adapted, atol=1e-5)
    merge_lora(enc)
    assert not lora_parameters(enc)
    assert set(enc.state_dict()) == set(plain.state_dict())
    assert torch.allclose(enc.features(x), adapted, atol=1e-5)
