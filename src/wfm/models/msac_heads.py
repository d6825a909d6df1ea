"""JEPA-MSAC's lightweight task heads on the predictive latent ``S_pred`` (§III-E) and Table II's GRU baselines.

* :class:`LocalizationHead` — eq. 21-25: a coarse trajectory (constant-velocity extrapolation of the last two
  GPS fixes, or, in the history-missing mode, eq. 22's MLP of the last predicted latent) plus a per-step
  residual from ``S_pred``;
* :class:`BeamHead` — eq. 26-27: ``S_fused = [S_pred; Y_loc]`` -> projection -> one-layer GRU -> MLP -> logits
  over the K beams at every future step;
* :class:`PowerHead` — eq. 28-31: the future beam-power profile as a coarse estimate (the last measured
  profile, a learned per-step average of the measured profiles, or an MLP of ``S_pred`` without RF history) plus
  a residual from ``S_fused``; the RSSI is the
  codebook-averaged power (averaged in the power domain, as :func:`wfm.data.sensors.rssi_db` defines it).

Positions enter the fused latent relative to the last GPS fix and divided by ``pos_scale`` metres, so the
heads see the same numbers wherever the scene's origin is.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn


def mlp(d_in: int, hidden: int, d_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d_in, hidden), nn.GELU(), nn.Linear(hidden, d_out))


def constant_velocity(p_hist: torch.Tensor, horizon: int) -> torch.Tensor:
    """Eq. 21: ``p[T_h] + k (p[T_h] - p[T_h - 1])`` for k = 1..horizon; ``p_hist`` ``(B, T_h, 2)``."""
    last, prev = p_hist[:, -1], p_hist[:, -2]
    k = torch.arange(1, horizon + 1, dtype=p_hist.dtype, device=p_hist.device).view(1, -1, 1)
    return last.unsqueeze(1) + k * (last - prev).unsqueeze(1)


def linear_fit(p_hist: torch.Tensor, horizon: int) -> torch.Tensor:
    """Least-squares constant-velocity trajectory through all ``T_h`` fixes, extrapolated ``horizon`` steps: the
    same motion model as eq. 21 without its amplification of the last two fixes' GNSS noise (``(2k + 1)``-fold
    at step k)."""
    th = p_hist.shape[1]
    t = torch.arange(th, dtype=p_hist.dtype, device=p_hist.device)
    tc = t - t.mean()
    mean = p_hist.mean(1, keepdim=True)
    vel = (tc.view(1, -1, 1) * (p_hist - mean)).sum(1, keepdim=True) / (tc ** 2).sum()
    future = torch.arange(th, th + horizon, dtype=p_hist.dtype, device=p_hist.device) - t.mean()
    return mean + future.view(1, -1, 1) * vel


def power_mean_db(power_db: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """``10 log10(mean_k 10^(P_k / 10))``: the codebook-averaged received power in dB (stable logsumexp)."""
    scale = math.log(10.0) / 10.0
    return (torch.logsumexp(power_db * scale, dim=dim) - math.log(power_db.shape[dim])) / scale


Coarse = Literal["fit", "last_two"]


class LocalizationHead(nn.Module):
    """Future positions ``(B, H, 2)`` metres from ``S_pred`` ``(B, H, D)`` and, when available, the GPS history.

    ``coarse``: ``last_two`` is eq. 21 (extrapolate the last two fixes), ``fit`` the least-squares constant-velocity
    fit through the whole history (:func:`linear_fit`, the default: GNSS fixes carry metre-level noise)."""

    def __init__(self, dim: int, horizon: int, hidden: int = 128, pos_scale: float = 10.0,
                 coarse: Coarse = "fit") -> None:
        super().__init__()
        self.residual = mlp(dim, hidden, 2)
        self.bootstrap = mlp(dim, hidden, 2)  # eq. 22
        self.horizon, self.pos_scale, self.coarse = horizon, pos_scale, coarse

    def forward(self, s_pred: torch.Tensor, p_hist: torch.Tensor | None) -> torch.Tensor:
        if p_hist is not None:
            extrapolate = linear_fit if self.coarse == "fit" else constant_velocity
            coarse = extrapolate(p_hist, self.horizon)
        else:
            coarse = self.pos_scale * self.bootstrap(s_pred[:, -1]).unsqueeze(1).expand(-1, self.horizon, -1)
        return coarse + self.pos_scale * self.residual(s_pred)


#: location features the fused latent gets: the predicted position around the BS (the geometry that sets the beam
#: angle) in units of ``GEOMETRY_SCALE`` m, and its displacement from the last fix in units of ``pos_scale``
GEOMETRY_SCALE = 30.0
LOCATION_FEATURES = 4


def fuse(s_pred: torch.Tensor, y_loc: torch.Tensor | None, p_last: torch.Tensor | None,
         pos_scale: float) -> torch.Tensor:
    """``S_fused = [S_pred; Y_loc]``: the predicted positions (BS-centred, eq. 11's frame) and their displacement
    from the last fix, scaled to unit order."""
    if y_loc is None:
        return s_pred
    ref = p_last.unsqueeze(1) if p_last is not None else y_loc[:, :1]
    return torch.cat([s_pred, y_loc / GEOMETRY_SCALE, (y_loc - ref) / pos_scale], dim=-1)


class BeamHead(nn.Module):
    """Eq. 26: projection -> one-layer GRU -> MLP, logits ``(B, H, K)``.

    With ``power_last`` given (the last measured beam-power profile, dB), the logits are coarse + residual as the
    power head's eq. 28-30: ``power_last / prior_db`` (a learned temperature per horizon step) plus the head's
    output — the last sweep is where the beam is now, the latent says where it goes."""

    def __init__(self, dim: int, num_beams: int, hidden: int = 128, use_location: bool = True,
                 horizon: int = 5) -> None:
        super().__init__()
        self.use_location = use_location
        self.proj = nn.Linear(dim + (LOCATION_FEATURES if use_location else 0), hidden)
        self.gru = nn.GRU(hidden, hidden, num_layers=1, batch_first=True)
        self.out = mlp(hidden, hidden, num_beams)
        self.prior_scale = nn.Parameter(torch.full((horizon, 1), 0.3))

    def forward(self, fused: torch.Tensor, power_last: torch.Tensor | None = None) -> torch.Tensor:
        h, _ = self.gru(self.proj(fused))
        logits = self.out(h)
        if power_last is not None:
            rel = power_last - power_last.amax(-1, keepdim=True)  # dB below the strongest beam
            logits = logits + self.prior_scale[: logits.shape[1]] * rel.unsqueeze(1)
        return logits


PowerCoarse = Literal["last", "filter"]


class PowerHead(nn.Module):
    """Eq. 28-31: future beam powers ``(B, H, K)`` dB = coarse + residual; ``rssi`` from them.

    ``coarse``: ``last`` is eq. 28 (the last measured profile for every future step); ``filter`` a learned
    weighted average of the ``history`` measured profiles per future step (softmax weights, initialised on the
    last profile): a sweep carries per-frame fading of a few dB, which one profile passes on whole and an average
    over the last frames reduces — the beam-power analogue of the localization head's least-squares fit."""

    def __init__(self, dim: int, num_beams: int, horizon: int, hidden: int = 128, use_location: bool = True,
                 power_scale: float = 10.0, coarse: PowerCoarse = "last", history: int = 8) -> None:
        super().__init__()
        self.horizon, self.power_scale, self.coarse = horizon, power_scale, coarse
        self.proj = nn.Linear(dim + (LOCATION_FEATURES if use_location else 0), hidden)
        self.gru = nn.GRU(hidden, hidden, num_layers=1, batch_first=True)
        self.residual = mlp(hidden, hidden, num_beams)
        self.bootstrap = mlp(dim, hidden, num_beams)
        self.offset = nn.Parameter(torch.tensor(-80.0))  # a dB level for the history-missing mode
        init = torch.zeros(horizon, history)
        init[:, -1] = 4.0  # ~93 % of the weight on the last profile at the start
        self.history_logits = nn.Parameter(init)

    def coarse_estimate(self, power_hist: torch.Tensor) -> torch.Tensor:
        """``(B, H, K)`` dB from the measured profiles ``power_hist`` ``(B, T_h, K)``."""
        if self.coarse == "last":
            return power_hist[:, -1:].expand(-1, self.horizon, -1)
        th = power_hist.shape[1]
        w = torch.softmax(self.history_logits[:, -th:], -1)  # (H, T_h)
        return torch.einsum("hj,bjk->bhk", w, power_hist)

    def forward(self, fused: torch.Tensor, s_pred: torch.Tensor, power_hist: torch.Tensor | None) -> torch.Tensor:
        """``power_hist``: the measured profiles of the history frames ``(B, T_h, K)`` dB (None: the
        history-missing mode, eq. 28's coarse estimate bootstrapped from ``S_pred``)."""
        if power_hist is not None:
            coarse = self.coarse_estimate(power_hist)
        else:
            coarse = (self.offset + self.power_scale * self.bootstrap(s_pred[:, -1])).unsqueeze(1).expand(
                -1, self.horizon, -1)
        h, _ = self.gru(self.proj(fused))
        return coarse + self.power_scale * self.residual(h)


# --- Table II's GRU baselines (history of the task's own signal only) --------------------------------------------
class GRULocalization(nn.Module):
    """Encoder + decoder GRU (2 -> 64) + linear (64 -> 2) on the GPS history (displacements from the last fix)."""

    def __init__(self, horizon: int, hidden: int = 64, pos_scale: float = 10.0) -> None:
        super().__init__()
        self.enc = nn.GRU(2, hidden, batch_first=True)
        self.dec = nn.GRU(2, hidden, batch_first=True)
        self.out = nn.Linear(hidden, 2)
        self.horizon, self.pos_scale = horizon, pos_scale

    def forward(self, p_hist: torch.Tensor) -> torch.Tensor:
        rel = (p_hist - p_hist[:, -1:]) / self.pos_scale
        _, h = self.enc(rel)
        step = rel[:, -1:] - rel[:, -2:-1]
        outs = []
        for _ in range(self.horizon):
            o, h = self.dec(step, h)
            step = self.out(o)
            outs.append(step)
        return p_hist[:, -1:] + self.pos_scale * torch.cumsum(torch.cat(outs, 1), 1)


class GRUBeam(nn.Module):
    """Token embedding (K -> 32) + GRU (32 -> 64) + linear (64 -> K) on the history of best beams."""

    def __init__(self, num_beams: int, horizon: int, embed: int = 32, hidden: int = 64) -> None:
        super().__init__()
        self.embed = nn.Embedding(num_beams, embed)
        self.gru = nn.GRU(embed, hidden, batch_first=True)
        self.out = nn.Linear(hidden, num_beams)
        self.horizon = horizon

    def forward(self, beams: torch.Tensor) -> torch.Tensor:
        o, h = self.gru(self.embed(beams))
        x = o[:, -1:]
        outs = []
        for _ in range(self.horizon):
            logits = self.out(x)
            outs.append(logits)
            x, h = self.gru(self.embed(logits.argmax(-1)), h)
        return torch.cat(outs, 1)


class GRUPower(nn.Module):
    """Encoder GRU (K -> 96) + decoder GRU (K -> 96) + MLP head on the beam-power history (dB, standardised by
    ``mean``/``std``); returns future beam powers in dB."""

    def __init__(self, num_beams: int, horizon: int, hidden: int = 96, mean: float = -80.0, std: float = 10.0) -> None:
        super().__init__()
        self.enc = nn.GRU(num_beams, hidden, batch_first=True)
        self.dec = nn.GRU(num_beams, hidden, batch_first=True)
        self.out = mlp(hidden, hidden, num_beams)
        self.horizon, self.mean, self.std = horizon, mean, std

    def forward(self, power_hist: torch.Tensor) -> torch.Tensor:
        x = (power_hist - self.mean) / self.std
        _, h = self.enc(x)
        step = x[:, -1:]
        outs = []
        for _ in range(self.horizon):
            o, h = self.dec(step, h)
            step = step + self.out(o)
            outs.append(step)
        return torch.cat(outs, 1) * self.std + self.mean
