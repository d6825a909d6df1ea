"""Per-channel Vision Transformer encoder shared by JEPA, MAE and supervised training.

Every input channel (antenna, base station, real/imag part) is cut into ``P x P`` patches on its own and one
shared single-channel projection maps each patch to ``embed_dim``: a sample with ``C`` channels becomes
``C * N`` tokens, so the same weights take any channel count. Tokens are laid out channel-major
(all kept grid positions of channel 0, then channel 1, ...). A batch may mix channel counts: channels past a
sample's count are padding and are hidden from attention by a key-padding mask, so they never change any
other token's output.

With ``iq_length > 0`` the same encoder also takes raw IQ streams ``(B, A, 2, T)`` (the multimodal WFM):
:class:`~wfm.models.tokenizers.iq.IQTokenizer` makes per-antenna segment tokens laid out exactly like patch
tokens (antennas as channels, a ``1 x S`` grid of time segments), a feature-wise affine (scale, shift) per
token family follows each tokenizer, and the blocks, pooling and export are shared. Which tokenizer embeds an
input is told by the input's modality (the batch's ``modality``), looked up in the tokenizer registry
(:mod:`wfm.models.tokenizers`), never guessed from its shape.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any, Literal

import torch
from timm.models.vision_transformer import Block as TimmBlock
from torch import nn

from wfm.choices import check_choice, check_number, choices
from wfm.models.phase import PhaseReference, interleaved_pairs
from wfm.models.phase import reference_phase as _reference_phase
from wfm.models.pos_embed import channel_codes
from wfm.models.tokenizers import TOKENIZERS, family_of
from wfm.models.tokenizers.complex import ComplexModulusTokenizer, ComplexPairTokenizer
from wfm.models.tokenizers.patch import PatchTokenizer


def _pair(v: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(v, int):
        return (v, v)
    v = tuple(int(i) for i in v)
    if len(v) != 2:
        raise ValueError(f"expected an int or a pair (H, W), got {v}")
    return v  # type: ignore[return-value]


def Block(dim: int, num_heads: int, mlp_ratio: float = 4.0) -> TimmBlock:  # noqa: N802 (a layer factory)
    """Pre-norm transformer block (timm's): ``x + attn(norm(x))`` then ``x + mlp(norm(x))``, attention through
    the fused ``scaled_dot_product_attention`` kernel with an optional boolean mask (True = attend)."""
    if dim % num_heads:
        raise ValueError(f"width {dim} is not divisible by num_heads={num_heads}")
    return TimmBlock(dim, num_heads, mlp_ratio=mlp_ratio, qkv_bias=True, norm_layer=_LayerNorm)


_LayerNorm = functools.partial(nn.LayerNorm, eps=1e-6)


def host_checks(t: torch.Tensor) -> bool:
    """Whether data-dependent checks may read ``t``: only a CPU tensor outside ``torch.compile`` (on an
    accelerator reading a value back would stall the host every step; under compile it breaks the graph)."""
    return t.device.type == "cpu" and not torch.compiler.is_compiling()


def key_padding_mask(valid: torch.Tensor) -> torch.Tensor | None:
    """(B, L) bool "token is real" -> SDPA boolean mask (B, 1, 1, L); None when nothing is padded, which is
    only looked at where that costs no host sync (:func:`host_checks`), else the mask is always passed."""
    if host_checks(valid) and bool(valid.all()):
        return None
    return valid[:, None, None, :]


#: weight initialisations: ``xavier`` (MAE's code: xavier-uniform linears and patch projection) or ``ijepa``
#: (I-JEPA's model code: truncated normal, std 0.02, and the output projections of block ``i`` (1-based) of
#: attention and MLP divided by ``sqrt(2 i)``)
Init = Literal["xavier", "ijepa"]
INIT_SCHEMES = choices(Init)
IJEPA_STD = 0.02

#: how a token says which channel it comes from: not at all, a learned embedding of the channel index, or a
#: fixed code (:func:`~wfm.models.pos_embed.channel_codes`) at the scale of the position embedding
ChannelEmbed = Literal["none", "learned", "fixed"]
CHANNEL_EMBEDS = choices(ChannelEmbed)

#: how the image path embeds complex channels (the batch's ``complex_pairs``): each part a channel of its own,
#: two phase-invariant modulus tokens per pair, or one token per pair (:mod:`wfm.models.tokenizers.complex`)
ComplexTokens = Literal["split", "modulus", "pair"]
COMPLEX_TOKENS = choices(ComplexTokens)


def check_init(init: str) -> str:
    return check_choice("init", init, Init)


def check_channel_embed(mode: str | bool) -> str:
    """A ``CHANNEL_EMBEDS`` mode; the booleans of older configs mean ``learned`` (True) / ``none`` (False)."""
    if isinstance(mode, bool):
        return "learned" if mode else "none"
    return check_choice("channel_embed", mode, ChannelEmbed)


def init_vit_weights(module: nn.Module, init: str = "xavier") -> None:
    """Every Linear (and a patch-embedding Conv2d, as the linear map of a flattened patch) of ``module`` by
    ``init``, zero biases, unit LayerNorms; with ``ijepa`` also the depth rescaling of every
    :class:`Block`'s output projections."""
    check_init(init)
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            w = m.weight.data.view(m.weight.shape[0], -1)
            if init == "xavier":
                nn.init.xavier_uniform_(w)
            else:
                nn.init.trunc_normal_(w, std=IJEPA_STD, a=-2 * IJEPA_STD, b=2 * IJEPA_STD)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    if init == "ijepa":
        blocks = [m for m in module.modules() if isinstance(m, TimmBlock)]
        with torch.no_grad():
            for i, blk in enumerate(blocks, start=1):
                blk.attn.proj.weight.div_(math.sqrt(2.0 * i))
                blk.mlp.fc2.weight.div_(math.sqrt(2.0 * i))


def default_channel_ids(b: int, c: int, device: torch.device | str) -> torch.Tensor:
    """(B, C) channel indices of an unsampled batch: slot ``c`` holds channel ``c``."""
    return torch.arange(c, device=device).expand(b, c)


def check_channel_ids(channel_ids: torch.Tensor, b: int, c: int, limit: int, who: str) -> torch.Tensor:
    if channel_ids.shape != (b, c):
        raise ValueError(f"{who}: channel_ids must have shape ({b}, {c}), got {tuple(channel_ids.shape)}")
    if host_checks(channel_ids) and (bool((channel_ids < 0).any()) or bool((channel_ids >= limit).any())):
        raise ValueError(f"{who}: channel indices must be in [0, {limit}) (max_channels), "
                         f"got max {int(channel_ids.max())}")
    return channel_ids


class ChannelEmbedding(nn.Module):
    """Channel identity added to tokens: a learned table or fixed codes, looked up by channel index."""

    def __init__(self, mode: str, num: int, dim: int, code_offset: int = 0) -> None:
        super().__init__()
        self.mode = check_channel_embed(mode)
        self.num = int(num)
        if self.mode == "learned":
            self.weight = nn.Parameter(torch.empty(num, dim))
            nn.init.normal_(self.weight, std=0.02)
        else:
            self.register_buffer("weight", channel_codes(num, dim, code_offset), persistent=False)

    def forward(self, channel_ids: torch.Tensor) -> torch.Tensor:
        """(B, C) channel indices -> (B, C, D) embeddings."""
        return self.weight[channel_ids]


class ViTEncoder(nn.Module):
    """ViT over per-channel patches of a ``(C, H, W)`` (channels x frequency x time) input.

    Args:
        img_size: model input size ``(H, W)`` (or one int for square inputs); inputs are resized to it upstream.
        patch_size: side ``P`` of the square patches; must divide both sides of ``img_size``.
        embed_dim, depth, num_heads, mlp_ratio: transformer width, number of blocks, heads, MLP ratio.
        cls_token: prepend a learned CLS token (WavesFM style).
        pool: ``"mean"`` (average of the real patch tokens, LatentWave) or ``"cls"`` (needs ``cls_token``).
        channel_embed: channel identity added to every token (``CHANNEL_EMBEDS``): ``none`` (the paper),
            ``learned`` or ``fixed`` codes; looked up by the channel's index in the input (kept by channel
            sampling, so a sampled subset keeps its identities). ``True``/``False`` mean learned/none.
        max_channels: number of channel (and antenna) indices the channel embeddings know.
        init: weight initialisation (``INIT_SCHEMES``).
        iq_length: time samples per antenna of raw IQ inputs ``(B, A, 2, T)``; 0 (default) for an image-only
            encoder. An encoder with several tokenizers is told each input's modality (``modality=``, from the
            batch).
        iq_segment: complex samples per IQ token (the paper: 16).
        antenna_embed: antenna identity of IQ tokens (``CHANNEL_EMBEDS``; fixed codes orthogonal to the
            image channels' codes), looked up by antenna index as channels are.
        tokenizer_options: ``{family: options}`` for tokenizers registered in :mod:`wfm.models.tokenizers`
            beyond the patch and IQ ones (each reads its own options in ``build``; recorded in checkpoints).
        phase_reference: how inputs with complex channels (the batch's ``complex_pairs``) are turned to one
            reference phase before tokenizing (:mod:`wfm.models.phase`: ``none``, ``strongest``, ``sum``); the
            features are then invariant to the channel's global phase. Recorded in checkpoints, so probes and
            fine-tuning apply what pretraining did.
        complex_tokens: how the image path embeds complex channels (the batch's ``complex_pairs``): ``split``
            (each part a channel of its own, as raw re/im) or ``modulus``
            (:class:`~wfm.models.tokenizers.complex.ComplexModulusTokenizer`: a pair's two patches -> two
            tokens, moduli of complex projections, exactly invariant to the global phase) or ``pair``
            (:class:`~wfm.models.tokenizers.complex.ComplexPairTokenizer`: a pair's two patches -> ONE token
            through a two-input projection, so a complex channel is one token slot: half the tokens; invariant
            to the global phase only with a ``phase_reference``, not without). Inputs without pairs (real
            channels: spectrograms, CSI magnitudes) are embedded per channel either way.
    """

    def __init__(
        self,
        img_size: int | Sequence[int] = 112,
        patch_size: int = 16,
        embed_dim: int = 256,
        depth: int = 8,
        num_heads: int = 8,
        mlp_ratio: float = 4.0,
        cls_token: bool = False,
        pool: str = "mean",
        channel_embed: ChannelEmbed | bool = "none",
        max_channels: int = 16,
        init: Init = "xavier",
        iq_length: int = 0,
        iq_segment: int = 16,
        antenna_embed: ChannelEmbed | bool = "fixed",
        tokenizer_options: dict[str, dict[str, Any]] | None = None,
        phase_reference: PhaseReference = "none",
        complex_tokens: ComplexTokens = "split",
    ) -> None:
        super().__init__()
        for name, value in (("embed_dim", embed_dim), ("depth", depth), ("num_heads", num_heads),
                            ("max_channels", max_channels), ("patch_size", patch_size)):
            check_number(name, value, ge=1, integer=True)
        check_number("mlp_ratio", mlp_ratio, gt=0)
        if iq_length:
            check_number("iq_length", iq_length, ge=1, integer=True)
            check_number("iq_segment", iq_segment, ge=1, integer=True)
        for v in [img_size] if isinstance(img_size, (int, float)) else list(img_size):
            check_number("img_size", v, ge=1, integer=True)
        # kept so a checkpoint can rebuild exactly this encoder (wfm.checkpoint.load_backbone)
        self.config = dict(
            img_size=list(_pair(img_size)), patch_size=int(patch_size), embed_dim=int(embed_dim), depth=int(depth),
            num_heads=int(num_heads), mlp_ratio=float(mlp_ratio), cls_token=bool(cls_token), pool=pool,
            channel_embed=check_channel_embed(channel_embed), max_channels=int(max_channels), init=check_init(init),
        )
        if iq_length:  # only IQ encoders record the IQ keys: image-only configs stay as they were
            self.config.update(iq_length=int(iq_length), iq_segment=int(iq_segment),
                               antenna_embed=check_channel_embed(antenna_embed))
        if tokenizer_options:  # options of registered tokenizers beyond the built-in two, by family
            self.config["tokenizer_options"] = {str(k): dict(v) for k, v in tokenizer_options.items()}
        self.phase_reference = check_choice("phase_reference", phase_reference, PhaseReference)
        if phase_reference != "none":  # recorded only when used: older configs and checkpoints stay as they were
            self.config["phase_reference"] = phase_reference
        self.complex_tokens = check_choice("complex_tokens", complex_tokens, ComplexTokens)
        if complex_tokens != "split":
            self.config["complex_tokens"] = complex_tokens
        self.img_size = _pair(img_size)
        self.patch_size = int(patch_size)
        h, w = self.img_size
        if h % self.patch_size or w % self.patch_size:  # patch_size >= 1 was checked above
            raise ValueError(f"patch_size={patch_size} must divide img_size={self.img_size}")
        if pool not in ("mean", "cls"):
            raise ValueError(f"pool must be 'mean' or 'cls', got {pool!r}")
        if pool == "cls" and not cls_token:
            raise ValueError("pool='cls' needs cls_token=True")
        self.grid_size = (h // self.patch_size, w // self.patch_size)
        self.num_patches = self.grid_size[0] * self.grid_size[1]
        self.embed_dim = embed_dim
        self.pool = pool
        self.max_channels = max_channels

        # one tokenizer per token family this encoder's config enables, in registry order (the affine rows);
        # the patch path is registered first and the others after the channel embedding, the module order
        # (and so the optimizer's parameter order) checkpoints have always had
        built = {family: cls.build(self.config, embed_dim) for family, cls in TOKENIZERS.items()}
        self.families: tuple[str, ...] = tuple(f for f, t in built.items() if t is not None)
        first, *others = TOKENIZERS
        self.add_module(TOKENIZERS[first].attr, built[first])
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim)) if cls_token else None
        mode = self.config["channel_embed"]
        self.channel_embed = None if mode == "none" else ChannelEmbedding(mode, max_channels, embed_dim)
        self.init = self.config["init"]
        self.antenna_embed: ChannelEmbedding | None = None
        self.modality_scale: nn.Parameter | None = None
        self.modality_shift: nn.Parameter | None = None
        for family in others:  # ``self.iq`` is None on an image-only encoder
            self.add_module(TOKENIZERS[family].attr, built[family])
        if "antenna_embed" in self.config:  # the IQ tokens' antenna identity, orthogonal to the channel codes
            amode = self.config["antenna_embed"]
            self.antenna_embed = None if amode == "none" else ChannelEmbedding(
                amode, max_channels, embed_dim, code_offset=max_channels)
        if len(self.families) > 1:
            # the multimodal WFM's family-specific feature-wise affine, one row per family
            self.modality_scale = nn.Parameter(torch.ones(len(self.families), embed_dim))
            self.modality_shift = nn.Parameter(torch.zeros(len(self.families), embed_dim))
        self.blocks = nn.ModuleList(Block(embed_dim, num_heads, mlp_ratio) for _ in range(depth))
        self.norm = _LayerNorm(embed_dim)
        self.complex_embed: ComplexModulusTokenizer | ComplexPairTokenizer | None = None
        self.reset_parameters()
        if complex_tokens != "split":  # built after the rest is drawn: the shared weights equal a split encoder's
            cls = ComplexModulusTokenizer if complex_tokens == "modulus" else ComplexPairTokenizer
            self.complex_embed = cls(self.img_size, self.patch_size, embed_dim)
            init_vit_weights(self.complex_embed, self.init)

    @property
    def modalities(self) -> tuple[str, ...]:
        """The token families this encoder takes (``image``, ``iq``, ...): what per-family settings are keyed
        by (recorded in checkpoints through ``config``)."""
        return self.families

    @property
    def pos_embed(self) -> torch.Tensor:
        """(N, D) fixed 2-D positions of the patch grid."""
        return self.patch_embed.pos_embed

    def family(self, modality: str | None = None) -> str:
        """The token family of an input of data ``modality`` (``spectrogram``, ``csi``, ``iq``, or a family's
        own name); None is allowed only for an encoder of one family."""
        return self._family(modality, "this encoder")

    def _family(self, modality: str | None, who: str) -> str:
        if modality is None:
            if len(self.families) > 1:
                raise ValueError(f"{who} takes several token families {list(self.families)}: say which one an "
                                 "input is (modality=, the batch's 'modality')")
            return self.families[0]
        family = family_of(modality)
        if family not in self.families:
            raise ValueError(f"samples are {TOKENIZERS[family].description}, but {who} has no {family.upper()} "
                             f"tokenizer (it takes {list(self.families)}; build it with that tokenizer's options, "
                             "e.g. iq_length > 0 for raw IQ)")
        return family

    def check_input(self, modality: str, channels: int, hw: tuple[int, int], who: str = "the encoder") -> None:
        """Raise a ValueError (worded for the user, ``who`` naming this encoder) if samples of ``modality``
        with ``channels`` channels of ``(H, W)`` each cannot go through this encoder: before any data is read."""
        tokenizer = getattr(self, TOKENIZERS[self._family(modality, who)].attr)
        tokenizer.check_sample(tuple(hw), who)
        table = getattr(self, tokenizer.identity) if tokenizer.identity is not None else None
        if table is not None and channels > self.max_channels:
            what = "antenna" if tokenizer.identity == "antenna_embed" else "channel"
            raise ValueError(f"samples have {channels} {what}s, but {who} knows only {self.max_channels} {what} "
                             f"codes (max_channels); keep fewer {what}s")

    def _complex_input(self, complex_pairs: Sequence[Sequence[int]] | None, c: int, modality: str | None) -> bool:
        """Whether ``complex_embed`` embeds an input of ``c`` channels with these pairs (an image input with
        pairs, on an encoder with complex tokens); raises where the pairs are not the interleaved layout."""
        if self.complex_embed is None or not complex_pairs or self.family(modality) != PatchTokenizer.family:
            return False
        if not interleaved_pairs(complex_pairs, c):
            raise ValueError(f"complex_tokens={self.complex_tokens!r} needs every channel in interleaved (re, im) "
                             f"pairs (0, 1), (2, 3), ...; got {[tuple(p) for p in complex_pairs]} for {c} channels")
        return True

    def slot_stride(self, complex_pairs: Sequence[Sequence[int]] | None, c: int, modality: str | None = None
                    ) -> int:
        """Input channel slots per token slot of an input of ``c`` channels: 2 where this encoder merges the
        (re, im) pairs into one token each (``complex_tokens="pair"`` on an image input with ``complex_pairs``),
        else 1. A token slot takes its first input slot's values (a pair's token: its re part's channel index,
        validity, holdout), so per-slot values ``(B, C, ...)`` of the input become the token slots' as
        ``[:, ::stride]``: how JEPA's targets and predictor, and the pooling, see a pair as one channel."""
        merged = self.complex_tokens == "pair" and self._complex_input(complex_pairs, c, modality)
        return 2 if merged else 1

    def reference_phase(self, x: torch.Tensor, complex_pairs: Sequence[Sequence[int]] | None) -> torch.Tensor:
        """``x`` with its complex channels ``complex_pairs`` turned by this encoder's ``phase_reference``
        (unchanged without pairs or with ``none``). Methods apply it to the whole batch before channel sampling;
        :meth:`features` applies it when given the pairs."""
        return _reference_phase(x, complex_pairs or (), self.phase_reference)

    def tokenizer(self, modality: str | None = None) -> nn.Module:
        """The tokenizer that embeds inputs of ``modality`` (see :meth:`family`)."""
        return getattr(self, TOKENIZERS[self.family(modality)].attr)

    def grid(self, modality: str | None = None) -> tuple[int, int]:
        """Token grid of one channel of a ``modality`` input: the patch grid, or ``(1, S)`` time segments for IQ."""
        return tuple(self.tokenizer(modality).grid)

    def _affine(self, tok: torch.Tensor, family: str) -> torch.Tensor:
        if self.modality_scale is None:
            return tok
        i = self.families.index(family)
        return tok * self.modality_scale[i].to(tok.dtype) + self.modality_shift[i].to(tok.dtype)

    def reset_parameters(self) -> None:
        init_vit_weights(self, self.init)
        if self.modality_scale is not None:
            nn.init.ones_(self.modality_scale)
            nn.init.zeros_(self.modality_shift)
        if self.antenna_embed is not None and self.antenna_embed.mode == "learned":
            nn.init.normal_(self.antenna_embed.weight, std=0.02)
        if self.cls_token is not None:
            nn.init.normal_(self.cls_token, std=0.02)
        if self.channel_embed is not None and self.channel_embed.mode == "learned":
            nn.init.normal_(self.channel_embed.weight, std=0.02)

    @property
    def num_prefix_tokens(self) -> int:
        return 0 if self.cls_token is None else 1

    def channel_valid(self, x: torch.Tensor, channels: torch.Tensor | None) -> torch.Tensor:
        """(B, C) bool: channel slot ``c`` of sample ``b`` holds a real channel."""
        b, c = x.shape[:2]
        if channels is None:
            return torch.ones(b, c, dtype=torch.bool, device=x.device)
        channels = channels.to(x.device)
        if channels.shape != (b,):
            raise ValueError(f"channels must have shape ({b},), got {tuple(channels.shape)}")
        if host_checks(channels) and (bool((channels < 1).any()) or bool((channels > c).any())):
            raise ValueError(f"every sample needs between 1 and {c} channels, got {channels.tolist()}")
        return torch.arange(c, device=x.device)[None, :] < channels[:, None]

    def embed(
        self, x: torch.Tensor, channel_ids: torch.Tensor | None = None, modality: str | None = None,
        complex_pairs: Sequence[Sequence[int]] | None = None,
    ) -> torch.Tensor:
        """Patch + position (+ channel) embedding of every patch: (B, C, H, W) -> (B, C, N, D) (``C / 2`` token
        slots where pairs merge, :meth:`slot_stride`); for IQ ``(B, A, 2, T)`` -> ``(B, A, S, D)`` segment tokens.

        ``channel_ids`` (B, C): which input channel (antenna) each slot holds (default: slot ``c`` = ``c``).
        ``complex_pairs``: the (re, im) slot pairs of complex channels, for ``complex_tokens`` ``modulus`` and
        ``pair`` (they must be the interleaved ``(0, 1), (2, 3), ...`` of all slots, as channel sampling keeps
        them).
        """
        if x.ndim != 4:
            raise ValueError(f"encoder input must be (B, C, H, W) or IQ (B, A, 2, T), got shape {tuple(x.shape)}")
        family = self.family(modality)
        tokenizer = getattr(self, TOKENIZERS[family].attr)
        stride = self.slot_stride(complex_pairs, x.shape[1], modality)
        if self._complex_input(complex_pairs, x.shape[1], modality):
            tok = self.complex_embed.tokens(x)
        else:
            tok = tokenizer.tokens(x)
        tok = self._affine(tok, family) + tokenizer.pos_embed.to(tok.dtype)
        identity = tokenizer.identity
        table = getattr(self, identity) if identity is not None else None
        what = "channels but channel_embed" if identity == "channel_embed" else f"channels but {identity}"
        who = "encoder" if identity == "channel_embed" else f"encoder ({identity})"
        if table is not None:  # channel (antenna) identity, looked up by the input index each slot holds
            b, c = x.shape[:2]
            if channel_ids is None and c > self.max_channels:
                raise ValueError(f"input has {c} {what} knows only {self.max_channels}")
            ids = default_channel_ids(b, c, x.device) if channel_ids is None else channel_ids.to(x.device)
            ids = check_channel_ids(ids, b, c, self.max_channels, who)[:, ::stride]  # a pair: its re channel's
            tok = tok + table(ids).to(tok.dtype)[:, :, None, :]
        return tok

    def forward(
        self,
        x: torch.Tensor,
        channels: torch.Tensor | None = None,
        keep: torch.Tensor | None = None,
        keep_valid: torch.Tensor | None = None,
        channel_ids: torch.Tensor | None = None,
        modality: str | None = None,
        complex_pairs: Sequence[Sequence[int]] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Encode a batch.

        Args:
            x: (B, C, H, W) standardised input; channel slots past ``channels[b]`` are padding.
            channels: (B,) number of real channels per sample (None: all ``C`` are real).
            keep: (B, K) grid positions to encode (row-major index into the patch grid), the same positions on
                every channel; None encodes all ``N`` positions.
            keep_valid: (B, K) bool, False where ``keep`` is padding (samples keeping fewer positions).
            channel_ids: (B, C) input channel index of every slot (after channel sampling); None: slot = index.
            modality: the input's data modality (the batch's ``modality``: ``spectrogram``, ``csi``, ``iq``) or
                token family (``image``, ``iq``); None only for an encoder of one family (:meth:`family`).
            complex_pairs: the (re, im) slot pairs of ``x`` (for ``complex_tokens``; :meth:`embed`).

        Returns:
            tokens (B, T, D) with ``T = prefix + C * K`` channel-major (``C / 2`` token slots where pairs merge,
            :meth:`slot_stride`), and valid (B, T) bool.
        """
        tok, valid, mask = self._tokens(x, channels, keep, keep_valid, channel_ids, modality, complex_pairs)
        for blk in self.blocks:
            tok = blk(tok, attn_mask=mask)
        return self.norm(tok), valid

    def forward_intermediates(
        self,
        x: torch.Tensor,
        channels: torch.Tensor | None = None,
        channel_ids: torch.Tensor | None = None,
        modality: str | None = None,
        last: int = 1,
        complex_pairs: Sequence[Sequence[int]] | None = None,
    ) -> tuple[list[torch.Tensor], torch.Tensor]:
        """The raw outputs (no final norm) of the last ``last`` blocks on whole inputs, first to last, and valid.

        What multi-layer targets (data2vec's average of the top blocks) are built from; shapes as :meth:`forward`.
        """
        if not 1 <= int(last) <= len(self.blocks):
            raise ValueError(f"last must be in [1, {len(self.blocks)}] (the encoder's depth), got {last}")
        tok, valid, mask = self._tokens(x, channels, None, None, channel_ids, modality, complex_pairs)
        outs = []
        for i, blk in enumerate(self.blocks):
            tok = blk(tok, attn_mask=mask)
            if i >= len(self.blocks) - int(last):
                outs.append(tok)
        return outs, valid

    def _tokens(
        self,
        x: torch.Tensor,
        channels: torch.Tensor | None,
        keep: torch.Tensor | None,
        keep_valid: torch.Tensor | None,
        channel_ids: torch.Tensor | None,
        modality: str | None,
        complex_pairs: Sequence[Sequence[int]] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Tokens entering the first block (kept positions, prefix), their valid flags and the attention mask."""
        tok = self.embed(x, channel_ids, modality, complex_pairs)
        b, c, n, d = tok.shape
        stride = self.slot_stride(complex_pairs, x.shape[1], modality)
        valid = self.channel_valid(x, channels)[:, ::stride, None]  # (B, C, 1), per token slot
        if keep is not None:
            if keep.ndim != 2 or keep.shape[0] != b:
                raise ValueError(f"keep must be (B={b}, K), got {tuple(keep.shape)}")
            k = keep.shape[1]
            tok = torch.gather(tok, 2, keep[:, None, :, None].expand(b, c, k, d))
            if keep_valid is not None:
                valid = valid & keep_valid[:, None, :]
        valid = valid.expand(b, c, tok.shape[2]).reshape(b, -1)
        tok = tok.reshape(b, -1, d)
        if self.cls_token is not None:
            tok = torch.cat([self.cls_token.expand(b, -1, -1).to(tok.dtype), tok], dim=1)
            valid = torch.cat([torch.ones(b, 1, dtype=torch.bool, device=valid.device), valid], dim=1)
        return tok, valid, key_padding_mask(valid)

    def pool_tokens(self, tokens: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """(B, T, D) encoder output -> (B, D) feature by the configured pooling."""
        if self.pool == "cls":
            return tokens[:, 0]
        p = self.num_prefix_tokens
        w = valid[:, p:, None].to(tokens.dtype)
        return (tokens[:, p:] * w).sum(1) / w.sum(1).clamp_min(1.0)

    def features(
        self,
        x: torch.Tensor,
        channels: torch.Tensor | None = None,
        channel_ids: torch.Tensor | None = None,
        modality: str | None = None,
        complex_pairs: Sequence[Sequence[int]] | None = None,
    ) -> torch.Tensor:
        """Pooled (B, D) features of whole inputs: what linear probes and ``wfm predict`` use (``complex_pairs``:
        the batch's, for the phase reference)."""
        x = self.reference_phase(x, complex_pairs)
        tokens, valid = self(x, channels, channel_ids=channel_ids, modality=modality, complex_pairs=complex_pairs)
        return self.pool_tokens(tokens, valid)
