"""Fine-tuning modes for a (pretrained) encoder plus a task head, and layer-wise lr decay (WavesFM).

Modes:

* ``full``: every encoder parameter trains.
* ``linear``: the encoder is frozen; only the head trains (a linear probe trained by SGD).
* ``partial``: the last ``k`` blocks and the final norm train; patch embedding, CLS token and earlier blocks
  are frozen (they stay bit-identical).
* ``lora``: the encoder is frozen and LoRA adapters (:mod:`wfm.models.lora`) on every block's query and
  value projections train.

Layer-wise lr decay gives block ``i`` (0-based, of ``depth``) the lr scale ``decay ** (depth - i)``, the
embeddings (patch embedding, CLS token, channel embedding) ``decay ** (depth + 1)`` and the final norm and
the head ``1``: layers near the input, which hold the most general features, move least.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from torch import nn

from wfm.choices import check_choice, choices
from wfm.methods.base import adamw_group, is_decayed
from wfm.models.encoder import ViTEncoder
from wfm.models.lora import add_lora, lora_parameters
from wfm.models.tokenizers import TOKENIZERS

#: what of the encoder trains (see the module docstring)
FinetuneMode = Literal["full", "linear", "partial", "lora"]
FINETUNE_MODES = choices(FinetuneMode)


def apply_finetune_mode(
    encoder: ViTEncoder,
    mode: FinetuneMode,
    partial_blocks: int = 1,
    lora_rank: int = 8,
    lora_alpha: float = 16.0,
) -> None:
    """Set ``requires_grad`` on ``encoder`` (and add LoRA adapters for ``lora``) in place."""
    check_choice("finetune", mode, FinetuneMode)
    depth = len(encoder.blocks)
    if mode == "full":
        encoder.requires_grad_(True)
        return
    encoder.requires_grad_(False)
    if mode == "partial":
        if not 0 <= partial_blocks <= depth:
            raise ValueError(f"partial_blocks must be in [0, {depth}] for an encoder of depth {depth}, "
                             f"got {partial_blocks}")
        for blk in encoder.blocks[depth - partial_blocks:]:
            blk.requires_grad_(True)
        encoder.norm.requires_grad_(True)
    elif mode == "lora":
        add_lora(encoder, lora_rank, lora_alpha)
        for p in lora_parameters(encoder):
            p.requires_grad_(True)


#: parameter-name prefixes of the encoder's embedding layer: every registered tokenizer, the complex-channel
#: projection and the identity tables
EMBEDDINGS = (*(t.attr for t in TOKENIZERS.values()), "complex_embed", "cls_token", "channel_embed",
              "antenna_embed", "modality_scale", "modality_shift", "pos_embed")


def encoder_layer_id(name: str, depth: int) -> int:
    """Layer index of an encoder parameter: 0 embeddings, ``i + 1`` block ``i``, ``depth + 1`` final norm."""
    if name.startswith("blocks."):
        return int(name.split(".")[1]) + 1
    if name.startswith(EMBEDDINGS):
        return 0
    return depth + 1


def param_groups(
    encoder: ViTEncoder,
    heads: Iterable[nn.Module],
    layer_decay: float | None = None,
) -> list[dict]:
    """AdamW parameter groups over the trainable parameters of ``encoder`` and ``heads``.

    Groups are split by weight decay (none on 1-D tensors: biases, norms, tokens) and, with ``layer_decay``,
    by layer; each group carries ``lr_scale`` (multiplied into the scheduled lr every step), ``decay``
    (whether the weight-decay schedule applies) and ``layer`` (for inspection and tests).
    """
    if layer_decay is not None and not 0 < layer_decay <= 1:
        raise ValueError(f"layer_decay must be in (0, 1], got {layer_decay}")
    depth = len(encoder.blocks)
    groups: dict[tuple[int, bool], dict] = {}

    def add(p: nn.Parameter, layer: int) -> None:
        if not p.requires_grad:
            return
        scale = 1.0 if layer_decay is None else layer_decay ** (depth + 1 - layer)
        key = (layer, is_decayed(p))
        groups.setdefault(key, adamw_group(key[1], scale, layer=layer))["params"].append(p)

    for name, p in encoder.named_parameters():
        add(p, encoder_layer_id(name, depth) if layer_decay is not None else 0)
    for head in heads:
        for p in head.parameters():
            add(p, depth + 1 if layer_decay is not None else 0)
    return [groups[k] for k in sorted(groups)]
