"""JEPA predictor: a narrow ViT that maps context tokens plus mask tokens at target positions to the target
encoder's representations of those positions.

Inputs are per-channel tokens laid out channel-major, like the encoder's. Mask tokens at the same grid
position on two channels would be identical without a hint of which channel they stand for, so the predictor
adds a channel embedding to context and mask tokens, looked up by each slot's input channel index (which
channel sampling keeps). The paper leaves this unspecified; without it the predictor can only output the
average over channels. The default is a fixed code at the scale of the position embedding
(:func:`~wfm.models.pos_embed.channel_codes`): a learned one (std 0.02, weight-decayed) was measured to stay
at its init norm, 30x below the position signal, and the predictor ignored it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from wfm.models.encoder import check_channel_ids, default_channel_ids, key_padding_mask
from wfm.models.narrow_vit import NarrowViT


class Predictor(NarrowViT):
    """Narrow ViT predictor.

    Args:
        grid_size: (grid_h, grid_w) patch grid of the encoder.
        embed_dim: encoder width ``D`` (input and output).
        predictor_dim: predictor width ``D_pred``.
        depth, num_heads, mlp_ratio: predictor transformer shape.
        max_channels: channel indices known to the channel embedding.
        channel_embed: ``fixed`` codes (default) or a ``learned`` table (the behaviour before codes).
        init: weight initialisation (``wfm.models.encoder.INIT_SCHEMES``).
        iq_segments: the encoder's IQ time segments (0: image-only encoder).
    """

    def __init__(
        self,
        grid_size: Sequence[int],
        embed_dim: int = 256,
        predictor_dim: int = 128,
        depth: int = 4,
        num_heads: int = 4,
        mlp_ratio: float = 4.0,
        max_channels: int = 64,
        channel_embed: str = "fixed",
        init: str = "xavier",
        iq_segments: int = 0,
    ) -> None:
        super().__init__(grid_size, embed_dim, predictor_dim, depth, num_heads, mlp_ratio, max_channels, channel_embed,
                         (1, 1), "predictor", iq_segments)
        self.proj_out = nn.Linear(predictor_dim, embed_dim)
        self.reset_parameters(init)

    def forward(
        self,
        context: torch.Tensor,
        context_valid: torch.Tensor,
        context_idx: torch.Tensor,
        target_idx: torch.Tensor,
        target_valid: torch.Tensor,
        channel_valid: torch.Tensor,
        channel_ids: torch.Tensor | None = None,
        modality: str = "image",
        grid: Sequence[int] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Predict target representations.

        Args:
            context: (B, C*Kc, D) context-encoder output (no prefix tokens), channel-major.
            context_valid: (B, C*Kc) bool.
            context_idx: (B, Kc) grid positions of the context tokens.
            target_idx: (B, M, Kt) grid positions of each target block; target_valid: (B, M, Kt) bool.
            channel_valid: (B, C) bool, real channel slots; or (B, M, C): the slots predicted for each target
                block (e.g. only the held-out channels on a block of context positions).
            channel_ids: (B, C) input channel index of every slot; None: slot ``c`` is channel ``c``.
            modality: token family: ``image``, ``iq`` (grid positions are time segments, channels are antennas)
                or a registered other family, whose token ``grid`` is then given.

        Returns:
            predictions (B, M, C*Kt, D) and their validity (B, M, C*Kt).
        """
        b, c = channel_valid.shape[0], channel_valid.shape[-1]
        kc = context_idx.shape[1]
        _, m, kt = target_idx.shape
        if channel_ids is None:
            if c > self.max_channels:
                raise ValueError(f"predictor knows {self.max_channels} channel slots, batch has {c}")
            channel_ids = default_channel_ids(b, c, context.device)
        check_channel_ids(channel_ids, b, c, self.max_channels, "predictor")
        if context.shape[1] != c * kc:
            raise ValueError(f"context has {context.shape[1]} tokens, expected C*Kc = {c}*{kc}")
        pos_embed, channel_embed = self.tables(modality, grid)
        chan = channel_embed(channel_ids.to(context.device))  # (B, C, Dp)
        z = self.proj_in(context).view(b, c, kc, -1)
        z = z + pos_embed[context_idx][:, None] + chan[:, :, None]
        dp = z.shape[-1]
        z = z.reshape(b, 1, c * kc, dp).expand(b, m, c * kc, dp).reshape(b * m, c * kc, dp)
        zv = context_valid[:, None].expand(b, m, c * kc).reshape(b * m, c * kc)

        q = self.mask_token + pos_embed[target_idx][:, :, None] + chan[:, None, :, None]  # (B,M,C,Kt,Dp)
        q = q.reshape(b * m, c * kt, dp).to(z.dtype)
        per_block = channel_valid if channel_valid.ndim == 3 else channel_valid[:, None]
        qv = (per_block[:, :, :, None] & target_valid[:, :, None, :]).reshape(b * m, c * kt)

        x = torch.cat([z, q], dim=1)
        valid = torch.cat([zv, qv], dim=1)
        mask = key_padding_mask(valid)
        for blk in self.blocks:
            x = blk(x, attn_mask=mask)
        out = self.proj_out(self.norm(x[:, c * kc :]))
        return out.view(b, m, c * kt, -1), qv.view(b, m, c * kt)
