"""A phase reference for complex channels: every sample turned by one common phase, so that the features do not
depend on the unknown global carrier phase of the channel.

A measured channel is known only up to a global phase ``e^{i theta}`` (oscillator offsets), which beam and
LoS/NLoS labels never depend on. Given the ``(re, im)`` channel pairs of a sample, the reference multiplies all
its complex entries by ``conj(r) / |r|`` for one reference value ``r`` of the sample:

- ``strongest``: the entry of largest magnitude (over all pairs, antennas, subcarriers), which becomes real and
  positive; its index does not change under a rotation, so the result is exactly invariant to one;
- ``sum``: the sum of all entries (a linear, so equally invariant, reference; undefined where it cancels).

Either way ``reference(z e^{i theta}) = reference(z)`` up to float rounding (tested <= 1e-5), whatever
``theta``, and a referenced sample is its own reference (applying it twice changes nothing). Inputs are
standardised with one scale and no offset per pair (wfm.data.datasets.h5), which keeps a rotation of the
channel a rotation of the input.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch

from wfm.choices import choices

PhaseReference = Literal["none", "strongest", "sum"]
PHASE_REFERENCES = choices(PhaseReference)


def interleaved_pairs(pairs: Sequence[Sequence[int]] | None, c: int) -> bool:
    """Whether ``pairs`` are the channels ``(0, 1), (2, 3), ...`` of all ``c`` slots: complex channels stored
    as consecutive (re, im) parts, the layout every wfm converter and built-in set writes (and channel sampling
    keeps)."""
    return bool(pairs) and c % 2 == 0 and [tuple(p) for p in pairs] == [(k, k + 1) for k in range(0, c, 2)]


def reference_phase(x: torch.Tensor, pairs: Sequence[Sequence[int]], mode: PhaseReference = "strongest"
                    ) -> torch.Tensor:
    """``x`` (B, C, H, W) with every sample's complex channels ``pairs`` [(re, im), ...] turned by one common
    phase (``mode``); other channels and ``mode="none"`` unchanged. Padding slots of a batch hold zeros, which
    never become the reference (ties and all-zero samples keep their phase)."""
    if mode == "none" or not pairs:
        return x
    re_idx = torch.tensor([int(p[0]) for p in pairs], device=x.device)
    im_idx = torch.tensor([int(p[1]) for p in pairs], device=x.device)
    z = torch.complex(x[:, re_idx].float(), x[:, im_idx].float())  # (B, P, H, W)
    flat = z.reshape(z.shape[0], -1)
    if mode == "strongest":
        ref = flat.gather(1, flat.abs().argmax(1, keepdim=True))[:, 0]
    elif mode == "sum":
        ref = flat.sum(1)
    else:
        raise ValueError(f"phase_reference must be one of {PHASE_REFERENCES}, got {mode!r}")
    mag = ref.abs()
    turn = torch.where(mag > 0, ref.conj() / mag.clamp_min(torch.finfo(mag.dtype).tiny), torch.ones_like(ref))
    return _write(x, re_idx, im_idx, z * turn[:, None, None, None])


def _write(x: torch.Tensor, re_idx: torch.Tensor, im_idx: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    out = x.clone()
    out[:, re_idx] = z.real.to(x.dtype)
    out[:, im_idx] = z.imag.to(x.dtype)
    return out
