"""Masked autoencoder (the WavesFM baseline) on the same per-channel ViT encoder as LatentWave.

Each sample hides a random 75 % of the (frequency x time) grid positions — the same positions on every
channel, drawn as the argsort of uniform noise from the step's generator (the ``random`` geometry,
:class:`~wfm.views.RandomMask`; any other geometry can be given instead). The encoder sees only the visible
positions; a narrow decoder (:class:`~wfm.models.decoder.MAEDecoder`) fills the hidden ones with mask tokens
and reconstructs the pixels of every patch. The loss is the mean squared error on hidden patches of real
channels only, optionally against per-patch normalised pixels (``norm_pix_loss``). The encoder is what gets
exported and probed. An encoder that merges each complex channel's (re, im) pair into one token
(``complex_tokens="pair"``) gives the decoder that token at both its re and its im slot, told apart by the
decoder's channel codes, so both parts' pixels are reconstructed and the targets stay per input channel.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from wfm.methods.base import WFMMethod
from wfm.models.decoder import MAEDecoder
from wfm.models.encoder import ViTEncoder
from wfm.models.tokenizers.iq import IQ, segment_iq
from wfm.views import MaskGeometry, RandomMask, mask_to_indices
from wfm.views.channels import check_holdout, pad_channel_slots


def patchify(x: torch.Tensor, patch_size: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, N, P*P): the pixels of every patch, in the encoder's row-major grid order."""
    b, c, h, w = x.shape
    p = patch_size
    if h % p or w % p:
        raise ValueError(f"patch_size={p} must divide the input size ({h}, {w})")
    x = x.reshape(b, c, h // p, p, w // p, p).permute(0, 1, 2, 4, 3, 5)
    return x.reshape(b, c, (h // p) * (w // p), p * p)


def pixel_targets(x: torch.Tensor, encoder: ViTEncoder, modality: str = "image", norm: bool = False,
                  pairs: bool = False) -> torch.Tensor:
    """(B, C, N, P*P) pixels of every patch of ``encoder``'s grid (per-patch normalised with ``norm``: zero
    mean, unit variance); for IQ the (B, A, S, 2*segment) segments of
    :func:`~wfm.models.tokenizers.iq.segment_iq`. What MAE's decoder and JEPA's pixel head reconstruct.
    ``pairs``: channels ``(2k, 2k + 1)`` are merged (re, im) pair tokens (``complex_tokens="pair"``): (B, C/2, N,
    2*P*P), the re patch then the im patch of every complex patch (normalised as one)."""
    if modality == IQ:
        target = segment_iq(x.float(), encoder.iq.segment)
    else:
        target = patchify(x.float(), encoder.patch_size)
        if pairs:
            b, c, n, pp = target.shape
            target = target.reshape(b, c // 2, 2, n, pp).transpose(2, 3).reshape(b, c // 2, n, 2 * pp)
    if norm:
        mean = target.mean(-1, keepdim=True)
        var = target.var(-1, keepdim=True) if target.shape[-1] > 1 else torch.zeros_like(mean)
        target = (target - mean) / (var + 1e-6).sqrt()
    return target


def visible_and_hidden(masking: MaskGeometry, batch_size: int, grid: tuple[int, int],
                       rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """MAE's view of a geometry's draw: keep (B, K) visible grid positions in increasing order, keep_valid
    (B, K) (False on padding where samples keep fewer), and mask (B, N) bool, True where hidden."""
    masks = masking(batch_size, grid, rng)
    keep, keep_valid = mask_to_indices(masks.context)
    return keep, keep_valid, ~masks.context


def random_masking(
    batch_size: int, num_patches: int, ratio: float, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample random masking by the argsort of uniform noise (:class:`~wfm.views.RandomMask`, at least one
    position visible and one hidden), on a grid of ``num_patches`` positions.

    Returns:
        keep (B, K) visible grid positions in increasing order, and mask (B, N) bool, True where hidden.
    """
    keep, _, mask = visible_and_hidden(RandomMask(ratio, min_context=1), batch_size, (1, num_patches), rng)
    return keep, mask


class MAE(WFMMethod):
    """MAE pretraining.

    Args:
        encoder: the ViT encoder (default: the LatentWave size).
        decoder_dim, decoder_depth, decoder_heads: narrow decoder (WavesFM: 256-d, 8 blocks, 16 heads for a
            512-d encoder).
        mask_ratio: share of grid positions hidden per sample.
        iq_mask_ratio: share of IQ time segments hidden per sample (the multimodal WFM: 70 %), for an encoder
            that also takes IQ.
        norm_pix_loss: reconstruct per-patch normalised pixels (zero mean, unit variance per patch).
        masking: the mask geometry of image batches (:mod:`wfm.views`); None (default) is random masking of
            ``mask_ratio`` (:class:`~wfm.views.RandomMask`), MAE's.
        channel_holdout: probability (training only) that a sample with two or more (sampled) channels hides a
            random 1..k-1 of them from the encoder entirely; the decoder reconstructs them everywhere from the
            other channels (cross-channel reconstruction, SatMAE's independent masking across band groups).
            Default 0: every channel hides the same positions.
        max_channels: channel indices known to the decoder's channel embedding.
        **kwargs: optimisation and sampling arguments of :class:`~wfm.methods.base.WFMMethod`; the MAE /
            WavesFM values (lr 1e-3 warmed up from 0, constant weight decay 0.05, betas (0.9, 0.95)) are in the
            MAE recipes (``configs/mae*.yaml``).
    """

    def __init__(
        self,
        encoder: ViTEncoder | None = None,
        decoder_dim: int = 128,
        decoder_depth: int = 4,
        decoder_heads: int = 4,
        mask_ratio: float = 0.75,
        iq_mask_ratio: float = 0.7,
        norm_pix_loss: bool = False,
        channel_holdout: float = 0.0,
        max_channels: int = 64,
        masking: MaskGeometry | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(encoder=encoder, **kwargs)
        if not 0 < mask_ratio < 1:
            raise ValueError(f"mask_ratio must be in (0, 1), got {mask_ratio}")
        if not 0 < iq_mask_ratio < 1:
            raise ValueError(f"iq_mask_ratio must be in (0, 1), got {iq_mask_ratio}")
        self.mask_ratio = float(mask_ratio)
        self.iq_mask_ratio = float(iq_mask_ratio)
        self.norm_pix_loss = bool(norm_pix_loss)
        self.masking = masking if masking is not None else RandomMask(self.mask_ratio, min_context=1)
        self.masking.check(self.encoder.grid_size)
        self.iq_masking = RandomMask(self.iq_mask_ratio, min_context=1)
        self.channel_holdout = check_holdout(channel_holdout)
        iq = self.encoder.iq
        self.decoder = MAEDecoder(
            self.encoder.grid_size, self.encoder.patch_size, self.encoder.embed_dim,
            decoder_dim, decoder_depth, decoder_heads, max_channels=max_channels, init=self.encoder.init,
            iq_segments=iq.num_segments if iq is not None else 0, iq_segment=iq.segment if iq is not None else 16,
        )

    def trainable_modules(self) -> list[nn.Module]:
        return [self.encoder, self.decoder]

    def reconstruction_target(self, x: torch.Tensor, modality: str = "image") -> torch.Tensor:
        """What the decoder must produce: :func:`pixel_targets` of ``x``."""
        return pixel_targets(x, self.encoder, modality, self.norm_pix_loss)

    def shared_step(
        self, batch: dict[str, torch.Tensor], rng: np.random.Generator, stage: str
    ) -> dict[str, Any]:
        views, modality, grid = self.views_on_grid(batch, rng, stage, self.channel_holdout)
        x, channels, channel_ids, held_out = views.x, views.channels, views.channel_ids, views.held_out
        enc = self.encoder
        b, c = x.shape[:2]
        keep, keep_valid, mask = (t.to(x.device)
                                  for t in visible_and_hidden(self.masking_for(modality), b, grid, rng))
        channel_valid = enc.channel_valid(x, channels)

        # held-out channels (``channel_holdout``) sit behind the encoder's and reach the decoder as mask tokens
        cs, p = views.context_slots, enc.num_prefix_tokens
        tokens, _ = enc(x[:, :cs], views.context_channels, keep=keep, keep_valid=keep_valid,
                        complex_pairs=views.pairs[: cs // 2],
                        channel_ids=channel_ids[:, :cs], modality=modality)
        s = enc.slot_stride(views.pairs, c, modality)
        if s > 1:  # a merged pair's token decodes at its re and at its im slot
            body = tokens[:, p:].reshape(b, cs // s, keep.shape[1], -1).repeat_interleave(s, 1)
            tokens = torch.cat([tokens[:, :p], body.flatten(1, 2)], 1)
        if cs < c:
            tokens = torch.cat([tokens[:, :p], pad_channel_slots(tokens[:, p:], cs, c)], 1)
        pred = self.decoder(tokens, keep, keep_valid, channel_valid, num_prefix=p, channel_ids=channel_ids,
                            modality=modality, hidden=held_out)

        target = self.reconstruction_target(x, modality)
        per_patch = (pred.float() - target).pow(2).mean(-1)  # (B, C, N)
        # only hidden patches of real channels count: visible ones are trivially copyable, padding is not data
        hidden = mask[:, None, :] if held_out is None else mask[:, None, :] | held_out[:, :, None]
        w = (hidden & channel_valid[:, :, None]).float()
        loss = (per_patch * w).sum() / w.sum().clamp_min(1.0)
        return {
            "loss": loss,
            "mask_ratio": mask.float().mean(),
            "channels": channels.float().mean(),
        }
