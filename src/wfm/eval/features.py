"""Frozen-encoder feature extraction: the first step of every linear probe."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

#: batch keys that describe the input rather than label it (everything else in a batch is a label)
INPUT_KEYS = ("x", "channels", "modality", "complex_pairs")


def autocast_context(device: torch.device, bf16: bool) -> contextlib.AbstractContextManager:
    """bf16 autocast where the device runs it fast (bf16-capable CUDA, CPUs with native bf16), else a no-op.

    CPUs without native bf16 (AVX2-only, like this project's CI machines) run bf16 matmuls ~100x slower than
    fp32 (docs/benchmarks.md), so autocast is skipped there.
    """
    if not bf16:
        return contextlib.nullcontext()
    if device.type == "cpu" and not torch.ops.mkldnn._is_mkldnn_bf16_supported():
        return contextlib.nullcontext()
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        return contextlib.nullcontext()
    if device.type not in ("cpu", "cuda"):
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


def encode_batch(
    encoder: nn.Module, batch: Mapping[str, Any], bf16: bool = False, max_channels: int | None = None
) -> torch.Tensor:
    """Pooled float32 (B, D) features of one batch dict (``x``, ``channels``) on the encoder's device.

    The batch's ``modality`` (the data file's: ``spectrogram``, ``csi``, ``iq``), where it carries one, is
    passed on to the encoder, which picks its tokenizer by it. ``max_channels`` keeps only the first ``k``
    channels of every sample (channel-count robustness).
    """
    if "x" not in batch:
        raise KeyError(f"batch has no 'x' input (keys: {sorted(batch)})")
    device = _device_of(encoder)
    x = batch["x"].to(device, non_blocking=True)
    channels = batch.get("channels")
    if channels is not None:
        channels = channels.to(device)
    if max_channels is not None:
        if max_channels < 1:
            raise ValueError(f"max_channels must be >= 1, got {max_channels}")
        x = x[:, :max_channels]
        channels = channels.clamp(max=max_channels) if channels is not None else None
    with autocast_context(device, bf16):
        pairs = batch.get("complex_pairs")
        if max_channels is not None and pairs:  # pairs cut by the channel limit are no longer complex channels
            pairs = tuple(p for p in pairs if max(p) < max_channels)
        extra = {"complex_pairs": pairs} if pairs else {}  # encoders without a phase reference take no pairs
        feats = encoder.features(x, channels, modality=batch.get("modality"), **extra)
    return feats.float()


def batch_labels(batch: Mapping[str, Any]) -> dict[str, Any]:
    """The label entries of a batch dict: every key but :data:`INPUT_KEYS`."""
    return {k: v for k, v in batch.items() if k not in INPUT_KEYS}


def _device_of(module: nn.Module) -> torch.device:
    for p in module.parameters():
        return p.device
    for b in module.buffers():
        return b.device
    return torch.device("cpu")


@contextlib.contextmanager
def eval_mode(module: nn.Module) -> Iterator[None]:
    """Put ``module`` in eval mode and restore its previous mode afterwards (probes run mid-training)."""
    was_training = module.training
    module.eval()
    try:
        yield
    finally:
        module.train(was_training)


def extract_features(
    encoder: nn.Module,
    loader: Iterable[Mapping[str, Any]],
    device: str | torch.device | None = None,
    bf16: bool = False,
    max_channels: int | None = None,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Pooled features of every sample of ``loader`` and its labels, in loader order.

    Args:
        encoder: module with ``features(x, channels, modality=...) -> (B, D)`` (a
            :class:`~wfm.models.encoder.ViTEncoder`).
        loader: yields batch dicts (``x``, ``channels``, ``modality``, label keys) as made by ``pad_collate``.
        device: where to run; None keeps the encoder where it is. The encoder is moved back afterwards.
        bf16: bf16 autocast where the device runs it natively (CPU included); features are returned as
            float32 anyway. Off by default: probe numbers must not depend on the machine, and bf16 rounding
            weakens random-init encoders' features far more than trained ones (on a CPU with native bf16,
            2026-12-05: the quickstart's random-init row probed rfs 70.1 / positioning 8.39 m / beam 71.2 in
            bf16 against 70.8 / 8.19 / 72.2 in fp32, its JEPA encoder within 0.15 of its fp32 values), which
            would inflate every gap over random features (docs/experiments/probe_protocol.md, "Probe features in fp32").
        max_channels: keep only the first ``k`` channels of each sample.

    Returns:
        ``features`` float32 (N, D) and ``targets``: every label key of the batches (all but
        :data:`INPUT_KEYS`) -> an (N, ...) array.
    """
    original = _device_of(encoder)
    if device is not None:
        encoder.to(device)
    feats: list[torch.Tensor] = []
    labels: dict[str, list[np.ndarray]] = {}
    try:
        with eval_mode(encoder), torch.inference_mode():
            for batch in loader:
                feats.append(encode_batch(encoder, batch, bf16, max_channels).cpu())
                for key, value in batch_labels(batch).items():
                    labels.setdefault(key, []).append(np.asarray(torch.as_tensor(value).cpu()))
    finally:
        if device is not None:
            encoder.to(original)
    if not feats:
        raise ValueError("extract_features: the loader yielded no batches")
    features = torch.cat(feats).numpy().astype(np.float32, copy=False)
    targets = {k: np.concatenate(v) for k, v in labels.items()}
    return features, targets
