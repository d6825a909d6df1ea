"""JEPA-MSAC's evaluation: frozen-backbone heads, the baselines on the same windows and budget, per-horizon
metrics and the results table (§III-E, §IV-C).

:func:`evaluate` fits the task heads of :mod:`wfm.models.msac_heads` on ``S_pred`` (eq. 20) of the frozen
pretrained backbone and of an untrained copy, trains the reconstruction-SSL backbone and one supervised
end-to-end model per task for the pretraining's number of steps, computes the physical baselines (last beam,
constant velocity, last RSSI) and Table II's GRUs, and returns one row per method with, per horizon step k:
``position/error_m@h<k>`` (m), ``beam/top1@h<k>``, ``beam/top3@h<k>`` (%), ``beam/dp_db@h<k>`` (power lost by the
chosen beam against the best, dB), ``rssi/rmse_db@h<k>``, ``rssi/mae_db@h<k>`` (dB), plus ``position/ade`` and
``position/fde``. Frozen-backbone rows and GRUs are mean ± std over the head-training seeds; label-free RankMe and
LDA rank of the pooled ``S_pred`` are reported beside them. Only the history frames of a window ever reach a
head (:func:`wfm.models.msac.predict_future` tokenizes nothing else).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from wfm.eval.rankme import rankme
from wfm.eval.tables import write_texts
from wfm.methods import schedules
from wfm.models.msac import MSACEncoder, MSACPredictor, latent_dim, predict_future
from wfm.models.msac_heads import (
    BeamHead,
    GRUBeam,
    GRULocalization,
    GRUPower,
    LocalizationHead,
    PowerCoarse,
    PowerHead,
    constant_velocity,
    fuse,
    power_mean_db,
)

METHODS = ("jepa_msac", "untrained", "supervised", "reconstruction", "last_beam", "constant_velocity", "last_rssi",
           "gru")


# --- metrics (exact on hand-made cases: tests/eval/test_msac_metrics.py) -----------------------------------------
def displacement(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """Eq. 37: ``||Y^ - p||_2`` per window and step, ``(N, H)``."""
    return np.linalg.norm(np.asarray(pred, np.float64) - np.asarray(true, np.float64), axis=-1)


def topk_hit(scores: np.ndarray, beam: np.ndarray, k: int) -> np.ndarray:
    """Eq. 39's indicator: the true beam among the ``k`` highest scores, ``(N, H)`` bool."""
    top = np.argsort(-np.asarray(scores), axis=-1, kind="stable")[..., :k]
    return (top == np.asarray(beam)[..., None]).any(-1)


def delta_p_db(chosen: np.ndarray, beam_power_db: np.ndarray) -> np.ndarray:
    """Eq. 41: ``|P_k^ - P_k*|`` in dB for the chosen beams ``(N, H)`` and true powers ``(N, H, K)``."""
    p = np.asarray(beam_power_db, np.float64)
    got = np.take_along_axis(p, np.asarray(chosen)[..., None], -1)[..., 0]
    return np.abs(p.max(-1) - got)


def horizon_metrics(history: int, labels: Mapping[str, np.ndarray], position: np.ndarray | None = None,
                    beam_scores: np.ndarray | None = None, rssi: np.ndarray | None = None) -> dict[str, float]:
    """One row's metrics on the future frames of ``labels`` (``(N, T, ...)``) from predictions ``(N, H, ...)``."""
    out: dict[str, float] = {}
    if position is not None:
        d = displacement(position, labels["position"][:, history:])
        for k in range(d.shape[1]):
            out[f"position/error_m@h{k + 1}"] = float(d[:, k].mean())
        out["position/ade"] = float(d.mean())
        out["position/fde"] = float(d[:, -1].mean())
    if beam_scores is not None:
        beam = labels["beam"][:, history:]
        top1, top3 = topk_hit(beam_scores, beam, 1), topk_hit(beam_scores, beam, 3)
        dp = delta_p_db(np.asarray(beam_scores).argmax(-1), labels["beam_power"][:, history:])
        for k in range(beam.shape[1]):
            out[f"beam/top1@h{k + 1}"] = 100.0 * float(top1[:, k].mean())
            out[f"beam/top3@h{k + 1}"] = 100.0 * float(top3[:, k].mean())
            out[f"beam/dp_db@h{k + 1}"] = float(dp[:, k].mean())
    if rssi is not None:
        err = np.asarray(rssi, np.float64) - labels["rssi"][:, history:]
        for k in range(err.shape[1]):
            out[f"rssi/rmse_db@h{k + 1}"] = float(np.sqrt((err[:, k] ** 2).mean()))
            out[f"rssi/mae_db@h{k + 1}"] = float(np.abs(err[:, k]).mean())
    return out


