"""wfm.models.decoder: the MAE decoder's output shapes with padded keep indices, and its channel-slot check."""

from __future__ import annotations

import pytest
import torch

from wfm.models.decoder import MAEDecoder


def test_decoder_shapes_and_padded_keep() -> None:
    dec = MAEDecoder((4, 4), 8, embed_dim=32, decoder_dim=16, depth=1, num_heads=2, max_channels=2)
    tok = torch.randn(2, 2 * 3, 32)
    keep = torch.tensor([[0, 5, 9], [1, 2, 0]])
    keep_valid = torch.tensor([[True, True, True], [True, True, False]])
    out = dec(tok, keep, keep_valid, torch.ones(2, 2, dtype=torch.bool))
    assert out.shape == (2, 2, 16, 64)
    with pytest.raises(ValueError, match="channel slots"):
        dec(torch.randn(1, 3 * 3, 32), keep[:1], keep_valid[:1], torch.ones(1, 3, dtype=torch.bool))
