"""Figures for reports: mask geometries, probe curves, label efficiency, channel robustness, embeddings.

Plots only draw: every probe score they show was computed before (:mod:`wfm.eval.report`,
:mod:`wfm.eval.analyses`); nothing here fits a probe or runs an encoder. Every function draws with
matplotlib's Agg backend (no display needed), saves a PNG and returns its path; pass ``trainer`` to also log
the figure to W&B when a ``WandbLogger`` is attached (wandb is imported only then, so it may be absent).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless: figures are files, never windows
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from wfm.atomic import atomic_file  # noqa: E402
from wfm.eval.probe import ProbeResult  # noqa: E402
from wfm.eval.tables import header  # noqa: E402

MaskFn = Callable[[str], tuple[Any, Any]]


def _save(fig: Any, path: str | os.PathLike, trainer: Any = None, key: str | None = None) -> Path:
    path = Path(path)
    with atomic_file(path, what="plot") as f:  # a full disk keeps the previous figure and leaves no partial one
        fig.savefig(f, format=path.suffix.lstrip(".") or "png", dpi=120, bbox_inches="tight")
    if trainer is not None:
        log_figure(trainer, key or path.stem, path)
    plt.close(fig)
    return path


def log_figure(trainer: Any, key: str, path: str | os.PathLike) -> None:
    """Log a saved PNG to every attached W&B logger (no-op without one)."""
    for logger in getattr(trainer, "loggers", []) or []:
        if type(logger).__name__ != "WandbLogger":
            continue
        try:
            logger.log_image(key=key, images=[str(path)])
        except Exception as err:  # a plot must never take a training run down
            from lightning.pytorch.utilities import rank_zero_warn

            rank_zero_warn(f"could not log figure {key!r} to W&B: {err}")


def _np(a: Any) -> np.ndarray:
    return a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)


def plot_mask_examples(
    image: Any,
    mask_fn: MaskFn,
    grid_size: tuple[int, int],
    path: str | os.PathLike,
    strategies: Sequence[str] = ("region", "frequency", "time", "random"),
    trainer: Any = None,
) -> Path:
    """Context (blue) and target blocks (one colour each) of every masking geometry over one input.

    Args:
        image: (H, W) or (C, H, W) input (the first channel is shown; frequency on the vertical axis).
        mask_fn: ``strategy -> (context_mask (N,), target_masks (M, N))`` bool over the row-major patch grid.
        grid_size: patch grid ``(rows, cols)`` with ``rows * cols = N``.
    """
    img = _np(image)
    img = img[0] if img.ndim == 3 else img
    if img.ndim != 2:
        raise ValueError(f"image must be (H, W) or (C, H, W), got shape {np.shape(image)}")
    gh, gw = grid_size
    fig, axes = plt.subplots(1, len(strategies), figsize=(3.2 * len(strategies), 3.4), squeeze=False)
    cmap = plt.get_cmap("tab10")
    for ax, strategy in zip(axes[0], strategies, strict=True):
        context, targets = mask_fn(strategy)
        context = _np(context).astype(bool).reshape(-1)
        targets = _np(targets).astype(bool).reshape(-1, gh * gw)
        if context.size != gh * gw:
            raise ValueError(
                f"{strategy}: context mask has {context.size} entries, grid {gh}x{gw} has {gh * gw}"
            )
        overlay = np.zeros((gh, gw, 4))
        overlay[context.reshape(gh, gw)] = (0.1, 0.3, 1.0, 0.35)
        for m, t in enumerate(targets):
            overlay[t.reshape(gh, gw)] = (*cmap(m % 10)[:3], 0.6)
        ax.imshow(img, cmap="gray", aspect="auto", origin="lower")
        h, w = img.shape
        ax.imshow(
            overlay,
            aspect="auto",
            origin="lower",
            extent=(-0.5, w - 0.5, -0.5, h - 0.5),
            interpolation="nearest",
        )
        ax.set_title(f"{strategy} (M={len(targets)})")
        ax.set_xlabel("time")
        ax.set_ylabel("frequency")
    return _save(fig, path, trainer, "masks")


def plot_probe_history(
    history: Sequence[Mapping[str, float]],
    key: str,
    path: str | os.PathLike,
    trainer: Any = None,
    baselines: Mapping[str, float] | None = None,
) -> Path:
    """Probe metric ``key`` (e.g. ``probe/rfs/acc``) against optimizer step, from ``ProbeCallback.history``
    (step 0 = the initial weights), with ``baselines`` (row name -> value) as horizontal lines."""
    pts = sorted((h["step"], h[key]) for h in history if key in h)
    if not pts:
        raise ValueError(f"no history entry carries {key!r}")
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label="backbone")
    for i, (name, value) in enumerate((baselines or {}).items()):
        ax.axhline(value, linestyle="--", color=f"C{i + 1}", label=name)
    if baselines:
        ax.legend(fontsize=8)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel(key)
    ax.grid(alpha=0.3)
    return _save(fig, path, trainer, f"{key}_vs_step")


#: points of a swept quantity (labelled share, channels kept) -> the probe result there
Curve = Mapping[float, ProbeResult]


def plot_curve(
    results: Curve | Mapping[str, Curve],
    xlabel: str,
    path: str | os.PathLike,
    log_x: bool = False,
    percent_x: bool = False,
    trainer: Any = None,
) -> Path:
    """Mean ± std of probe results against a swept quantity (training fraction, channels kept, ...).

    ``results`` is one curve (x -> ProbeResult) or several by name (e.g. the backbone and random init).
    """
    if not results:
        raise ValueError("plot_curve: no results")
    first = next(iter(results.values()))
    curves: Mapping[str, Curve] = {"": results} if isinstance(first, ProbeResult) else results
    fig, ax = plt.subplots(figsize=(5, 3.5))
    r0 = None
    for name, curve in curves.items():
        if not curve:
            raise ValueError(f"plot_curve: curve {name!r} is empty")
        xs = np.array(sorted(curve))
        r0 = curve[xs[0]]
        means = np.array([curve[x].mean for x in xs])
        stds = np.array([curve[x].std for x in xs])
        ax.errorbar(xs * 100 if percent_x else xs, means, yerr=stds, marker="o", capsize=3, label=name or None)
    if len(curves) > 1:
        ax.legend(fontsize=8)
    if log_x:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(header(r0))
    ax.grid(alpha=0.3)
    return _save(fig, path, trainer, Path(path).stem)


def plot_label_efficiency(
    results: Curve | Mapping[str, Curve], path: str | os.PathLike, trainer: Any = None
) -> Path:
    return plot_curve(
        results, "labelled training samples (%)", path, log_x=True, percent_x=True, trainer=trainer
    )


def plot_channel_robustness(
    results: Mapping[int, ProbeResult], path: str | os.PathLike, trainer: Any = None
) -> Path:
    return plot_curve(results, "channels kept", path, trainer=trainer)


def embed_2d(features: np.ndarray, method: str = "pca", seed: int = 0) -> np.ndarray:
    """(N, D) -> (N, 2) by PCA (default) or t-SNE."""
    x = np.asarray(features, dtype=np.float64)
    if method == "pca":
        from sklearn.decomposition import PCA

        return PCA(n_components=2, random_state=seed).fit_transform(x)
    if method == "tsne":
        from sklearn.manifold import TSNE

        return TSNE(
            n_components=2, random_state=seed, init="pca", perplexity=min(30.0, max(2.0, (len(x) - 1) / 3))
        ).fit_transform(x)
    raise ValueError(f"method must be 'pca' or 'tsne', got {method!r}")


def plot_embedding(
    features: np.ndarray,
    labels: np.ndarray,
    path: str | os.PathLike,
    method: str = "pca",
    class_names: Sequence[str] = (),
    trainer: Any = None,
) -> Path:
    """2-D map of the features coloured by label (classes, or a colour bar for scalar targets)."""
    xy = embed_2d(features, method)
    labels = np.asarray(labels)
    fig, ax = plt.subplots(figsize=(5, 4.5))
    if labels.ndim == 1 and np.issubdtype(labels.dtype, np.integer):
        for c in np.unique(labels):
            sel = labels == c
            name = class_names[c] if c < len(class_names) else str(c)
            ax.scatter(xy[sel, 0], xy[sel, 1], s=6, label=name)
        if len(np.unique(labels)) <= 20:
            ax.legend(markerscale=2, fontsize=7, loc="best")
    else:
        value = labels if labels.ndim == 1 else labels.reshape(len(labels), -1)[:, 0]
        sc = ax.scatter(xy[:, 0], xy[:, 1], s=6, c=value, cmap="viridis")
        fig.colorbar(sc, ax=ax)
    ax.set_title(f"embedding ({method})")
    return _save(fig, path, trainer, Path(path).stem)


def probe_plots(
    out_dir: str | os.PathLike,
    per_task: Sequence[tuple[Any, Mapping[str, np.ndarray], Mapping[str, np.ndarray]]],
    label_efficiency: Mapping[str, Mapping[str, Curve]],
    channel_robustness: Mapping[str, Curve] | None = None,
    embedding: str = "pca",
    trainer: Any = None,
) -> list[Path]:
    """The figures of a probe report, per task: label efficiency of every row, the first row's 2-D map, and
    the channel-robustness curve where one was computed.

    Args:
        out_dir: the PNGs go to ``out_dir/plots/<task>_label_efficiency.png``,
            ``<task>_embedding_<method>.png`` and ``<task>_channels.png``.
        per_task: ``(datamodule, {row name: (N, D) features}, labels by batch key)`` per task, as probed.
        label_efficiency: task name -> row name -> labelled share -> result (:func:`wfm.eval.report.probe_report`).
        channel_robustness: task name -> channels kept -> the backbone's result; tasks absent get no curve.
        embedding: ``pca`` or ``tsne``.
    """
    plot_dir = Path(out_dir) / "plots"
    paths: list[Path] = []
    for dm, feats, labels in per_task:
        task = dm.task
        curves = label_efficiency[task.name]
        paths.append(plot_label_efficiency(curves, plot_dir / f"{task.name}_label_efficiency.png", trainer))
        emb_path = plot_dir / f"{task.name}_embedding_{embedding}.png"
        first = next(iter(feats.values()))
        paths.append(
            plot_embedding(first, labels[task.target], emb_path, embedding, task.class_names, trainer=trainer)
        )
    for dm, _, _ in per_task:
        curve = (channel_robustness or {}).get(dm.task.name)
        if curve:
            paths.append(plot_channel_robustness(curve, plot_dir / f"{dm.task.name}_channels.png", trainer))
    return paths