def lda_rank(views: np.ndarray | torch.Tensor, eps: float = 1e-4) -> float:
    """§IV-C's LDA rank of ``(N, A, D)`` features of ``A`` augmented views per sample: ``exp(H(q))`` of the
    normalised eigenvalues of ``S_w^-1/2 S_b S_w^-1/2`` (within-sample and between-sample covariances; ``eps``
    times the mean within-sample variance is added to ``S_w``)."""
    z = torch.as_tensor(views, dtype=torch.float64)
    if z.ndim != 3 or z.shape[1] < 2:
        raise ValueError(f"lda_rank needs (N, A >= 2, D) features, got {tuple(z.shape)}")
    mu = z.mean(1)  # (N, D)
    within = z - mu[:, None]
    sw = torch.einsum("nad,nae->de", within, within) / (z.shape[0] * z.shape[1])
    centred = mu - mu.mean(0)
    sb = centred.T @ centred / z.shape[0]
    sw = sw + eps * torch.diagonal(sw).mean().clamp_min(1e-12) * torch.eye(sw.shape[0], dtype=sw.dtype)
    evals, evecs = torch.linalg.eigh(sw)
    inv_sqrt = evecs @ torch.diag(evals.clamp_min(1e-12).rsqrt()) @ evecs.T
    lam = torch.linalg.eigvalsh(inv_sqrt @ sb @ inv_sqrt).clamp_min(0)
    if lam.sum() <= 0:
        return 1.0
    q = lam / lam.sum() + 1e-12
    return float(torch.exp(-(q * q.log()).sum()))


# --- data in memory ----------------------------------------------------------------------------------------------
@dataclass
class Split:
    """One split's windows as tensors (inputs standardised; ``raw`` gps / beam power in metres / dB)."""

    inputs: dict[str, torch.Tensor]
    labels: dict[str, np.ndarray]
    raw: dict[str, torch.Tensor]

    @property
    def n(self) -> int:
        return len(next(iter(self.inputs.values())))

    def batch(self, rows: np.ndarray | slice) -> dict[str, torch.Tensor]:
        return {k: v[rows] for k, v in self.inputs.items()}


def split_of(windows: Any) -> Split:
    """A :class:`~wfm.data.datamodules.sequence.SequenceWindows` as a :class:`Split`."""
    d = windows.data
    return Split({k: torch.from_numpy(v) for k, v in d.inputs.items()}, dict(d.labels),
                 {k: torch.from_numpy(v) for k, v in windows.raw.items()})


@torch.no_grad()
def future_latents(encoder: MSACEncoder, predictor: MSACPredictor, split: Split, history: int,
                   batch_size: int = 64) -> torch.Tensor:
    """``S_pred`` ``(N, H, D)`` of every window, frozen networks in eval mode."""
    was = encoder.training, predictor.training
    encoder.eval()
    predictor.eval()
    out = [predict_future(encoder, predictor, split.batch(slice(i, i + batch_size)), history)
           for i in range(0, split.n, batch_size)]
    encoder.train(was[0])
    predictor.train(was[1])
    return torch.cat(out)


# --- head training -----------------------------------------------------------------------------------------------
@dataclass
class HeadConfig:
    """Stage 2 of Table I (epochs 30, lr 1e-4, wd 1e-2 at paper size); CPU recipes train longer at a higher lr.

    ``coarse``: the localization head's coarse estimate (:class:`~wfm.models.msac_heads.LocalizationHead`);
    ``power_coarse``: the power head's (``filter``: a learned average of the history's sweeps, ``last``: eq. 28);
    ``beam_soft_db``: the beam heads' target temperature (:func:`beam_target`; 0: the best-beam index, eq. 27);
    ``beam_prior``: the last sweep as a coarse estimate of the beam logits."""

    epochs: int = 30
    lr: float = 1e-4
    weight_decay: float = 1e-2
    batch_size: int = 64
    hidden: int = 128
    use_location: bool = True
    history_missing: bool = False
    coarse: str = "fit"
    beam_prior: bool = False
    power_coarse: PowerCoarse = "filter"
    beam_soft_db: float = 2.0


