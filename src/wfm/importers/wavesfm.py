"""WavesFM (Aboulfotouh & Abou-Zeid, "Multimodal Wireless Foundation Models", arXiv:2511.15162) onto wfm's ViT.

Read from the published ``models_vit.py`` / ``pos_embed.py`` / ``main_finetune.py`` of
``github.com/AhmedTarek62/wavesfm`` (not copied). Its ``ModalityAdapterViT`` is:

* a CLS token (``cls_token`` (1, 1, D)), timm ``Block`` s (``blocks.<i>.*``, ``qkv_bias=True``) and a final
  ``nn.LayerNorm`` (eps 1e-6). The repository pins timm 1.0.11, whose ``Block`` builds its two norms with
  ``nn.LayerNorm`` (eps **1e-5**), while wfm's blocks use 1e-6: recorded as an exact adjustment.
* vision: timm ``PatchEmbed`` of **one** channel (``vis_patch_embed.proj`` Conv2d(1, D, P, P)) on a square
  ``vis_img_size`` (default 224, patch 16), plus a fixed 2-D sine-cosine table (MAE's ``pos_embed.py``: the
  first half of each row encodes the patch *column*, the second half the row, computed in float32; wfm's
  table orders the halves the other way round, so the table is stored with the weights). A task with C > 1
  channels goes through a 1x1 ``channel_adapter`` (C -> 1), initialised to their average.
* IQ: inputs ``(N, 2, C, T)``; per antenna, segments of ``iq_segment_len`` (16) samples with hop = segment
  (every registry entry sets it) embedded by ``iq_segment_embed`` Conv1d(2, D, kernel=16) — the linear map of a
  segment's I values then its Q values, wfm's IQ tokenizer layout; a 1-D sine-cosine time table and an
  antenna table ``iq_ant_embed`` (Embedding(max_antennas, D)).
* optional FiLM (``use_conditional_ln``: ``mod_ln_scale.<modality>``, ``mod_ln_bias.<modality>``) applied to
  ``[CLS, tokens + positions]`` before the blocks: folded exactly into the tokenizer weights, position tables
  and CLS token of the imported modality.
* the pooled feature is the CLS output (``--global-pool token``, the default) or the token mean (``avg``).

Checkpoints are saved as ``{"model": state_dict, "optimizer": ..., "args": vars(args), ...}`` (``main_finetune``
``save_checkpoint``) and loaded as ``ckpt["model"]`` when present, else the file as a state dict (``hub.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from wfm.checkpoint import build_encoder
from wfm.importers.common import KeyMap, MappingError, read_released

#: ``models_vit.py``'s registry: name -> (embed_dim, depth, num_heads, iq_max_tokens, iq_max_antennas)
REGISTRY = {
    "vit_multi_micro": (128, 4, 4, 1024, 8),
    "vit_multi_small": (256, 8, 8, 1024, 16),
    "vit_multi_base": (512, 12, 8, 1024, 32),
    "vit_multi_large": (768, 12, 12, 256, 32),
}
#: heads by width when the checkpoint does not name its model (the registry's)
HEADS_BY_WIDTH = {v[0]: v[2] for v in REGISTRY.values()}
#: timm 1.0.11's ``Block`` norm (``nn.LayerNorm`` default eps)
BLOCK_NORM_EPS = 1e-5


def _sincos(dim: int, pos: np.ndarray) -> np.ndarray:
    """MAE's 1-D sine-cosine rows with its dtypes (float32 frequencies; the positions' dtype decides the rest)."""
    omega = np.arange(dim // 2, dtype=np.float32)
    omega /= dim / 2.0
    omega = 1.0 / 10000**omega
    out = np.einsum("m,d->md", pos.reshape(-1), omega)
    return np.concatenate([np.sin(out), np.cos(out)], axis=1)


def mae_2d_table(dim: int, grid: int) -> torch.Tensor:
    """``(grid * grid, dim)`` fixed positions of WavesFM's vision tokens, row-major over the patch grid:
    first half the column index, second half the row index (float32 arithmetic, as published)."""
    coords = np.arange(grid, dtype=np.float32)
    cols, rows = np.meshgrid(coords, coords)  # (grid, grid) each: cols varies along a row
    return torch.from_numpy(np.concatenate([_sincos(dim // 2, cols), _sincos(dim // 2, rows)], axis=1)).float()


def mae_1d_table(dim: int, n: int) -> torch.Tensor:
    """``(n, dim)`` fixed time positions of WavesFM's IQ segments (integer positions, so float64 angles)."""
    return torch.from_numpy(_sincos(dim, np.arange(n))).float()


