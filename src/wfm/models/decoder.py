"""MAE decoder: a narrow ViT that turns the encoder's visible tokens plus mask tokens back into patch pixels.

Like the encoder and the JEPA predictor it works on per-channel tokens laid out channel-major. The visible
tokens of every channel are projected to the decoder width and put back at their grid positions; every
removed position gets the shared learned mask token. A fixed 2-D sine-cosine embedding says where a token
sits on the (frequency x time) grid and a channel embedding (fixed codes by default, looked up by each slot's
input channel index, as in the JEPA predictor) says which channel it belongs to — without it the mask tokens
of one position would be identical on every channel and the decoder could only reconstruct their average.
One linear head (shared by all channels, because the patch embedding is shared too) maps each token to the
``P * P`` pixels of its patch. For an encoder that also takes raw IQ, IQ batches use the trunk's IQ tables
and their own head (the modality's reconstruction head), mapping each token to the ``2 * segment`` reals
of its segment.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from wfm.models.encoder import check_channel_ids, default_channel_ids, key_padding_mask
from wfm.models.narrow_vit import NarrowViT
from wfm.models.tokenizers.iq import IQ


class MAEDecoder(NarrowViT):
    """Narrow ViT decoder for masked autoencoding.

    Args:
        grid_size: (grid_h, grid_w) patch grid of the encoder.
        patch_size: side ``P`` of the encoder's patches (the head outputs ``P * P`` values per token).
        embed_dim: encoder width ``D`` (input).
        decoder_dim, depth, num_heads, mlp_ratio: decoder transformer shape.
        max_channels: channel indices known to the channel embedding.
        channel_embed: ``fixed`` codes (default) or a ``learned`` table (the behaviour before codes).
        init: weight initialisation (``wfm.models.encoder.INIT_SCHEMES``).
        iq_segments, iq_segment: the encoder's IQ time segments and complex samples per segment (0: image only).
    """

    def __init__(
        self,
        grid_size: Sequence[int],
        patch_size: int,
        embed_dim: int = 256,
        decoder_dim: int = 128,
        depth: int = 4,
        num_heads: int = 4,
        mlp_ratio: float = 4.0,
        max_channels: int = 64,
        channel_embed: str = "fixed",
        init: str = "xavier",
        iq_segments: int = 0,
        iq_segment: int = 16,
    ) -> None:
        super().__init__(grid_size, embed_dim, decoder_dim, depth, num_heads, mlp_ratio, max_channels, channel_embed,
                         (1, 1, 1), "decoder", iq_segments)
        self.patch_size = int(patch_size)
        self.head = nn.Linear(decoder_dim, self.patch_size**2)
        self.head_iq = nn.Linear(decoder_dim, 2 * int(iq_segment)) if iq_segments else None
        self.reset_parameters(init)

    def forward(
        self,
        tokens: torch.Tensor,
        keep: torch.Tensor,
        keep_valid: torch.Tensor,
        channel_valid: torch.Tensor,
        num_prefix: int = 0,
        channel_ids: torch.Tensor | None = None,
        modality: str = "image",
        hidden: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Reconstruct every patch (IQ: every segment) of every channel slot.

        Args:
            tokens: (B, prefix + C*K, D) encoder output on the kept positions, channel-major.
            keep: (B, K) grid positions the encoder saw; keep_valid: (B, K) bool, False on padding.
            channel_valid: (B, C) bool, real channel slots.
            num_prefix: number of prefix (CLS) tokens at the front of ``tokens``; they join the decoder's
                attention but are not reconstructed.
            channel_ids: (B, C) input channel index of every slot; None: slot ``c`` is channel ``c``.
            modality: ``image`` or ``iq``.
            hidden: (B, C) bool, channel slots the encoder did not see (their ``tokens`` are ignored): mask
                tokens at every position.

        Returns:
            (B, C, N, P*P) predicted pixels of every patch, row-major grid order; for IQ (B, A, S, 2*segment),
            the layout of :func:`~wfm.models.tokenizers.iq.segment_iq`.
        """
        b, c = channel_valid.shape
        k = keep.shape[1]
        pos_embed, channel_embed = self.tables(modality)
        n = pos_embed.shape[0]
        if channel_ids is None:
            if c > self.max_channels:
                raise ValueError(f"decoder knows {self.max_channels} channel slots, batch has {c}")
            channel_ids = default_channel_ids(b, c, tokens.device)
        check_channel_ids(channel_ids, b, c, self.max_channels, "decoder")
        if tokens.shape[1] != num_prefix + c * k:
            raise ValueError(
                f"decoder got {tokens.shape[1]} tokens, expected prefix + C*K = {num_prefix}+{c}*{k}"
            )
        z = self.proj_in(tokens)
        dd = z.shape[-1]
        prefix, z = z[:, :num_prefix], z[:, num_prefix:].reshape(b, c, k, dd)

        # visible tokens back onto the grid; padded keep entries go to a spare slot N that is cut off
        idx = torch.where(keep_valid, keep, torch.full_like(keep, n))
        grid = self.mask_token.to(z.dtype).expand(b, c, n + 1, dd).clone()
        grid.scatter_(2, idx[:, None, :, None].expand(b, c, k, dd), z)
        grid = grid[:, :, :n]
        if hidden is not None:
            grid = torch.where(hidden[:, :, None, None], self.mask_token.to(z.dtype), grid)
        chan = channel_embed(channel_ids.to(z.device)).to(z.dtype)  # (B, C, Dd)
        grid = grid + pos_embed.to(z.dtype) + chan[:, :, None, :]

        x = torch.cat([prefix, grid.reshape(b, c * n, dd)], dim=1)
        valid = torch.cat([
            torch.ones(b, num_prefix, dtype=torch.bool, device=x.device),
            channel_valid[:, :, None].expand(b, c, n).reshape(b, c * n),
        ], dim=1)
        mask = key_padding_mask(valid)
        for blk in self.blocks:
            x = blk(x, attn_mask=mask)
        head = self.head_iq if modality == IQ else self.head
        out = head(self.norm(x[:, num_prefix:]))
        return out.view(b, c, n, -1)
