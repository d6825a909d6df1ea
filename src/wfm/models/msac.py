"""JEPA-MSAC's networks: modality tokenizers into one D-dim token space, the factorized positional embedding, the
shared transformer trunk and the latent predictor (JEPA-MSAC, §III-B to III-D).

A window of ``T`` frames of ``M`` sensor modalities becomes one token sequence, **time-major**: frame 0's tokens
of every modality (in :data:`wfm.data.sequence.MODALITIES` order), then frame 1's, ... Modality ``m`` gives
``P_m`` tokens per frame (Table I: image 9, radar 16, LiDAR 16, GPS 1, beam power 1), so the history of
``T_hist`` frames is exactly the first ``T_hist * sum(P_m)`` tokens — the frozen-backbone prediction of §III-E
tokenizes only those and no future frame enters the computation.

* image: a small CNN (or a ``timm`` backbone built without downloaded weights, optionally loading local ones),
  adaptive average pooling to a ``g x g`` grid and a 1x1 projection (``g*g`` tokens);
* radar range-angle and LiDAR depth maps: one light CNN topology (:class:`MapTokenizer`), pooled to a grid;
* GPS and the beam-power vector: linear + LayerNorm, one token per frame (:class:`StateTokenizer`);
* eq. 12: ``Z~ = Z + E_t(t) + E_m(m) + E_p(p)`` with learnable tables (:class:`FactorizedEmbedding`);
* the trunk is timm's pre-norm ViT block, as in the rest of wfm.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

import torch
from timm.layers import trunc_normal_
from timm.models.vision_transformer import Block
from torch import nn

from wfm.data.sequence import MODALITIES

#: per-frame token counts of Table I
PAPER_TOKENS = {"image": 9, "radar": 16, "lidar": 16, "gps": 1, "beam_power": 1}


def _grid(tokens: int) -> tuple[int, int]:
    side = int(round(tokens ** 0.5))
    if side * side != tokens:
        raise ValueError(f"a map tokenizer needs a square token count (4, 9, 16, ...), got {tokens}")
    return side, side


class ImageTokenizer(nn.Module):
    """RGB frame ``(3, H, W)`` -> ``tokens`` tokens of ``embed_dim``.

    ``backbone="cnn"``: two stride-2 conv blocks (``width``, ``2 width`` channels, GroupNorm); ``"timm:<name>"``:
    that timm model's feature maps, built with ``pretrained=False`` (no download; ``weights`` loads a local state
    dict)."""

    def __init__(self, embed_dim: int, tokens: int = 9, backbone: str = "cnn", weights: str | None = None,
                 width: int = 16) -> None:
        super().__init__()
        if backbone == "cnn":
            w = width
            self.features = nn.Sequential(
                nn.Conv2d(3, w, 3, 2, 1), nn.GroupNorm(4, w), nn.GELU(),
                nn.Conv2d(w, 2 * w, 3, 2, 1), nn.GroupNorm(4, 2 * w), nn.GELU(),
            )
            out = 2 * w
        elif backbone.startswith("timm:"):
            import timm

            net = timm.create_model(backbone[5:], pretrained=False, features_only=True, out_indices=(-1,))
            if weights is not None:
                from wfm.checkpoint import load_torch_file  # lazy: wfm.checkpoint imports the ViT encoder

                state = load_torch_file(Path(weights), what="image tokenizer weights")
                missing, _ = net.load_state_dict(state, strict=False)
                if len(missing) == len(net.state_dict()):
                    raise ValueError(f"{weights}: no parameter of {backbone[5:]} found in this state dict")
            self.features = _LastFeature(net)
            out = net.feature_info.channels()[-1]
        else:
            raise ValueError(f"image backbone must be 'cnn' or 'timm:<model name>', got {backbone!r}")
        self.pool = nn.AdaptiveAvgPool2d(_grid(tokens))
        self.proj = nn.Conv2d(out, embed_dim, 1)
        self.tokens = tokens

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 3, H, W) -> (B, P, D)
        return self.proj(self.pool(self.features(x))).flatten(2).transpose(1, 2)


class _LastFeature(nn.Module):
    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)[-1]


class MapTokenizer(nn.Module):
    """A radar range-angle or LiDAR depth map ``(C, H, W)`` -> ``tokens`` tokens: the light CNN both share
    (two stride-2 conv-GroupNorm-GELU blocks of ``width`` and ``2 width`` channels), adaptive average pooling to
    the token grid, a 1x1 projection."""

    def __init__(self, in_channels: int, embed_dim: int, tokens: int = 16, width: int = 16) -> None:
        super().__init__()
        w = width
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, w, 3, 2, 1), nn.GroupNorm(4, w), nn.GELU(),
            nn.Conv2d(w, 2 * w, 3, 2, 1), nn.GroupNorm(4, 2 * w), nn.GELU(),
        )
        self.pool = nn.AdaptiveAvgPool2d(_grid(tokens))
        self.proj = nn.Conv2d(2 * w, embed_dim, 1)
        self.tokens = tokens

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(self.pool(self.features(x))).flatten(2).transpose(1, 2)


class StateTokenizer(nn.Module):
    """A low-dimensional state (GPS position ``(2,)``, beam-power vector ``(K,)``) -> one token: linear +
    LayerNorm."""

    tokens = 1

    def __init__(self, in_features: int, embed_dim: int) -> None:
        super().__init__()
        self.proj = nn.Linear(in_features, embed_dim)
        self.norm = nn.LayerNorm(embed_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.proj(x)).unsqueeze(1)


def build_tokenizer(name: str, frame_shape: Sequence[int], embed_dim: int, tokens: int,
                    image_backbone: str = "cnn", image_weights: str | None = None, width: int = 16) -> nn.Module:
    """The tokenizer of one modality for frames of ``frame_shape`` (``width``: the CNNs' first channel count)."""
    if name == "image":
        return ImageTokenizer(embed_dim, tokens, image_backbone, image_weights, width)
    if name in ("radar", "lidar"):
        return MapTokenizer(int(frame_shape[0]), embed_dim, tokens, width)
    if name in ("gps", "beam_power"):
        if tokens != 1:
            raise ValueError(f"{name} is one token per frame, got tokens={tokens}")
        return StateTokenizer(int(frame_shape[0]), embed_dim)
    raise ValueError(f"no tokenizer for modality {name!r}; expected one of {list(MODALITIES)}")


class FactorizedEmbedding(nn.Module):
    """Eq. 12: ``E_t(t) + E_m(m) + E_p(p)`` from three learnable tables (time, modality, intra-frame index)."""

    def __init__(self, frames: int, modalities: int, max_tokens: int, dim: int) -> None:
        super().__init__()
        self.time = nn.Parameter(torch.zeros(frames, dim))
        self.modality = nn.Parameter(torch.zeros(modalities, dim))
        self.index = nn.Parameter(torch.zeros(max_tokens, dim))
        for p in (self.time, self.modality, self.index):
            trunc_normal_(p, std=0.02)

    def forward(self, t: torch.Tensor, m: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        return self.time[t] + self.modality[m] + self.index[p]


def _init_weights(module: nn.Module) -> None:
    if isinstance(module, nn.Linear):
        trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


class MSACEncoder(nn.Module):
    """Tokenizers + factorized embedding + shared ViT trunk over a window's token sequence.

    Args:
        frame_shapes: per-frame shape of each modality the data has (``SequenceData.frame_shapes()``); the
            encoder uses them in :data:`MODALITIES` order.
        frames: window length ``T`` (the size of the temporal table).
        tokens: per-frame token counts by modality (default Table I's).
        embed_dim, depth, num_heads, mlp_ratio: the trunk (Table I's backbone is D = 128).
        image_backbone, image_weights: see :class:`ImageTokenizer`.
        tokenizer_width: channels of the CNN tokenizers' first block (the second has twice as many).
        gps_relative: the GPS token also sees the fix relative to the window's first frame, times this factor
            (standardised units: the scene-wide spread of positions is tens of metres, a frame's motion and the GNSS
            noise are metres; motion is the same wherever it happens). 0 feeds the absolute fix alone.
        power_relative: the beam-power token also sees the profile relative to the window's first frame (dB
            changes, in standardised units) times this factor: the scene-wide spread of beam powers is tens of dB,
            a frame's fading and a blockage are a few dB, and after the token's LayerNorm the level of a profile
            is hard to read from the absolute profile alone. 0 (the default) feeds the absolute profile alone.
    """

    def __init__(self, frame_shapes: Mapping[str, Sequence[int]], frames: int = 13,
                 tokens: Mapping[str, int] | None = None, embed_dim: int = 128, depth: int = 4, num_heads: int = 4,
                 mlp_ratio: float = 4.0, image_backbone: str = "cnn", image_weights: str | None = None,
                 tokenizer_width: int = 16, gps_relative: float = 8.0, power_relative: float = 0.0) -> None:
        super().__init__()
        unknown = sorted(set(frame_shapes) - set(MODALITIES))
        if unknown or not frame_shapes:
            raise ValueError(f"frame_shapes must name some of {list(MODALITIES)}, got {sorted(frame_shapes)}")
        self.modalities = tuple(m for m in MODALITIES if m in frame_shapes)
        counts = {**PAPER_TOKENS, **dict(tokens or {})}
        self.tokens = {m: int(counts[m]) for m in self.modalities}
        self.frame_shapes = {m: tuple(int(s) for s in frame_shapes[m]) for m in self.modalities}
        self.gps_relative = float(gps_relative)
        self.power_relative = float(power_relative)
        # state modalities whose token also sees the frame relative to the window's first one, with its factor
        self.relative = {m: f for m, f in (("gps", self.gps_relative), ("beam_power", self.power_relative))
                         if f and m in self.frame_shapes}
        token_inputs = {m: (2 * s[0],) if m in self.relative else s for m, s in self.frame_shapes.items()}
        self.frames, self.embed_dim = int(frames), int(embed_dim)
        self.tokenizers = nn.ModuleDict({
            m: build_tokenizer(m, token_inputs[m], embed_dim, self.tokens[m], image_backbone, image_weights,
                               tokenizer_width)
            for m in self.modalities
        })
        self.pos = FactorizedEmbedding(frames, len(self.modalities), max(self.tokens.values()), embed_dim)
        self.blocks = nn.ModuleList(Block(embed_dim, num_heads, mlp_ratio, qkv_bias=True) for _ in range(depth))
        self.norm = nn.LayerNorm(embed_dim)
        self.apply(_init_weights)
        t, m, p = self.layout(frames)
        self.register_buffer("_t", t, persistent=False)
        self.register_buffer("_m", m, persistent=False)
        self.register_buffer("_p", p, persistent=False)
        self.config = {"frame_shapes": {k: list(v) for k, v in self.frame_shapes.items()}, "frames": self.frames,
                       "tokens": dict(self.tokens), "embed_dim": self.embed_dim, "depth": depth,
                       "num_heads": num_heads, "mlp_ratio": mlp_ratio, "image_backbone": image_backbone,
                       "image_weights": image_weights, "tokenizer_width": tokenizer_width,
                       "gps_relative": self.gps_relative,
                       **({"power_relative": self.power_relative} if self.power_relative else {})}

    @property
    def tokens_per_frame(self) -> int:
        return sum(self.tokens.values())

    def layout(self, frames: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(t, m, p)`` of every token of ``frames`` frames, time-major (each ``(frames * tokens_per_frame,)``)."""
        t, m, p = [], [], []
        for ti in range(frames):
            for mi, name in enumerate(self.modalities):
                for pi in range(self.tokens[name]):
                    t.append(ti)
                    m.append(mi)
                    p.append(pi)
        return torch.tensor(t), torch.tensor(m), torch.tensor(p)

    def token_modality(self, frames: int | None = None) -> torch.Tensor:
        """Modality index of every token of a window of ``frames`` frames (default all ``T``)."""
        n = (frames or self.frames) * self.tokens_per_frame
        return self._m[:n]

    def tokenize(self, inputs: Mapping[str, torch.Tensor], frames: int | None = None) -> torch.Tensor:
        """``(B, frames * tokens_per_frame, D)`` tokens with the factorized embedding of the first ``frames``
        frames (default all) of ``inputs`` ``{modality: (B, T, ...)}``. Later frames are never read."""
        f = self.frames if frames is None else int(frames)
        missing = [m for m in self.modalities if m not in inputs]
        if missing:
            raise ValueError(f"the batch has no {missing}; this encoder was built for {list(self.modalities)}")
        per_mod = []
        for name in self.modalities:
            x = inputs[name][:, :f]
            b = x.shape[0]
            if tuple(x.shape[2:]) != self.frame_shapes[name]:
                raise ValueError(f"{name} frames have shape {tuple(x.shape[2:])}, this encoder was built for "
                                 f"{self.frame_shapes[name]}")
            if name in self.relative:  # frame 0 is always a history frame: the relative part reads no later frame
                x = torch.cat([x, self.relative[name] * (x - x[:, :1])], dim=-1)
            z = self.tokenizers[name](x.reshape(b * f, *x.shape[2:]))  # (B*f, P_m, D)
            per_mod.append(z.reshape(b, f, self.tokens[name], self.embed_dim))
        z = torch.cat(per_mod, dim=2).reshape(b, f * self.tokens_per_frame, self.embed_dim)
        n = z.shape[1]
        return z + self.pos(self._t[:n], self._m[:n], self._p[:n])

    def forward(self, tokens: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
        """Trunk over ``tokens`` ``(B, I, D)``, or over the visible ones ``keep`` ``(B, n)`` (indices) only."""
        if keep is not None:
            tokens = torch.gather(tokens, 1, keep.unsqueeze(-1).expand(-1, -1, tokens.shape[-1]))
        for blk in self.blocks:
            tokens = blk(tokens)
        return self.norm(tokens)

    def features(self, inputs: Mapping[str, torch.Tensor], frames: int | None = None) -> torch.Tensor:
        """Mean-pooled trunk output of the first ``frames`` frames, ``(B, D)`` (RankMe, LDA rank)."""
        return self(self.tokenize(inputs, frames)).mean(1)


class MSACPredictor(nn.Module):
    """Eq. 14-15: the full sequence with the context encoding at visible positions and one learnable mask token
    at masked ones (plus the predictor's own factorized embedding, so a mask token knows where it stands),
    through a narrow trunk, back to ``D``."""

    def __init__(self, encoder: MSACEncoder, pred_dim: int = 64, depth: int = 2, num_heads: int = 4,
                 mlp_ratio: float = 4.0) -> None:
        super().__init__()
        d = encoder.embed_dim
        self.embed = nn.Linear(d, pred_dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, pred_dim))
        trunc_normal_(self.mask_token, std=0.02)
        self.pos = FactorizedEmbedding(encoder.frames, len(encoder.modalities), max(encoder.tokens.values()), pred_dim)
        self.blocks = nn.ModuleList(Block(pred_dim, num_heads, mlp_ratio, qkv_bias=True) for _ in range(depth))
        self.norm = nn.LayerNorm(pred_dim)
        self.out = nn.Linear(pred_dim, d)
        self.apply(_init_weights)
        t, m, p = encoder.layout(encoder.frames)
        self.register_buffer("_t", t, persistent=False)
        self.register_buffer("_m", m, persistent=False)
        self.register_buffer("_p", p, persistent=False)
        self.config = {"pred_dim": pred_dim, "depth": depth, "num_heads": num_heads, "mlp_ratio": mlp_ratio}

    def forward(self, context: torch.Tensor, keep: torch.Tensor, total: int) -> torch.Tensor:
        """``context`` ``(B, n, D)`` at token positions ``keep`` ``(B, n)`` of a ``total``-token sequence ->
        ``(B, total, D)`` predicted latents (eq. 15)."""
        b = context.shape[0]
        full = self.mask_token.expand(b, total, -1).clone()
        full.scatter_(1, keep.unsqueeze(-1).expand(-1, -1, full.shape[-1]), self.embed(context))
        full = full + self.pos(self._t[:total], self._m[:total], self._p[:total])
        for blk in self.blocks:
            full = blk(full)
        return self.out(self.norm(full))


def history_keep(encoder: MSACEncoder, history: int, batch: int, device: torch.device | None = None) -> torch.Tensor:
    """Token indices of the first ``history`` frames, ``(batch, history * tokens_per_frame)``."""
    n = history * encoder.tokens_per_frame
    return torch.arange(n, device=device).unsqueeze(0).expand(batch, n)


#: how ``S_pred`` pools a future frame's predicted tokens: ``all`` (one mean over every token of the frame) or
#: ``modality`` (one mean per modality, concatenated: ``M * D`` features, so the one-token GPS and beam-power
#: predictions are not averaged away among the image and map tokens)
Pool = Literal["all", "modality"]


def latent_dim(encoder: MSACEncoder, pool: Pool = "modality") -> int:
    """Features per future frame of :func:`predict_future` with ``pool``."""
    return encoder.embed_dim * (len(encoder.modalities) if pool == "modality" else 1)


def predict_future(encoder: MSACEncoder, predictor: MSACPredictor, inputs: Mapping[str, torch.Tensor],
                   history: int, pool: Pool = "modality") -> torch.Tensor:
    """§III-E, eq. 20: ``S_pred`` ``(B, T - history, D or M * D)`` — the history frames encoded, the future slots
    filled with the mask token, the predictor's outputs at the future slots pooled per frame (``pool``).

    Only the first ``history`` frames of ``inputs`` are read (``tokenize(inputs, history)``)."""
    ctx = encoder(encoder.tokenize(inputs, history))
    b = ctx.shape[0]
    keep = history_keep(encoder, history, b, ctx.device)
    pred = predictor(ctx, keep, encoder.frames * encoder.tokens_per_frame)
    future = pred[:, history * encoder.tokens_per_frame:]
    future = future.reshape(b, encoder.frames - history, encoder.tokens_per_frame, -1)
    if pool == "all":
        return future.mean(2)
    parts, start = [], 0
    for name in encoder.modalities:
        p = encoder.tokens[name]
        parts.append(future[:, :, start:start + p].mean(2))
        start += p
    return torch.cat(parts, -1)
