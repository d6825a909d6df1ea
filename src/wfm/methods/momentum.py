"""Momentum (EMA) targets as a base facility: any method that keeps slow copies of some modules.

A subclass lists its ``(online, target)`` module pairs in :attr:`MomentumMethod.momentum_pairs`; after every
real optimizer step (once per step also under gradient accumulation) every target parameter becomes
``m * target + (1 - m) * online``, with ``m`` a linear schedule from ``momentum_start`` to ``momentum_end``
over the run — a pure function of the step, so resume is exact. JEPA's target encoder is one such pair; a
BYOL- or DINO-style method would list its projector too.
"""

from __future__ import annotations

import torch
from torch import nn

from wfm.methods import schedules
from wfm.methods.base import WFMMethod


@torch.no_grad()
def ema_update(pairs: list[tuple[nn.Module, nn.Module]], m: float) -> None:
    """``target <- m * target + (1 - m) * online`` for every ``(online, target)`` pair, with foreach kernels
    (also used by methods that are not :class:`MomentumMethod`, e.g. JEPA-MSAC's)."""
    tgt, src = [], []
    for online, target in pairs:
        tgt += list(target.parameters())
        src += [p.detach() for p in online.parameters()]
    if tgt:
        torch._foreach_mul_(tgt, m)
        torch._foreach_add_(tgt, src, alpha=1.0 - m)


class MomentumMethod(WFMMethod):
    """A method with EMA targets.

    Args:
        momentum_start, momentum_end: EMA momentum, linear over the run (I-JEPA: 0.996 -> 1.0).
        **kwargs: optimisation and sampling arguments of :class:`~wfm.methods.base.WFMMethod`.
    """

    def __init__(self, momentum_start: float = 0.996, momentum_end: float = 1.0, **kwargs) -> None:
        super().__init__(**kwargs)
        if not 0 <= momentum_start <= momentum_end <= 1:
            raise ValueError(f"need 0 <= momentum_start <= momentum_end <= 1, got {momentum_start}, {momentum_end}")
        self.momentum_start, self.momentum_end = momentum_start, momentum_end

    @property
    def momentum_pairs(self) -> list[tuple[nn.Module, nn.Module]]:
        """``(online, target)`` module pairs the EMA updates; subclasses list theirs."""
        return []

    def momentum(self, step: int) -> float:
        return schedules.linear(step, self.total_steps, self.momentum_start, self.momentum_end)

    def schedule_values(self, step: int) -> dict[str, float]:
        return {**super().schedule_values(step), "momentum": self.momentum(step)}

    def ema_update(self, m: float) -> None:
        """``target <- m * target + (1 - m) * online`` for every pair (:func:`ema_update`)."""
        ema_update(self.momentum_pairs, m)

    def after_optimizer_step(self) -> None:
        # global_step has not been incremented yet: this is the momentum of the step just taken
        self.ema_update(self.momentum(self.global_step))

    def on_train_start(self) -> None:
        for _, target in self.momentum_pairs:
            target.eval()  # never trained: no dropout and the like