def _fit(module: nn.Module, loss_fn: Callable[[np.ndarray], torch.Tensor], n: int, cfg: HeadConfig,
         seed: int) -> nn.Module:
    opt = torch.optim.AdamW(module.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    rng = np.random.default_rng([seed, 31337])
    steps_per_epoch = max(n // cfg.batch_size, 1)
    total = cfg.epochs * steps_per_epoch
    step = 0
    module.train()
    for _ in range(cfg.epochs):
        order = rng.permutation(n)
        for j in range(steps_per_epoch):
            rows = order[j * cfg.batch_size:(j + 1) * cfg.batch_size]
            for g in opt.param_groups:
                g["lr"] = schedules.cosine(step, total, cfg.lr, cfg.lr * 0.01)
            loss = loss_fn(rows)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
    module.eval()
    return module


def beam_target(labels: Mapping[str, np.ndarray], history: int, soft_db: float,
                rows: Any = slice(None)) -> torch.Tensor:
    """The future frames' beam targets for cross-entropy: the best-beam indices ``(N, H)`` when ``soft_db`` is 0,
    else the measured sweeps as distributions ``softmax(P / soft_db)`` ``(N, H, K)``. A sweep's best beam flips
    between neighbours of nearly equal power from frame to frame (fading of a few dB); the soft target keeps how
    close every beam came, which is what ΔP scores, instead of one noisy index."""
    if soft_db > 0:
        return torch.softmax(torch.from_numpy(labels["beam_power"][rows, history:]).float() / soft_db, -1)
    return torch.from_numpy(labels["beam"][rows, history:]).long()


def beam_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of logits ``(B, H, K)`` against a :func:`beam_target` (indices ``(B, H)`` or distributions
    ``(B, H, K)``), averaged over windows and steps."""
    return F.cross_entropy(logits.flatten(0, 1), target.flatten(0, 1))


def _p_hist(split: Split, history: int) -> torch.Tensor:
    return split.raw["gps"][:, :history].float()


def _power_last(split: Split, history: int) -> torch.Tensor:
    return split.raw["beam_power"][:, history - 1].float()


def _power_hist(split: Split, history: int) -> torch.Tensor:
    return split.raw["beam_power"][:, :history].float()


@dataclass
class Heads:
    """The fitted heads and the per-feature mean / std of the training ``S_pred`` they read z-scores of (as a
    linear probe reads standardised features)."""

    loc: LocalizationHead
    beam: BeamHead
    power: PowerHead
    mean: torch.Tensor
    std: torch.Tensor

    def normalise(self, s: torch.Tensor) -> torch.Tensor:
        return (s - self.mean) / self.std


def fit_heads(s_train: torch.Tensor, train: Split, history: int, num_beams: int, cfg: HeadConfig,
              seed: int) -> Heads:
    """The three heads on frozen ``S_pred``: localization first, then beam and power on ``[S_pred; Y_loc]``."""
    torch.manual_seed(seed)
    h, d = s_train.shape[1], s_train.shape[2]
    mean, std = s_train.mean((0, 1), keepdim=True), s_train.std((0, 1), keepdim=True).clamp_min(1e-6)
    s_train = (s_train - mean) / std
    p_hist = None if cfg.history_missing else _p_hist(train, history)
    pos = torch.from_numpy(train.labels["position"][:, history:]).float()
    loc = LocalizationHead(d, h, cfg.hidden, coarse=cfg.coarse)  # type: ignore[arg-type]
    _fit(loc, lambda r: (loc(s_train[r], None if p_hist is None else p_hist[r]) - pos[r]).abs().sum(-1).mean(),
         len(s_train), cfg, seed)
    with torch.no_grad():
        y_loc = loc(s_train, p_hist)
    p_last = _p_hist(train, history)[:, -1]
    fused = fuse(s_train, y_loc if cfg.use_location else None, p_last, loc.pos_scale)
    beam = BeamHead(d, num_beams, cfg.hidden, cfg.use_location, h)
    prior = _power_last(train, history) if cfg.beam_prior and not cfg.history_missing else None
    beam_t = beam_target(train.labels, history, cfg.beam_soft_db)
    _fit(beam, lambda r: beam_cross_entropy(beam(fused[r], None if prior is None else prior[r]), beam_t[r]),
         len(s_train), cfg, seed + 1)
    power_y = torch.from_numpy(train.labels["beam_power"][:, history:]).float()
    rssi_y = torch.from_numpy(train.labels["rssi"][:, history:]).float()
    power_hist = None if cfg.history_missing else _power_hist(train, history)
    power = PowerHead(d, num_beams, h, cfg.hidden, cfg.use_location, coarse=cfg.power_coarse,  # type: ignore[arg-type]
                      history=history)

    def power_loss(r: np.ndarray) -> torch.Tensor:
        pred = power(fused[r], s_train[r], None if power_hist is None else power_hist[r])
        return F.smooth_l1_loss(pred, power_y[r]) + F.smooth_l1_loss(power_mean_db(pred), rssi_y[r])

    _fit(power, power_loss, len(s_train), cfg, seed + 2)
    return Heads(loc, beam, power, mean, std)


@torch.no_grad()
def apply_heads(heads: Heads, s_pred: torch.Tensor, split: Split, history: int,
                cfg: HeadConfig) -> dict[str, np.ndarray]:
    s_pred = heads.normalise(s_pred)
    p_hist = None if cfg.history_missing else _p_hist(split, history)
    y_loc = heads.loc(s_pred, p_hist)
    fused = fuse(s_pred, y_loc if cfg.use_location else None, _p_hist(split, history)[:, -1], heads.loc.pos_scale)
    power = heads.power(fused, s_pred, None if cfg.history_missing else _power_hist(split, history))
    prior = _power_last(split, history) if cfg.beam_prior and not cfg.history_missing else None
    return {"position": y_loc.numpy(), "beam_scores": heads.beam(fused, prior).numpy(),
            "rssi": power_mean_db(power).numpy()}


# --- baselines ---------------------------------------------------------------------------------------------------
def physical_baselines(split: Split, history: int, num_beams: int) -> dict[str, dict[str, float]]:
    """``last_beam`` (the last observed best beam, its codebook neighbours next), ``constant_velocity`` (eq. 21
    on the GPS fixes), ``last_rssi`` (the last measured RSSI)."""
    labels = split.labels
    h = labels["beam"].shape[1] - history
    last = labels["beam"][:, history - 1]
    k = np.arange(num_beams)
    scores = -np.abs(k[None] - last[:, None]) - 1e-3 * (k[None] > last[:, None])  # ties: the lower neighbour
    scores = np.repeat(scores[:, None], h, 1)
    cv = constant_velocity(_p_hist(split, history), h).numpy()
    rssi = np.repeat(labels["rssi"][:, history - 1:history], h, 1)
    return {"last_beam": horizon_metrics(history, labels, beam_scores=scores),
            "constant_velocity": horizon_metrics(history, labels, position=cv),
            "last_rssi": horizon_metrics(history, labels, rssi=rssi)}


def gru_baselines(train: Split, test: Split, history: int, num_beams: int, cfg: HeadConfig,
                  seed: int) -> dict[str, float]:
    """Table II's GRUs, each on its own signal's history: positions, best beams, beam powers."""
    torch.manual_seed(seed)
    h = train.labels["beam"].shape[1] - history
    p_tr, p_te = _p_hist(train, history), _p_hist(test, history)
    pos = torch.from_numpy(train.labels["position"][:, history:]).float()
    loc = GRULocalization(h)
    _fit(loc, lambda r: (loc(p_tr[r]) - pos[r]).abs().sum(-1).mean(), train.n, cfg, seed)
    b_tr = torch.from_numpy(train.labels["beam"][:, :history]).long()
    b_te = torch.from_numpy(test.labels["beam"][:, :history]).long()
    by = beam_target(train.labels, history, cfg.beam_soft_db)
    beam = GRUBeam(num_beams, h)

    def beam_loss(r: np.ndarray) -> torch.Tensor:
        return beam_cross_entropy(beam(b_tr[r]), by[r])

    _fit(beam, beam_loss, train.n, cfg, seed + 1)
    pw_tr, pw_te = _power_hist(train, history), _power_hist(test, history)
    mean, std = float(pw_tr.mean()), float(pw_tr.std().clamp_min(1e-3))
    power = GRUPower(num_beams, h, mean=mean, std=std)
    power_y = torch.from_numpy(train.labels["beam_power"][:, history:]).float()
    rssi_y = torch.from_numpy(train.labels["rssi"][:, history:]).float()

    def power_loss(r: np.ndarray) -> torch.Tensor:
        pred = power(pw_tr[r])
        return F.smooth_l1_loss(pred, power_y[r]) + F.smooth_l1_loss(power_mean_db(pred), rssi_y[r])

    _fit(power, power_loss, train.n, cfg, seed + 2)
    with torch.no_grad():
        return horizon_metrics(history, test.labels, position=loc(p_te).numpy(), beam_scores=beam(b_te).numpy(),
                               rssi=power_mean_db(power(pw_te)).numpy())


# --- end-to-end training on the same windows and budget ----------------------------------------------------------
def train_backbone(method: Any, train: Split, steps: int, batch_size: int, seed: int) -> Any:
    """Train an :class:`~wfm.methods.msac.MSACMethod` (e.g. the reconstruction SSL) for ``steps`` optimizer steps
    outside a Trainer, with its own step randomness and lr schedule."""
    method._plain_total_steps = steps
    opt = method.configure_optimizers()
    rng = np.random.default_rng([seed, 4711])
    method.train()
    for step in range(steps):
        rows = rng.choice(train.n, size=min(batch_size, train.n), replace=False)
        for g in opt.param_groups:
            g["lr"] = method.schedule_values(step)["lr"]
        out = method.shared_step({"inputs": train.batch(rows)}, np.random.default_rng([seed, 0, step]), "train")
        opt.zero_grad(set_to_none=True)
        out["loss"].backward()
        opt.step()
    method.eval()
    return method


def _task_output(task: str, head: nn.Module, norm: nn.Module, enc: MSACEncoder, pred: MSACPredictor, split: Split,
                 rows: Any, history: int) -> torch.Tensor:
    """One end-to-end model's prediction for ``rows``: positions, beam logits or beam powers. ``norm`` standardises
    ``S_pred`` per feature (batch statistics in training, running ones after), as the frozen heads' z-scores."""
    s = predict_future(enc, pred, split.batch(rows), history)
    s = norm(s.flatten(0, 1)).view_as(s)
    p_hist = _p_hist(split, history)[rows]
    if task == "position":
        return head(s, p_hist)
    fused = fuse(s, constant_velocity(p_hist, s.shape[1]), p_hist[:, -1], 10.0)
    if task == "beam":
        return head(fused)
    return head(fused, s, _power_hist(split, history)[rows])


def _task_loss(task: str, y: torch.Tensor, labels: Mapping[str, np.ndarray], rows: Any, history: int,
               soft_db: float = 0.0) -> torch.Tensor:
    def target(key: str) -> torch.Tensor:
        return torch.from_numpy(labels[key][rows, history:])

    if task == "position":
        return (y - target("position").float()).abs().sum(-1).mean()
    if task == "beam":
        return beam_cross_entropy(y, beam_target(labels, history, soft_db, rows))
    return F.smooth_l1_loss(y, target("beam_power").float()) + F.smooth_l1_loss(power_mean_db(y),
                                                                              target("rssi").float())


def supervised_end_to_end(encoder: MSACEncoder, predictor: MSACPredictor, train: Split, test: Split, history: int,
                          num_beams: int, steps: int, batch_size: int, lr: float, seed: int,
                          cfg: HeadConfig | None = None) -> dict[str, float]:
    """One model per task (backbone + that task's head) trained end to end for ``steps`` steps; the beam and power
    heads get the constant-velocity trajectory as their location input (no localization model of their own); the
    beam and power models use the frozen heads' targets and coarse estimate (``cfg``: ``beam_soft_db``,
    ``power_coarse``), so that the rows differ only in how the backbone was trained."""
    cfg = cfg or HeadConfig()
    h = encoder.frames - history
    d = latent_dim(encoder)
    out: dict[str, float] = {}
    for i, task in enumerate(("position", "beam", "rssi")):
        torch.manual_seed(seed)
        enc, pred = copy.deepcopy(encoder), copy.deepcopy(predictor)
        head = {"position": LocalizationHead, "beam": BeamHead, "rssi": PowerHead}[task](
            *{"position": (d, h), "beam": (d, num_beams), "rssi": (d, num_beams, h)}[task],
            **({"coarse": cfg.power_coarse, "history": history} if task == "rssi" else {}))
        norm = nn.BatchNorm1d(d, affine=False)
        params = [*enc.parameters(), *pred.parameters(), *head.parameters()]
        opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.05)
        rng = np.random.default_rng([seed, 99, i])
        for module in (enc, pred, head, norm):
            module.train()
        for step in range(steps):
            rows = rng.choice(train.n, size=min(batch_size, train.n), replace=False)
            for g in opt.param_groups:
                g["lr"] = schedules.warmup_cosine(step, steps, int(0.05 * steps), lr * 0.03, lr, lr * 0.01)
            loss = _task_loss(task, _task_output(task, head, norm, enc, pred, train, rows, history), train.labels,
                              rows, history, cfg.beam_soft_db)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        for module in (enc, pred, head, norm):
            module.eval()
        with torch.no_grad():
            y = torch.cat([_task_output(task, head, norm, enc, pred, test, slice(j, j + 64), history)
                           for j in range(0, test.n, 64)]).numpy()
        if task == "position":
            out.update(horizon_metrics(history, test.labels, position=y))
        elif task == "beam":
            out.update(horizon_metrics(history, test.labels, beam_scores=y))
        else:
            out.update(horizon_metrics(history, test.labels, rssi=power_mean_db(torch.from_numpy(y)).numpy()))
    return out


# --- the whole table ---------------------------------------------------------------------------------------------
@dataclass
class Table:
    """Rows of per-seed metric dicts, by method; ``info`` carries label-free metrics and settings."""

    rows: dict[str, list[dict[str, float]]] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, dict[str, tuple[float, float]]]:
        out = {}
        for name, runs in self.rows.items():
            keys = list(dict.fromkeys(k for r in runs for k in r))
            out[name] = {k: (float(np.mean([r[k] for r in runs if k in r])),
                             float(np.std([r[k] for r in runs if k in r]))) for k in keys}
        return out


