"""LoRA adapters on the query and value projections of the encoder's attention (WavesFM fine-tuning mode).

The encoder's attention computes queries, keys and values with one fused ``qkv`` Linear of width ``3 * D``.
:class:`LoRAQKV` replaces that Linear with a subclass that keeps the very same ``weight``/``bias``
parameters (so state-dict keys ``...attn.qkv.weight``/``bias`` are unchanged) and adds two low-rank
deltas, ``scale * B_q A_q x`` on the query slice and ``scale * B_v A_v x`` on the value slice; keys get none.
``B`` starts at zero, so a freshly adapted encoder computes exactly what it did before.
:meth:`LoRAQKV.merge` folds the deltas into ``weight`` and returns a plain Linear, which turns the encoder
back into a plain
:class:`~wfm.models.encoder.ViTEncoder` that ``wfm.checkpoint.load_backbone`` can rebuild.

Added parameters: ``depth * 2 * r * (D + D)`` (per block: A and B for q and for v).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from timm.layers.attention import Attention
from torch import nn


class LoRAQKV(nn.Linear):
    """A fused ``qkv`` Linear (``D -> 3D``) with low-rank updates on the q and v slices.

    Args:
        base: the existing ``qkv`` Linear; its ``weight`` and ``bias`` Parameters are shared, not copied.
        rank: LoRA rank ``r`` (>= 1).
        alpha: LoRA scale numerator; the deltas are multiplied by ``alpha / r``.
    """

    def __init__(self, base: nn.Linear, rank: int, alpha: float) -> None:
        if rank < 1:
            raise ValueError(f"lora_rank must be >= 1, got {rank}")
        d_in, d_out = base.in_features, base.out_features
        if d_out != 3 * d_in:
            raise ValueError(f"LoRAQKV wraps a fused qkv Linear of width 3*{d_in}, got out_features={d_out}")
        # built on the meta device: the real tensors are the base layer's, assigned just below
        super().__init__(d_in, d_out, bias=base.bias is not None, device="meta")
        self.weight = base.weight
        self.bias = base.bias
        self.rank = int(rank)
        self.alpha = float(alpha)
        self.scale = self.alpha / self.rank
        dev, dt = base.weight.device, base.weight.dtype
        self.lora_q_a = nn.Parameter(torch.empty(rank, d_in, device=dev, dtype=dt))
        self.lora_q_b = nn.Parameter(torch.zeros(d_in, rank, device=dev, dtype=dt))
        self.lora_v_a = nn.Parameter(torch.empty(rank, d_in, device=dev, dtype=dt))
        self.lora_v_b = nn.Parameter(torch.zeros(d_in, rank, device=dev, dtype=dt))
        # A random, B zero (the LoRA convention): the update is exactly zero at start, yet B gets gradients
        nn.init.kaiming_uniform_(self.lora_q_a, a=math.sqrt(5))
        nn.init.kaiming_uniform_(self.lora_v_a, a=math.sqrt(5))

    def lora_parameters(self) -> list[nn.Parameter]:
        return [self.lora_q_a, self.lora_q_b, self.lora_v_a, self.lora_v_b]

    def delta_weight(self) -> torch.Tensor:
        """The (3D, D) update ``[scale * B_q A_q; 0; scale * B_v A_v]`` that merging adds to ``weight``."""
        d = self.in_features
        zeros = torch.zeros(d, d, device=self.weight.device, dtype=self.weight.dtype)
        return torch.cat([self.lora_q_b @ self.lora_q_a, zeros, self.lora_v_b @ self.lora_v_a]) * self.scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.linear(x, self.weight, self.bias)
        q, k, v = out.chunk(3, dim=-1)
        # two thin matmuls per slice instead of a (3D, D) delta: cheaper and exactly zero while B is zero
        dq = F.linear(F.linear(x, self.lora_q_a), self.lora_q_b) * self.scale
        dv = F.linear(F.linear(x, self.lora_v_a), self.lora_v_b) * self.scale
        return torch.cat([q + dq.to(q.dtype), k, v + dv.to(v.dtype)], dim=-1)

    @torch.no_grad()
    def merge(self) -> nn.Linear:
        """A plain Linear whose weight includes the deltas (outputs identical up to float rounding)."""
        merged = nn.Linear(self.in_features, self.out_features, bias=self.bias is not None,
                           device=self.weight.device, dtype=self.weight.dtype)
        merged.weight.copy_(self.weight + self.delta_weight())
        if self.bias is not None:
            merged.bias.copy_(self.bias)
        merged.weight.requires_grad_(self.weight.requires_grad)
        if merged.bias is not None and self.bias is not None:
            merged.bias.requires_grad_(self.bias.requires_grad)
        return merged


def _attentions(model: nn.Module) -> list[Attention]:
    return [m for m in model.modules() if isinstance(m, Attention)]


def add_lora(model: nn.Module, rank: int = 8, alpha: float = 16.0) -> list[LoRAQKV]:
    """Put LoRA adapters on the q and v projections of every attention block of ``model``, in place.

    Only the adapters are new; freezing the rest is the caller's choice. Returns the adapted layers.
    """
    attns = _attentions(model)
    if not attns:
        raise ValueError(f"{type(model).__name__} has no attention blocks to put LoRA adapters on")
    layers = []
    for attn in attns:
        if isinstance(attn.qkv, LoRAQKV):
            raise ValueError("LoRA adapters are already present; merge them before adding new ones")
        attn.qkv = LoRAQKV(attn.qkv, rank, alpha)
        layers.append(attn.qkv)
    return layers


def lora_parameters(model: nn.Module) -> list[nn.Parameter]:
    """Every LoRA adapter parameter in ``model``."""
    return [p for m in model.modules() if isinstance(m, LoRAQKV) for p in m.lora_parameters()]


def merge_lora(model: nn.Module) -> nn.Module:
    """Fold every adapter into its ``qkv`` weight, in place; ``model`` is a plain encoder afterwards."""
    for attn in _attentions(model):
        if isinstance(attn.qkv, LoRAQKV):
            attn.qkv = attn.qkv.merge()
    return model


@torch.no_grad()
def merged_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """``model``'s state dict as if the adapters were merged, without changing ``model``.

    This is what a checkpoint's backbone record stores, so the exported encoder loads as a plain ViTEncoder.
    """
    state = {k: v for k, v in model.state_dict().items() if ".lora_" not in k}
    for name, m in model.named_modules():
        if isinstance(m, LoRAQKV):
            key = f"{name}.weight"
            state[key] = state[key] + m.delta_weight()
    return state
