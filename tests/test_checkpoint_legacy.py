"""Checkpoints written before the blocks became timm's (commit ad38305) still load for `wfm test`."""

from __future__ import annotations

from pathlib import Path

import torch

from wfm.checkpoint import load_backbone, upgrade_state_dict

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def test_a_checkpoint_from_before_the_change_loads_and_encodes_as_it_did() -> None:
    # legacy_jepa_tiny.ckpt: a tiny JEPA trained 3 steps and saved by Lightning with the old code; the .pt holds
    # inputs and the old target encoder's pooled features of them
    backbone = load_backbone(FIXTURES / "legacy_jepa_tiny.ckpt").eval()
    ref = torch.load(FIXTURES / "legacy_jepa_tiny_features.pt", weights_only=True)
    with torch.no_grad():
        torch.testing.assert_close(backbone.features(ref["x"]), ref["features"], atol=1e-5, rtol=1e-5)
    # an old config said channel_embed=False: the rebuilt encoder has no channel embedding
    assert backbone.channel_embed is None


def test_legacy_key_mapping() -> None:
    old = {"blocks.0.mlp.0.weight": 1, "blocks.3.mlp.2.bias": 2, "encoder.blocks.1.mlp.0.bias": 3, "norm.weight": 4,
           "head.mlp.0.weight": 5}
    assert upgrade_state_dict(old) == {"blocks.0.mlp.fc1.weight": 1, "blocks.3.mlp.fc2.bias": 2,
                                       "encoder.blocks.1.mlp.fc1.bias": 3, "norm.weight": 4, "head.mlp.0.weight": 5}