def _args(rest: dict[str, Any]) -> dict[str, Any]:
    args = rest.get("args")
    return dict(args) if isinstance(args, dict) else {}


def import_wavesfm(
    ckpt: str | Path, out: str | Path, *, modality: str = "auto", pool: str | None = None,
    img_size: int | None = None, iq_length: int = 1024, num_heads: int | None = None, channels: str = "mean",
    name: str | None = None, allow_unused: bool = False,
) -> tuple[Path, KeyMap]:
    """Map a released WavesFM checkpoint onto a wfm :class:`~wfm.models.encoder.ViTEncoder` and write a model
    folder at ``out``.

    Args:
        modality: ``vision``, ``iq``, ``both`` or ``auto`` (every tokenizer the checkpoint holds; a checkpoint
            with FiLM has one CLS value per modality and must be imported one modality at a time).
        pool: ``cls`` or ``mean``; default: the checkpoint's ``args.global_pool`` (``token`` -> cls), else cls.
        img_size: the vision input side; default ``args.vis_img_size``, else 224 (WavesFM's default).
        iq_length: IQ samples per antenna the encoder takes (a multiple of the segment; re-import for another).
        num_heads: not in the weights; default from ``args.model`` or the registry's value for the width.
        channels: ``mean`` (WavesFM's channel adapter at its average init: C channels -> 1, the default) or
            ``separate`` (wfm's own per-channel tokens with WavesFM's weights; not WavesFM's protocol).
        allow_unused: import even when the file holds tensors that are neither mapped nor a known head/decoder.
    """
    from wfm.pretrained import sha256, write_model_folder

    ckpt = Path(ckpt)
    state, rest = read_released(ckpt)
    args = _args(rest)
    km = KeyMap(state, str(ckpt), "WavesFM")
    km.refuse(["lora_", "attn.qkv.qkv."], "LoRA adapters: merge them into the qkv weights before importing")
    if modality not in ("auto", "vision", "iq", "both"):
        raise ValueError(f"modality must be auto, vision, iq or both, got {modality!r}")
    if channels not in ("mean", "separate"):
        raise ValueError(f"channels must be mean or separate, got {channels!r}")
    has_vis, has_iq = km.has("vis_patch_embed.proj.weight"), km.has("iq_segment_embed.weight")
    want_vis = modality in ("vision", "both") or (modality == "auto" and has_vis)
    want_iq = modality in ("iq", "both") or (modality == "auto" and has_iq)
    if not (want_vis or want_iq):
        km.take("vis_patch_embed.proj.weight")  # names the missing tokenizer
    film: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    for m, want in (("vision", want_vis), ("iq", want_iq)):
        if want and km.has(f"mod_ln_scale.{m}"):
            film[m] = (km.take(f"mod_ln_scale.{m}", into=f"FiLM scale ({m}), folded"),
                       km.take(f"mod_ln_bias.{m}", into=f"FiLM bias ({m}), folded"))
    if want_vis and want_iq and film:
        raise MappingError(f"{ckpt}: key 'mod_ln_scale.vision': this WavesFM uses FiLM (conditional LN), which "
                           "gives the CLS token one value per modality; import one modality at a time: "
                           "--modality vision or --modality iq")
    if want_iq:
        km.refuse(["iq_downsampler."], "an IQ downsampler (--iq-downsample conv) is not representable; import "
                                       "--modality vision")
        if args.get("iq_downsample") not in (None, "none"):
            raise MappingError(f"{ckpt}: args.iq_downsample={args['iq_downsample']!r} resamples IQ before "
                               "tokenizing, which wfm does not do; import --modality vision")

    cls = km.take("cls_token")
    if cls.ndim != 3 or cls.shape[:2] != (1, 1):
        raise MappingError(f"{ckpt}: key 'cls_token' has shape {tuple(cls.shape)}, expected (1, 1, D)")
    d = int(cls.shape[-1])
    depth = km.depth("blocks.")
    if depth == 0:
        km.take("blocks.0.attn.qkv.weight")
    hidden = km.shape("blocks.0.mlp.fc1.weight")[0]
    model = args.get("model")
    heads = int(num_heads or (REGISTRY[model][2] if model in REGISTRY else HEADS_BY_WIDTH.get(d, 8)))
    why = ("given" if num_heads else f"args.model {model}" if model in REGISTRY else
           "assumed from the width: the weights do not say it; give --num-heads if the model used another")
    km.notes.append(f"num_heads {heads} ({why})")
    if model in REGISTRY and REGISTRY[model][:2] != (d, depth):
        raise MappingError(f"{ckpt}: args.model={model!r} is {REGISTRY[model][:2]} (width, depth) but the weights "
                           f"are ({d}, {depth})")
    pool_arg = pool or {"token": "cls", "avg": "mean"}.get(str(args.get("global_pool", "token")), "cls")
    config: dict[str, Any] = dict(embed_dim=d, depth=depth, num_heads=heads, mlp_ratio=hidden / d, cls_token=True,
                                  pool=pool_arg, channel_embed="none", init="xavier")
    if want_vis:
        w = km.shape("vis_patch_embed.proj.weight")
        if len(w) != 4 or w[0] != d or w[1] != 1 or w[2] != w[3]:
            raise MappingError(f"{ckpt}: key 'vis_patch_embed.proj.weight' has shape {w}, expected ({d}, 1, P, P) "
                               "(a one-channel patch embedding; wfm embeds every channel on its own)")
        patch = int(w[2])
        side = int(img_size or args.get("vis_img_size") or 224)
        if side % patch:
            raise MappingError(f"{ckpt}: image side {side} is not a multiple of the patch size {patch}")
        config.update(img_size=[side, side], patch_size=patch)
    else:  # the ViT always has an image path: a zero one, refused by the model's preprocessing
        config.update(img_size=[16, 16], patch_size=16)
    if want_iq:
        seg_w = km.shape("iq_segment_embed.weight")
        if len(seg_w) != 3 or seg_w[0] != d or seg_w[1] != 2:
            raise MappingError(f"{ckpt}: key 'iq_segment_embed.weight' has shape {seg_w}, expected ({d}, 2, M)")
        seg = int(seg_w[2])
        if args.get("iq_segment_len") not in (None, seg):
            raise MappingError(f"{ckpt}: args.iq_segment_len={args['iq_segment_len']} but the segment embedding "
                               f"takes {seg} samples")
        antennas = km.shape("iq_ant_embed.weight")[0]
        max_tokens = REGISTRY[model][3] if model in REGISTRY else 1024
        if iq_length % seg or iq_length // seg > max_tokens:
            raise MappingError(f"{ckpt}: iq_length {iq_length} must be a multiple of the segment {seg} with at most "
                               f"{max_tokens} segments (the model's iq_max_tokens)")
        config.update(iq_length=int(iq_length), iq_segment=seg, antenna_embed="learned", max_channels=antennas)

    # an empty encoder of the config gives every target shape; then the mapped state
    from wfm.models.encoder import ViTEncoder

    own = ViTEncoder(**config).state_dict()
    mapped: dict[str, torch.Tensor] = {}
    buffers: dict[str, torch.Tensor] = {}
    for key in own:
        if key.startswith(("blocks.", "norm.")):
            mapped[key] = km.take(key, own[key].shape, into=key)
    g_v, b_v = film.get("vision", (None, None))
    g_i, b_i = film.get("iq", (None, None))
    g, b = (g_v, b_v) if want_vis else (g_i, b_i)
    mapped["cls_token"] = cls if g is None else cls * g + b
    if want_vis:
        w = km.take("vis_patch_embed.proj.weight", own["patch_embed.weight"].shape, into="patch_embed.weight")
        bias = km.take("vis_patch_embed.proj.bias", own["patch_embed.bias"].shape, into="patch_embed.bias")
        table = mae_2d_table(d, config["img_size"][0] // config["patch_size"])
        if g_v is not None:
            w, bias, table = w * g_v[:, None, None, None], bias * g_v + b_v, table * g_v
        mapped["patch_embed.weight"], mapped["patch_embed.bias"] = w, bias
        buffers["patch_embed.pos_embed"] = table
    else:
        mapped["patch_embed.weight"] = torch.zeros_like(own["patch_embed.weight"])
        mapped["patch_embed.bias"] = torch.zeros_like(own["patch_embed.bias"])
    if want_iq:
        w = km.take("iq_segment_embed.weight", into="iq.proj.weight").reshape(d, -1)  # (D, 2, M): I then Q
        bias = km.take("iq_segment_embed.bias", (d,), into="iq.proj.bias")
        ant = km.take("iq_ant_embed.weight", own["antenna_embed.weight"].shape, into="antenna_embed.weight")
        table = mae_1d_table(d, config["iq_length"] // config["iq_segment"])
        if g_i is not None:
            w, bias, ant, table = w * g_i[:, None], bias * g_i + b_i, ant * g_i, table * g_i
        mapped["iq.proj.weight"], mapped["iq.proj.bias"], mapped["antenna_embed.weight"] = w, bias, ant
        buffers["iq.pos_embed"] = table
        # two token families (the image path always exists): identity feature-wise affines, FiLM is folded
        mapped["modality_scale"] = torch.ones_like(own["modality_scale"])
        mapped["modality_shift"] = torch.zeros_like(own["modality_shift"])
    steps: list[dict[str, Any]] = []
    if want_vis:
        if km.has("channel_adapter.weight"):
            a = km.take("channel_adapter.weight", into="preprocessing: channel_mix")
            if a.ndim != 4 or a.shape[0] != 1:
                raise MappingError(f"{ckpt}: key 'channel_adapter.weight' has shape {tuple(a.shape)}, expected "
                                   "(1, C, 1, 1) (C task channels -> the one pretrained channel)")
            steps.append({"step": "channel_mix", "weights": a.flatten().tolist()})
        elif channels == "mean":
            steps.append({"step": "channel_mean"})
        steps.append({"step": "resize", "size": config["img_size"], "mode": "bicubic"})
    # not used by the encoder: task heads, an MAE decoder, and the tokenizers / FiLM of a modality not imported
    known = ["head.", "decoder", "mask_token"]
    if not want_vis:
        known += ["vis_", "channel_adapter.", "mod_ln_scale.vision", "mod_ln_bias.vision"]
    if not want_iq:
        known += ["iq_", "mod_ln_scale.iq", "mod_ln_bias.iq"]
    unused = km.finish(known, allow_unused)
    adjust = {"block_norm_eps": BLOCK_NORM_EPS, "buffers": sorted(buffers)}
    encoder = build_encoder(config, {**mapped, **buffers}, f"{ckpt} (mapped)", adjust=adjust)
    families = (["vision"] if want_vis else []) + (["iq"] if want_iq else [])
    prep: dict[str, Any] = {"steps": steps, "trained_with": {
        "vision": "(C, H, W) inputs resized to vis_img_size x vis_img_size (bicubic) and normalised per channel "
                  "with dataset statistics (rfs: [-1, 1] scaling); C > 1 channels mixed into one by a 1x1 "
                  "channel adapter initialised to their average",
        "iq": "(2, antennas, T) I/Q normalised per I and Q with dataset statistics, segments of "
              f"{config.get('iq_segment', 16)} samples, hop = segment, at most "
              f"{REGISTRY[model][3] if model in REGISTRY else 1024} tokens",
        "imported": ", ".join(families),
    }}
    if not want_vis:
        prep["accepts"] = ["iq"]
    folder = write_model_folder(
        out, encoder, encoder_name="imported", name=name,
        source={"file": str(ckpt.resolve()), "sha256": sha256(ckpt)},
        preprocessing=prep,
        imported={"importer": "wavesfm", "model": f"WavesFM ({model or 'model name not recorded'})",
                  "file": ckpt.name, "modalities": families, "film_folded": sorted(film),
                  "trained_on": "As published (arXiv:2511.15162; huggingface ahmedaboulfo/wavesfm): masked "
                                "pretraining of one shared ViT on spectrogram/CSI images and raw IQ",
                  "args": {k: args[k] for k in sorted(args) if isinstance(args[k], (str, int, float, bool))},
                  "mapped": dict(km.used), "unused_keys": unused, "num_heads": heads},
        limits=["Multi-channel images are averaged into one channel (WavesFM's channel adapter at its init) "
                "unless imported with --channels separate.",
                f"IQ inputs must have exactly iq_length={config.get('iq_length', 0)} samples per antenna "
                "(re-import with --iq-length for another length)." if want_iq else
                "Imported without its IQ tokenizer: vision inputs only.",
                "Random-init rows of its probe table are wfm ViTs of the same size (wfm's position table order).",
                "Fine-tuning it with wfm is possible (it is a wfm ViT); the adjustments travel with its checkpoints."],
    )
    return folder, km
