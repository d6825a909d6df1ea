"""Raw IQ streams as tokens for the shared ViT encoder (the multimodal WFM's IQ path).

A sample ``(A, 2, T)`` (antennas x (I, Q) x time) is cut, per antenna, into ``S = T / segment`` fixed-length
segments of ``segment`` complex samples; each segment's ``2 * segment`` reals (its I values, then its Q
values) are mapped to ``embed_dim`` by one linear projection shared by all antennas. A 1-D sine-cosine
embedding of the segment index gives the time position, and an antenna embedding says which antenna a token
comes from. The result is laid out like the image path's ``(B, C, N, D)`` tokens with antennas as channels
and segments as grid positions (a ``1 x S`` grid), so attention, padding masks, channel (antenna) sampling,
pooling and export are shared with spectrograms and CSI.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from wfm.models.pos_embed import sincos_1d

#: the token family (and data modality) of raw IQ streams
IQ = "iq"


def segment_iq(x: torch.Tensor, segment: int) -> torch.Tensor:
    """``(B, A, 2, T)`` -> ``(B, A, S, 2 * segment)``: segment ``s`` holds ``I[s*L:(s+1)*L]`` then
    ``Q[s*L:(s+1)*L]`` with ``L = segment``. ``T`` must be a multiple of ``segment``."""
    if x.ndim != 4 or x.shape[2] != 2:
        raise ValueError(f"IQ input must be (B, antennas, 2, T), got shape {tuple(x.shape)}")
    b, a, _, t = x.shape
    if t % segment:
        raise ValueError(f"IQ length {t} is not a multiple of the segment length {segment}")
    s = t // segment
    return x.reshape(b, a, 2, s, segment).permute(0, 1, 3, 2, 4).reshape(b, a, s, 2 * segment)


def unsegment_iq(tokens: torch.Tensor, segment: int) -> torch.Tensor:
    """Inverse of :func:`segment_iq`: ``(B, A, S, 2 * segment)`` -> ``(B, A, 2, S * segment)``."""
    if tokens.ndim != 4 or tokens.shape[-1] != 2 * segment:
        raise ValueError(f"IQ segments must be (B, A, S, {2 * segment}), got shape {tuple(tokens.shape)}")
    b, a, s, _ = tokens.shape
    return tokens.reshape(b, a, s, 2, segment).permute(0, 1, 3, 2, 4).reshape(b, a, 2, s * segment)


class IQTokenizer(nn.Module):
    """Linear projection of IQ segments plus the fixed 1-D time position embedding.

    Args:
        length: samples ``T`` per antenna that the encoder takes.
        segment: complex samples per token (the paper: 16, i.e. 32 reals).
        embed_dim: token width.
    """

    family = IQ
    #: the data modalities this tokenizer embeds
    modalities = (IQ,)
    #: the encoder attribute it lives under (state-dict prefix) and the channel-identity table it uses
    attr, identity = "iq", "antenna_embed"
    #: what its inputs are, in messages
    description = "IQ streams"

    def __init__(self, length: int, segment: int, embed_dim: int) -> None:
        super().__init__()
        if segment < 1 or length < segment or length % segment:
            raise ValueError(f"iq_length={length} must be a positive multiple of iq_segment={segment}")
        if embed_dim % 2:
            raise ValueError(f"the IQ position embedding needs an even width, got embed_dim={embed_dim}")
        self.length = int(length)
        self.segment = int(segment)
        self.num_segments = self.length // self.segment
        self.proj = nn.Linear(2 * self.segment, embed_dim)
        self.grid = (1, self.num_segments)
        self.register_buffer("pos_embed", sincos_1d(embed_dim, torch.arange(self.num_segments)), persistent=False)

    @classmethod
    def build(cls, config: dict[str, Any], embed_dim: int) -> IQTokenizer | None:
        """An IQ path for encoders built with ``iq_length > 0``, else none."""
        if not config.get("iq_length"):
            return None
        return cls(int(config["iq_length"]), int(config.get("iq_segment", 16)), embed_dim)

    def check_sample(self, hw: tuple[int, int], who: str) -> None:
        """Raise if one antenna of a sample, ``(2, T)``, cannot be tokenized (``who`` names the encoder)."""
        if hw[1] != self.length:
            raise ValueError(f"IQ samples have {hw[1]} time samples, but {who} takes {self.length} (iq_length); "
                             "convert the file at that length (or set the task's size)")

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """(B, A, 2, T) -> projected segments (B, A, S, D)."""
        return self(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, A, 2, T)`` -> projected segments ``(B, A, S, D)``; the encoder then applies the modality's
        affine and adds ``pos_embed`` and the antenna embedding."""
        if x.shape[-1] != self.length:
            raise ValueError(f"encoder expects IQ streams of {self.length} samples, got {x.shape[-1]}")
        return self.proj(segment_iq(x, self.segment))
