"""Preprocessing shared by converters, the built-in corpus and loaders: dB, resize, statistics, standardise.

Every preprocessed HDF5 file is produced by these functions, so a converter and the built-in corpus cannot
drift apart. The steps and their parameters are recorded in the file (see :func:`describe`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

DEFAULT_EPS = 1e-10


def _pair(size: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(size, int):
        return (size, size)
    size = tuple(int(s) for s in size)
    if len(size) != 2:
        raise ValueError(f"size must be an int or (H, W), got {size}")
    return size  # type: ignore[return-value]


def to_db(power: np.ndarray | torch.Tensor, eps: float = DEFAULT_EPS) -> np.ndarray | torch.Tensor:
    """``10·log10(S + eps)`` of a non-negative power array (numpy in → numpy out, tensor in → tensor out).

    ``eps`` bounds the result from below (-100 dB for the default) so silent bins stay finite.
    """
    if eps <= 0:
        raise ValueError(f"to_db: eps must be > 0, got {eps}")
    if isinstance(power, torch.Tensor):
        return 10.0 * torch.log10(power.float().clamp_min(0) + eps)
    p = np.asarray(power, dtype=np.float64)
    # Tiny negative values come from round-off in power estimates; clamp so the log stays defined.
    return (10.0 * np.log10(np.maximum(p, 0.0) + eps)).astype(np.float32)


def resize(x: np.ndarray | torch.Tensor, size: int | Sequence[int]) -> np.ndarray | torch.Tensor:
    """Bicubic resize of the last two axes of ``x`` (``(H, W)``, ``(C, H, W)``, ``(N, C, H, W)``) to ``size``.

    Each channel is resized on its own (no mixing across channels). Float32, ``align_corners=False``, and
    antialiasing when shrinking so that downsampled spectrograms do not alias. Same type out as in.
    """
    h, w = _pair(size)
    is_numpy = not isinstance(x, torch.Tensor)
    t = torch.as_tensor(np.asarray(x, dtype=np.float32)) if is_numpy else x.float()
    if t.ndim < 2:
        raise ValueError(f"resize: expected at least 2 dimensions (H, W), got shape {tuple(t.shape)}")
    lead = t.shape[:-2]
    if tuple(t.shape[-2:]) == (h, w):
        out = t.clone()
    else:
        t4 = t.reshape(-1, 1, *t.shape[-2:])
        shrink = t.shape[-2] > h or t.shape[-1] > w
        out = F.interpolate(t4, size=(h, w), mode="bicubic", align_corners=False, antialias=shrink)
        out = out.reshape(*lead, h, w)
    return out.numpy() if is_numpy else out


def preprocess(
    raw: np.ndarray, power: bool, size: int | Sequence[int], eps: float = DEFAULT_EPS
) -> np.ndarray:
    """Raw ``(N, C, H, W)`` → dB (if ``power``) → bicubic resize to ``size``; float32, not standardised."""
    x = to_db(raw, eps) if power else np.asarray(raw, dtype=np.float32)
    return np.ascontiguousarray(resize(x, size), dtype=np.float32)


def describe(
    power: bool, size: int | Sequence[int], eps: float = DEFAULT_EPS, **extra: Any
) -> dict[str, Any]:
    """The ``preprocessing`` attribute matching :func:`preprocess` (plus a converter's ``extra`` step)."""
    steps: list[dict[str, Any]] = []
    if extra:
        steps.append({"step": "source", **extra})
    if power:
        steps.append({"step": "to_db", "eps": eps, "formula": "10*log10(S+eps)"})
    steps.append(
        {
            "step": "resize",
            "size": list(_pair(size)),
            "mode": "bicubic",
            "align_corners": False,
            "antialias": "when shrinking",
        }
    )
    steps.append({"step": "standardise", "where": "at load time, per channel, with the mean/std attributes"})
    return {"steps": steps}


def describe_iq(**extra: Any) -> dict[str, Any]:
    """The ``preprocessing`` attribute of raw IQ files: samples kept as they are, standardised at load time."""
    steps: list[dict[str, Any]] = [{"step": "source", **extra}] if extra else []
    steps.append({"step": "standardise", "where": "at load time, per component (I, Q), with the mean/std "
                  "attributes"})
    return {"steps": steps}


class ChannelStats:
    """Streaming per-channel mean and standard deviation over ``(n, C, H, W)`` chunks.

    Each chunk's mean and sum of squared deviations are computed in float64 and merged with Chan's
    parallel formula, which avoids the cancellation of a naive sum / sum-of-squares on large dB values.
    """

    def __init__(self, channels: int) -> None:
        self.channels = channels
        self.count = 0
        self.mean = np.zeros(channels, dtype=np.float64)
        self.m2 = np.zeros(channels, dtype=np.float64)

    def update(self, x: np.ndarray) -> None:
        x = np.asarray(x)
        if x.ndim != 4 or x.shape[1] != self.channels:
            raise ValueError(f"ChannelStats: expected (n, {self.channels}, H, W), got {x.shape}")
        if x.shape[0] == 0:
            return
        flat = x.transpose(1, 0, 2, 3).reshape(self.channels, -1).astype(np.float64)
        n_b = flat.shape[1]
        mean_b = flat.mean(axis=1)
        m2_b = ((flat - mean_b[:, None]) ** 2).sum(axis=1)
        n_a = self.count
        total = n_a + n_b
        delta = mean_b - self.mean
        self.mean = self.mean + delta * (n_b / total)
        self.m2 = self.m2 + m2_b + delta**2 * (n_a * n_b / total)
        self.count = total

    def finalize(self) -> tuple[np.ndarray, np.ndarray]:
        """``(mean, std)`` float32 ``(C,)``; a constant channel gets std 1 so standardising stays finite."""
        if self.count == 0:
            raise ValueError("ChannelStats: no values seen; cannot compute statistics of an empty set")
        std = np.sqrt(self.m2 / self.count)
        std = np.where(std > 1e-12, std, 1.0)
        return self.mean.astype(np.float32), std.astype(np.float32)


def channel_stats(x: np.ndarray, chunk: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel ``(mean (C,), std (C,))`` of ``(N, C, H, W)``, read ``chunk`` samples at a time.

    Works on anything sliceable along the first axis (numpy arrays, h5py datasets).
    """
    if len(x.shape) != 4:
        raise ValueError(f"channel_stats: expected (N, C, H, W), got shape {tuple(x.shape)}")
    stats = ChannelStats(int(x.shape[1]))
    for start in range(0, int(x.shape[0]), chunk):
        stats.update(np.asarray(x[start : start + chunk]))
    return stats.finalize()


def standardise(
    x: np.ndarray | torch.Tensor, mean: np.ndarray | torch.Tensor, std: np.ndarray | torch.Tensor
) -> np.ndarray | torch.Tensor:
    """``(x - mean) / std`` per channel; ``x`` is ``([N,] C, H, W)``, ``mean`` and ``std`` are ``(C,)``."""
    if isinstance(x, torch.Tensor):
        m = torch.as_tensor(mean, dtype=x.dtype, device=x.device).reshape(-1, 1, 1)
        s = torch.as_tensor(std, dtype=x.dtype, device=x.device).reshape(-1, 1, 1)
    else:
        m = np.asarray(mean, dtype=np.float32).reshape(-1, 1, 1)
        s = np.asarray(std, dtype=np.float32).reshape(-1, 1, 1)
    if x.shape[-3] != m.shape[0]:
        raise ValueError(f"standardise: x has {x.shape[-3]} channels but mean/std have {m.shape[0]}")
    return (x - m) / s


def iq_power_spectrogram(iq: np.ndarray, nfft: int, hop: int | None = None) -> np.ndarray:
    """Power spectrogram ``(nfft, frames)`` of complex IQ: Hann-windowed FFTs, DC centred, ``|X|² / Σw²``.

    Converters of IQ recordings (SigMF, POWDER) use this before :func:`preprocess` (dB, resize).
    """
    iq = np.asarray(iq)
    hop = hop or nfft // 2
    if iq.ndim != 1 or iq.shape[0] < nfft:
        raise ValueError(
            f"iq_power_spectrogram: need a 1-D signal of at least nfft={nfft} samples, got {iq.shape}"
        )
    frames = 1 + (iq.shape[0] - nfft) // hop
    win = np.hanning(nfft).astype(np.float64)
    idx = np.arange(nfft)[None, :] + hop * np.arange(frames)[:, None]
    spec = np.fft.fftshift(np.fft.fft(iq[idx] * win, axis=1), axes=1)
    return (np.abs(spec) ** 2 / np.sum(win**2)).T.astype(np.float32)


def iq_spectrograms(
    iq: np.ndarray, nfft: int, frames: int, hop: int | None = None, max_windows: int | None = None
) -> np.ndarray:
    """Cut IQ into non-overlapping windows of ``frames`` STFT frames: power ``(n, 1, nfft, frames)``."""
    hop = hop or nfft // 2
    length = nfft + (frames - 1) * hop
    n = len(iq) // length
    if max_windows is not None:
        n = min(n, max_windows)
    out = [iq_power_spectrogram(iq[i * length : (i + 1) * length], nfft, hop) for i in range(n)]
    return np.stack(out)[:, None] if out else np.zeros((0, 1, nfft, frames), np.float32)
