"""LatentWave: JEPA pretraining of the per-channel ViT on spectrograms and CSI.

A context encoder sees only the visible grid positions (on every sampled channel); a predictor fills in
target positions from mask tokens; the loss compares its output with the target encoder's layer-normalised
representations of those positions. The target encoder is an exponential moving average of the context
encoder, updated once per optimizer step, and is the foundation model that gets exported and probed.
"""

from __future__ import annotations

import copy
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from wfm.choices import check_choice
from wfm.methods.base import per_modality
from wfm.methods.mae import pixel_targets
from wfm.methods.momentum import MomentumMethod
from wfm.methods.regularizers import Regularizer, regularizer_loss
from wfm.models.encoder import ViTEncoder, init_vit_weights
from wfm.models.predictor import Predictor
from wfm.models.tokenizers import TOKENIZERS
from wfm.models.tokenizers.iq import IQ
from wfm.views import MaskGeometry, RegionMask, TimeMask, mask_to_indices
from wfm.views.channels import check_holdout, pad_channel_slots

RegLevel = Literal["pooled", "token"]
#: the pixel head of merged (re, im) pair tokens (``complex_tokens="pair"``)
PAIR_HEAD = "pair"
Loss = Literal["mse", "smooth_l1"]


class JEPA(MomentumMethod):
    """JEPA (LatentWave) pretraining.

    Args:
        encoder: context encoder (the target encoder starts as an exact copy).
        masking: mask geometry (:mod:`wfm.views`; default: region masking, 4 targets).
        iq_masking: mask geometry of IQ batches, for an encoder that also takes IQ (default: 1-D block masking,
            ``time`` spans of 1/8 of the segments, 4 targets, the same spans on every sampled antenna).
        predictor_dim, predictor_depth, predictor_heads: narrow predictor ViT (paper: 128-d, 4 heads, 4 blocks).
        loss: ``mse`` (paper eq. 5) or ``smooth_l1`` (I-JEPA reference code).
        max_channels: channel indices known to the predictor's channel embedding.
        predictor_channel_embed: ``fixed`` channel codes (default) or a ``learned`` table in the predictor.
        target_layers: number of top target-encoder blocks whose outputs make the targets: 1 (default, I-JEPA:
            the final, normed output) or K > 1, the average of the last K blocks' outputs, each layer-normed
            (data2vec's multi-layer targets, which keep more of what the lower blocks represent).
        regularizer: anti-collapse penalty on the context encoder's output (``none`` | ``vicreg`` | ``sigreg``,
            :mod:`wfm.methods.regularizers`), added to the loss with weight ``reg_weight``. Each of
            ``regularizer``, ``reg_weight`` and ``reg_level`` is one value for every modality or a mapping
            ``{modality: value}`` (e.g. ``{image: sigreg, iq: vicreg}`` for a multimodal run that keeps each
            single-modality recipe's penalty; a modality a mapping leaves out gets ``none`` / 0 / ``pooled``).
        reg_level: what the penalty sees: ``pooled`` (default: one pooled feature per sample, as C-JEPA and
            LeJEPA) or ``token`` (every valid context token of the batch, as VICRegL regularises local
            features; SIGReg's statistic is then scaled to the batch size, so a weight means the same).
        reg_modalities: the input modalities whose batches get the regulariser (default: all the encoder takes;
            e.g. ``[iq]`` regularises only the IQ batches of a multimodal run).
        pixel_weight: weight of an auxiliary pixel-reconstruction term (default 0: pure latent prediction). A
            linear head decodes every predicted target token into its patch's pixels (IQ: its segment's
            samples), as the context autoencoder (CAE) decodes predicted latents, so the representation must
            keep what latent prediction alone is free to drop.
        pixel_norm: reconstruct per-patch normalised pixels (MAE's ``norm_pix_loss``) instead of the
            standardised input pixels (default, as the MAE recipes).
        channel_holdout: probability (training only) that a sample with two or more (sampled) channels hides a
            random 1..k-1 of them from the context encoder; the predictor then also predicts the hidden
            channels at the context positions, where the other channels are visible (one more target block),
            besides every channel at the usual target blocks. Cross-channel prediction (SatMAE's independent
            masking across band groups, for latents): what relates channels (the phase between real and
            imaginary parts, the geometry between base stations) becomes predictable and has to be encoded.
            Default 0: the same positions are hidden on every channel (the paper).
        predict_grad: let the prediction loss train the context encoder (default). ``False`` is a control: the
            predictor's input is detached, so the predictor still learns to predict but the encoder (and through
            the EMA the probed target encoder) moves only by the regulariser. A gain over random features that
            this control also shows is the regulariser's, not the prediction objective's
            (docs/experiments/regularisers.md, "The regulariser alone").
        **kwargs: EMA momentum (:class:`~wfm.methods.momentum.MomentumMethod`: ``momentum_start`` 0.996,
            ``momentum_end`` 1.0), optimisation and sampling arguments (:class:`~wfm.methods.base.WFMMethod`).
    """

    def __init__(
        self,
        encoder: ViTEncoder | None = None,
        masking: MaskGeometry | None = None,
        iq_masking: MaskGeometry | None = None,
        predictor_dim: int = 128,
        predictor_depth: int = 4,
        predictor_heads: int = 4,
        loss: Loss = "mse",
        max_channels: int = 64,
        predictor_channel_embed: Literal["fixed", "learned"] = "fixed",
        target_layers: int = 1,
        regularizer: Regularizer | dict[str, Regularizer] = "none",
        reg_weight: float | dict[str, float] = 0.0,
        reg_modalities: list[str] | tuple[str, ...] | None = None,
        reg_level: RegLevel | dict[str, RegLevel] = "pooled",
        pixel_weight: float = 0.0,
        pixel_norm: bool = False,
        channel_holdout: float = 0.0,
        predict_grad: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(encoder=encoder, **kwargs)
        if not 1 <= int(target_layers) <= len(self.encoder.blocks):
            raise ValueError(f"target_layers must be in [1, {len(self.encoder.blocks)}] (the encoder's depth), "
                             f"got {target_layers}")
        self.target_layers = int(target_layers)
        check_choice("loss", loss, Loss)
        known = self.encoder.modalities
        if reg_modalities is not None and (not reg_modalities or any(m not in known for m in reg_modalities)):
            raise ValueError(f"reg_modalities must be a non-empty subset of the encoder's modalities {known}, "
                             f"got {list(reg_modalities)}")
        chosen = tuple(known if reg_modalities is None else reg_modalities)
        names = per_modality("regularizer", regularizer, known, "none")
        weights = per_modality("reg_weight", reg_weight, known, 0.0)
        levels = per_modality("reg_level", reg_level, known, "pooled")
        # modality -> (penalty, weight, level), for the modalities that get one
        self.regularizers: dict[str, tuple[str, float, str]] = {}
        for mod in known:
            name, weight, level = names[mod], float(weights[mod]), levels[mod]
            check_choice("regularizer", name, Regularizer)
            check_choice("reg_level", level, RegLevel)
            if weight < 0:
                raise ValueError(f"reg_weight must be >= 0, got {weight}")
            if name != "none" and mod in chosen:
                self.regularizers[mod] = (name, weight, level)
        if pixel_weight < 0:
            raise ValueError(f"pixel_weight must be >= 0, got {pixel_weight}")
        self.pixel_weight, self.pixel_norm = float(pixel_weight), bool(pixel_norm)
        self.channel_holdout = check_holdout(channel_holdout)
        self.predict_grad = bool(predict_grad)
        self.masking = masking if masking is not None else RegionMask()
        # impossible masking parameters fail here, at start-up, before any data is read
        self.masking.check(self.encoder.grid_size)
        iq = self.encoder.iq
        self.iq_masking = None
        if iq is not None:
            self.iq_masking = iq_masking or TimeMask(num_targets=4, band_fraction=1 / 8,
                                                     min_context=min(10, iq.num_segments // 4))
            self.iq_masking.check(self.encoder.grid(IQ))
        self.loss_name = loss
        self.target_encoder = copy.deepcopy(self.encoder)
        self.target_encoder.requires_grad_(False)
        self.predictor = Predictor(
            self.encoder.grid_size, self.encoder.embed_dim, predictor_dim, predictor_depth, predictor_heads,
            max_channels=max_channels, channel_embed=predictor_channel_embed, init=self.encoder.init,
            iq_segments=iq.num_segments if iq is not None else 0,
        )
        self.pixel_head = None
        if self.pixel_weight > 0:
            d, sizes = self.encoder.embed_dim, {next(iter(TOKENIZERS)): self.encoder.patch_size ** 2}
            if iq is not None:
                sizes[IQ] = 2 * iq.segment
            if self.encoder.complex_tokens == "pair":  # a merged (re, im) token decodes into both parts' patches
                sizes[PAIR_HEAD] = 2 * self.encoder.patch_size ** 2
            self.pixel_head = nn.ModuleDict({m: nn.Linear(d, k) for m, k in sizes.items()})
            init_vit_weights(self.pixel_head, self.encoder.init)

    backbone_name = "target"


    @property
    def backbone(self) -> ViTEncoder:
        return self.target_encoder

    def trainable_modules(self) -> list[nn.Module]:
        return [self.encoder, self.predictor] + ([self.pixel_head] if self.pixel_head is not None else [])

    @property
    def momentum_pairs(self) -> list[tuple[nn.Module, nn.Module]]:
        return [(self.encoder, self.target_encoder)]

    def targets(self, x: torch.Tensor, channels: torch.Tensor, channel_ids: torch.Tensor,
                modality: str, complex_pairs: tuple[tuple[int, int], ...] = ()) -> torch.Tensor:
        """(B, T, D) float32 targets of every token: layer-normed (no affine, I-JEPA) target-encoder output, or
        with ``target_layers`` K > 1 the layer-normed average of the last K blocks' layer-normed outputs."""
        if self.target_layers == 1:
            h, _ = self.target_encoder(x, channels, channel_ids=channel_ids, modality=modality,
                                       complex_pairs=complex_pairs)
            return F.layer_norm(h.float(), (h.shape[-1],))
        outs, _ = self.target_encoder.forward_intermediates(x, channels, channel_ids, modality,
                                                            complex_pairs=complex_pairs,
                                                            last=self.target_layers)
        h = torch.stack([F.layer_norm(o.float(), (o.shape[-1],)) for o in outs]).mean(0)
        return F.layer_norm(h, (h.shape[-1],))

    def shared_step(self, batch: dict[str, torch.Tensor], rng: np.random.Generator, stage: str) -> dict[str, Any]:
        views, modality, grid = self.views_on_grid(batch, rng, stage, self.channel_holdout)
        x, channels, channel_ids, held_out = views.x, views.channels, views.channel_ids, views.held_out
        enc = self.encoder
        # targets, predictor and losses work on the encoder's token slots: ``c`` channels, or the complex
        # channels where the encoder merges each (re, im) pair into one token (each with its re slot's values)
        s = enc.slot_stride(views.pairs, x.shape[1], modality)
        b, c = x.shape[0], x.shape[1] // s
        slot_ids = channel_ids[:, ::s]
        held_out = None if held_out is None else held_out[:, ::s]
        n, p = grid[0] * grid[1], enc.num_prefix_tokens
        # on the host: indices are computed there, then moved (no host sync)
        masks = self.masking_for(modality)(b, grid, rng)
        m = masks.targets.shape[1]
        # held-out channels are predicted at the context positions too: one more target block
        targets = masks.targets if held_out is None else torch.cat([masks.targets, masks.context[:, None]], 1)
        ctx_idx, ctx_valid, tgt_idx, tgt_valid = (
            t.to(x.device, non_blocking=True)
            for t in (*mask_to_indices(masks.context), *mask_to_indices(targets))  # (B, Kc), (B, M(+1), Kt)
        )
        channel_valid = enc.channel_valid(x, channels)[:, ::s]
        pred_channels = channel_valid
        if held_out is not None:  # every channel on the M blocks, the held-out ones on the extra block
            pred_channels = torch.cat([channel_valid[:, None].expand(b, m, c), held_out[:, None]], 1)

        with torch.no_grad():
            h = self.targets(x, channels, channel_ids, modality, views.pairs)[:, p:]
            h = h.view(b, c, n, h.shape[-1])
            target = gather_positions(h, tgt_idx)
            # label-free collapse signal: spread of pooled target features across the batch
            pooled = (h * channel_valid[:, :, None, None]).sum((1, 2)) / (channel_valid.sum(1) * n)[:, None]
            target_std = pooled.std(0).mean() if b > 1 else pooled.new_zeros(())

        # the context encoder gets the slots of its channels only (held-out ones sit behind them); the
        # predictor gets its tokens back in the slots of all channels, the held-out ones as padding
        cs = views.context_slots
        z, z_valid = enc(x[:, :cs], views.context_channels, keep=ctx_idx, keep_valid=ctx_valid,
                         complex_pairs=views.pairs[: cs // 2],
                         channel_ids=channel_ids[:, :cs], modality=modality)
        pred, pred_valid = self.predictor(
            pad_channel_slots(z[:, p:] if self.predict_grad else z[:, p:].detach(), cs // s, c),
            pad_channel_slots(z_valid[:, p:], cs // s, c), ctx_idx, tgt_idx,
            tgt_valid, pred_channels, slot_ids, modality, grid
        )
        if self.loss_name == "mse":
            per_token = F.mse_loss(pred.float(), target, reduction="none").mean(-1)
        else:
            per_token = F.smooth_l1_loss(pred.float(), target, reduction="none").mean(-1)
        w = pred_valid.float()
        loss = (per_token * w).sum() / w.sum().clamp_min(1.0)
        out = {
            "target_std": target_std,
            "mask_ratio": masks.mask_ratio().mean().to(x.device, non_blocking=True),
            "channels": channels.float().mean(),
        }
        if modality in self.regularizers:
            name, weight, level = self.regularizers[modality]
            if level == "pooled":
                reg = regularizer_loss(name, enc.pool_tokens(z, z_valid), rng)
            else:  # the valid context tokens, prefix excluded (the boolean selection reads the count: one sync)
                tokens = z[:, p:][z_valid[:, p:]]
                reg = regularizer_loss(name, tokens, rng, n_ref=b)
            out["pred_loss"], out["reg"] = loss.detach(), reg.detach()
            loss = loss + weight * reg
        if self.pixel_head is not None:
            pix = self.pixel_loss(x, pred, pred_valid, tgt_idx, modality, pairs=s > 1)
            out.setdefault("pred_loss", loss.detach())
            out["pixel"] = pix.detach()
            loss = loss + self.pixel_weight * pix
        if stage != "train":
            out.update(channel_variance(pred[:, :m].detach().float(), target[:, :m], pred_valid[:, :m],
                                        tgt_idx[:, :m], c, n))
        return {"loss": loss, **out}

    def pixel_loss(self, x: torch.Tensor, pred: torch.Tensor, pred_valid: torch.Tensor, tgt_idx: torch.Tensor,
                   modality: str, pairs: bool = False) -> torch.Tensor:
        """MSE of the pixel head's decoding of the predicted target tokens against their pixels (per-patch
        normalised with ``pixel_norm``), over valid target tokens. ``pred`` (B, M, C*Kt, D), ``tgt_idx`` (B, M, Kt);
        ``pairs``: the tokens are merged (re, im) pairs, decoded by their own head into both parts' pixels."""
        pix = pixel_targets(x, self.encoder, modality, norm=self.pixel_norm, pairs=pairs)
        pix = gather_positions(pix, tgt_idx)
        per_token = (self.pixel_head[PAIR_HEAD if pairs else modality](pred).float() - pix).pow(2).mean(-1)
        w = pred_valid.float()
        return (per_token * w).sum() / w.sum().clamp_min(1.0)


def gather_positions(t: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Per-mask selection of grid positions on every channel: ``t`` (B, C, N, F) per-token values, ``idx``
    (B, M, K) grid positions -> (B, M, C*K, F), channel-major (the predictor's output order)."""
    b, c, _, f = t.shape
    m, k = idx.shape[1:]
    picked = torch.gather(t[:, None].expand(b, m, *t.shape[1:]), 3, idx[:, :, None, :, None].expand(b, m, c, k, f))
    return picked.reshape(b, m, c * k, f)


def channel_variance(
    pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor, tgt_idx: torch.Tensor, c: int, n: int
) -> dict[str, torch.Tensor]:
    """How well the predictor gets what differs between the channels of a sample.

    Per sample and target position, remove the mean over the sample's real channels from targets and from
    predictions. ``channel_share`` = variance of the channel-centred targets / variance of the targets around
    their mean at the same grid position (the share of the non-positional target variance that is
    channel-specific); ``channel_r2`` = 1 - MSE of the channel-centred predictions against the channel-centred
    targets / their variance (0: the predictor outputs the same thing for every channel; 1: it gets every
    channel's deviation right). Only samples with two or more real channels count; the dict is empty when the
    batch has none.

    Args:
        pred, target: (B, M, C*Kt, D); valid: (B, M, C*Kt); tgt_idx: (B, M, Kt) grid positions; c: channel
            slots; n: grid positions.
    """
    b, m, ckt, d = target.shape
    kt = ckt // c
    t = target.view(b, m, c, kt, d)
    p = pred.view(b, m, c, kt, d)
    w = valid.view(b, m, c, kt, 1).float()
    nch = w.sum(2, keepdim=True)
    multi = (nch >= 2).float() * w
    if float(multi.sum()) == 0:
        return {}
    t_c = (t - (t * w).sum(2, keepdim=True) / nch.clamp_min(1)) * multi
    p_c = (p - (p * w).sum(2, keepdim=True) / nch.clamp_min(1)) * multi
    pos = tgt_idx[:, :, None, :].expand(b, m, c, kt).reshape(-1)
    sums = t.new_zeros(n, d).index_add_(0, pos, (t * multi).reshape(-1, d))
    counts = t.new_zeros(n).index_add_(0, pos, multi.reshape(-1))
    t_p = (t - (sums / counts.clamp_min(1)[:, None])[pos].view(b, m, c, kt, d)) * multi
    spec = t_c.pow(2).sum()
    return {
        "channel_share": spec / t_p.pow(2).sum().clamp_min(1e-12),
        "channel_r2": 1.0 - (p_c - t_c).pow(2).sum() / spec.clamp_min(1e-12),
    }
