"""The trunk the JEPA predictor and the MAE decoder share: a narrow ViT over per-channel tokens that fills
positions the encoder did not see with a learned mask token.

Input projection ``D -> d``, one learned mask token, the fixed 2-D sine-cosine position embedding of the grid,
a channel embedding (fixed codes by default, :class:`~wfm.models.encoder.ChannelEmbedding`) so tokens of the
same position on two channels differ, pre-norm blocks and a final LayerNorm. The subclasses add their output
layer and say how the tokens are laid out.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from wfm.choices import check_number
from wfm.models.encoder import Block, ChannelEmbedding, init_vit_weights
from wfm.models.pos_embed import sincos_1d, sincos_2d
from wfm.models.tokenizers.iq import IQ


class NarrowViT(nn.Module):
    """Shared layers of :class:`~wfm.models.predictor.Predictor` and :class:`~wfm.models.decoder.MAEDecoder`.

    Args:
        grid_size: (grid_h, grid_w) patch grid of the encoder.
        embed_dim: encoder width ``D`` (input).
        width, depth, num_heads, mlp_ratio: the narrow transformer.
        max_channels: channel indices known to the channel embedding.
        channel_embed: ``fixed`` codes or a ``learned`` table.
        mask_token_shape: leading singleton dims of the mask token (the subclass's broadcasting layout).
        what: the subclass's name in error messages.
        iq_segments: time segments ``S`` of the encoder's IQ tokens (0: image-only encoder).
    """

    def __init__(
        self,
        grid_size: Sequence[int],
        embed_dim: int,
        width: int,
        depth: int,
        num_heads: int,
        mlp_ratio: float,
        max_channels: int,
        channel_embed: str,
        mask_token_shape: tuple[int, ...],
        what: str,
        iq_segments: int = 0,
    ) -> None:
        super().__init__()
        for name, value in (("width", width), ("depth", depth), ("heads", num_heads)):
            check_number(f"{what} {name}", value, ge=1, integer=True)
        if channel_embed not in ("fixed", "learned"):
            raise ValueError(f"{what} channel_embed must be 'fixed' or 'learned', got {channel_embed!r}")
        self.grid_size = tuple(int(g) for g in grid_size)
        self.num_patches = self.grid_size[0] * self.grid_size[1]
        self.max_channels = int(max_channels)
        self.proj_in = nn.Linear(embed_dim, width)
        self.mask_token = nn.Parameter(torch.zeros(*mask_token_shape, width))
        self.register_buffer("pos_embed", sincos_2d(width, *self.grid_size), persistent=False)
        self.channel_embed = ChannelEmbedding(channel_embed, max_channels, width)
        self.iq_segments = int(iq_segments)
        self.antenna_embed: ChannelEmbedding | None = None
        if self.iq_segments:
            self.register_buffer("pos_embed_iq", sincos_1d(width, torch.arange(self.iq_segments)), persistent=False)
            self.antenna_embed = ChannelEmbedding(channel_embed, max_channels, width, code_offset=max_channels)
        self.blocks = nn.ModuleList(Block(width, num_heads, mlp_ratio) for _ in range(depth))
        self.norm = nn.LayerNorm(width, eps=1e-6)

    def reset_parameters(self, init: str) -> None:
        """Every layer by ``init`` (subclass output layers included), the mask token ``N(0, 0.02)``."""
        init_vit_weights(self, init)
        nn.init.normal_(self.mask_token, std=0.02)

    def tables(self, modality: str = "image", grid: Sequence[int] | None = None
               ) -> tuple[torch.Tensor, ChannelEmbedding]:
        """The position table ``(N, width)`` and the channel (antenna) embedding of token family ``modality``.

        ``grid``: the family's token grid, for a family registered beyond image and IQ (its 2-D sine-cosine
        positions at this width, made once per grid); the image family's grid is the one built with.
        """
        if modality == IQ:
            if self.antenna_embed is None:
                raise ValueError("this model was built for an image-only encoder; it cannot take IQ tokens")
            return self.pos_embed_iq, self.antenna_embed
        if grid is None or tuple(grid) == self.grid_size:
            return self.pos_embed, self.channel_embed
        key = tuple(int(g) for g in grid)
        cache = self.__dict__.setdefault("_grid_tables", {})
        table = cache.get(key)
        if table is None or table.device != self.pos_embed.device:
            table = cache[key] = sincos_2d(self.pos_embed.shape[1], *key).to(self.pos_embed.device)
        return table, self.channel_embed