def columns(horizon: int) -> list[str]:
    cols = [f"position/error_m@h{k}" for k in range(1, horizon + 1)] + ["position/ade", "position/fde"]
    for metric in ("top1", "top3", "dp_db"):
        cols += [f"beam/{metric}@h{k}" for k in range(1, horizon + 1)]
    for metric in ("rmse_db", "mae_db"):
        cols += [f"rssi/{metric}@h{k}" for k in range(1, horizon + 1)]
    return cols


def to_csv(summary: Mapping[str, Mapping[str, tuple[float, float]]], horizon: int) -> str:
    cols = columns(horizon)
    lines = [",".join(["method"] + [c for col in cols for c in (col, f"{col}_std")])]
    for name, cells in summary.items():
        vals = []
        for c in cols:
            if c in cells:
                vals += [f"{cells[c][0]:.6g}", f"{cells[c][1]:.6g}"]
            else:
                vals += ["", ""]
        lines.append(",".join([name] + vals))
    return "\n".join(lines) + "\n"


def to_markdown(summary: Mapping[str, Mapping[str, tuple[float, float]]], horizon: int) -> str:
    """Per-horizon table: one line per method, columns = task metrics at h1..hH plus ADE / FDE."""
    blocks = []
    groups = [("position error (m) ↓", "position/error_m"), ("beam top-1 (%) ↑", "beam/top1"),
              ("beam top-3 (%) ↑", "beam/top3"), ("beam ΔP (dB) ↓", "beam/dp_db"), ("RSSI RMSE (dB) ↓", "rssi/rmse_db")]
    for title, key in groups:
        extra = ["position/ade", "position/fde"] if key == "position/error_m" else []
        cols = [f"{key}@h{k}" for k in range(1, horizon + 1)] + extra
        head = ["method"] + [f"h{k}" for k in range(1, horizon + 1)] + [c.split("/")[1].upper() for c in extra]
        lines = [f"**{title}**", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for name, cells in summary.items():
            if not any(c in cells for c in cols):
                continue
            digits = 1 if "top" in key else 2
            lines.append("| " + " | ".join([name] + [f"{cells[c][0]:.{digits}f} ± {cells[c][1]:.{digits}f}"
                                                     if c in cells else "" for c in cols]) + " |")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def write_table(table: Table, out_dir: str | Path, horizon: int, note: str = "") -> tuple[Path, Path]:
    """``probe_results.csv`` and ``probe_results.md`` in ``out_dir`` (atomic writes)."""
    summary = table.summary()
    out = Path(out_dir)
    info = "".join(f"- {k}: {v}\n" for k, v in table.info.items())
    text = (note + "\n\n" if note else "") + to_markdown(summary, horizon) + ("\n" + info if info else "")
    csv_path, md_path = write_texts({out / "probe_results.csv": to_csv(summary, horizon),
                                     out / "probe_results.md": text})  # together: a full disk keeps both old
    return csv_path, md_path


def label_free(encoder: MSACEncoder, predictor: MSACPredictor, split: Split, history: int, views: int = 4,
               noise: float = 0.1, seed: int = 0, max_windows: int = 256) -> dict[str, float]:
    """RankMe and LDA rank (§IV-C, eq. 33-36) of the pooled ``S_pred``; the LDA views add Gaussian noise of
    ``noise`` (standardised units) to every input."""
    rows = np.arange(min(split.n, max_windows))
    sub = Split({k: v[rows] for k, v in split.inputs.items()}, {k: v[rows] for k, v in split.labels.items()},
                {k: v[rows] for k, v in split.raw.items()})
    clean = future_latents(encoder, predictor, sub, history).mean(1)
    g = torch.Generator().manual_seed(seed)
    aug = []
    for _ in range(views):
        noisy = Split({k: v + noise * torch.randn(v.shape, generator=g) for k, v in sub.inputs.items()}, sub.labels,
                      sub.raw)
        aug.append(future_latents(encoder, predictor, noisy, history).mean(1))
    return {"rankme": rankme(clean), "lda_rank": lda_rank(torch.stack(aug, 1))}


def evaluate(encoder: MSACEncoder, predictor: MSACPredictor, train: Split, test: Split, history: int, num_beams: int,
             *, steps: int, batch_size: int = 32, lr: float = 3e-4, seeds: Sequence[int] = (0, 1, 2),
             head: HeadConfig | None = None, baselines: bool = True, reconstruction: Any = None,
             init_seed: int = 0, log: Callable[[str], None] = print) -> Table:
    """The full table for a pretrained ``encoder`` / ``predictor`` (see the module doc). ``reconstruction`` is an
    untrained :class:`~wfm.methods.msac.MSACReconstruction` to train for ``steps`` steps (None: no such row);
    ``baselines=False`` keeps only the pretrained row (the ablations)."""
    cfg = head or HeadConfig()
    table = Table()

    def frozen_rows(name: str, enc: MSACEncoder, pred: MSACPredictor) -> None:
        s_tr = future_latents(enc, pred, train, history)
        s_te = future_latents(enc, pred, test, history)
        runs = []
        for seed in seeds:
            heads = fit_heads(s_tr, train, history, num_beams, cfg, seed)
            p = apply_heads(heads, s_te, test, history, cfg)
            runs.append(horizon_metrics(history, test.labels, p["position"], p["beam_scores"], p["rssi"]))
        table.rows[name] = runs
        lf = label_free(enc, pred, test, history)
        table.info[f"{name} RankMe / LDA rank of S_pred"] = f"{lf['rankme']:.2f} / {lf['lda_rank']:.2f}"
        log(f"msac: {name} heads done")

    frozen_rows("jepa_msac", encoder, predictor)
    if not baselines:
        return table
    torch.manual_seed(init_seed)
    fresh_enc = MSACEncoder(**encoder.config)
    fresh_pred = MSACPredictor(fresh_enc, **predictor.config)
    frozen_rows("untrained", fresh_enc, fresh_pred)
    table.rows["supervised"] = [supervised_end_to_end(fresh_enc, fresh_pred, train, test, history, num_beams, steps,
                                                      batch_size, lr, init_seed, cfg)]
    log("msac: supervised end-to-end done")
    if reconstruction is not None:
        train_backbone(reconstruction, train, steps, batch_size, init_seed)
        frozen_rows("reconstruction", reconstruction.encoder, reconstruction.predictor)
    table.rows.update({k: [v] for k, v in physical_baselines(test, history, num_beams).items()})
    table.rows["gru"] = [gru_baselines(train, test, history, num_beams, cfg, s) for s in seeds]
    log("msac: baselines done")
    return table
