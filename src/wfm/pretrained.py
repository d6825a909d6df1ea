"""Pretrained models as users share them: self-describing model folders and ``wfm.load_pretrained``.

A model folder is the layout model hubs use, written atomically by ``wfm-export`` and ``wfm-import``::

    my_model/
      config.json         architecture, encoder config, input geometry, preprocessing, which encoder,
                          training recipe and data (hashes where known), wfm version
      model.safetensors   the encoder's weights (no pickle)
      README.md           the model card: what it was trained on, for how many steps, its probe table, its limits

Three lines of user code give a ready encoder with its preprocessing, without Lightning::

    import wfm
    model = wfm.load_pretrained("my_model")              # also a wfm .ckpt or a .safetensors/.json pair
    features = model.features(x, modality="spectrogram")  # x: (B, C, H, W), standardised as wfm files are

:class:`Pretrained` applies the preprocessing the model was trained with (``config.json`` ``preprocessing``
``steps``: channel mixing, resizing, scaling) to wfm's standardised inputs before its encoder sees them, so
``wfm test`` / ``wfm predict`` / ``load_pretrained`` give the model's own features. Nothing is uploaded anywhere.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from wfm.atomic import WriteFailed, write_error_code
from wfm.checkpoint import (
    CARD_FILE,
    CONFIG_FILE,
    MODEL_FORMAT,
    MODEL_FORMAT_VERSION,
    WEIGHTS_FILE,
    BackboneLoadError,
    architecture_class,
    architecture_of,
    encoder_record,
    is_model_folder,
    load_backbone_with_meta,
)

#: the image-like data modalities (``(B, C, H, W)`` inputs) a preprocessing step applies to by default
IMAGE_MODALITIES = ("spectrogram", "csi")
#: preprocessing steps :class:`Pretrained` applies, in the order listed in ``config.json``
STEPS = ("channel_mean", "channel_mix", "resize", "scale")


def check_steps(steps: Any, source: str = "preprocessing") -> list[dict[str, Any]]:
    """A validated list of preprocessing steps (``{"step": name, ...}``); an unknown step is refused."""
    if steps is None:
        return []
    if not isinstance(steps, Sequence) or isinstance(steps, (str, bytes)):
        raise BackboneLoadError(f"{source}: preprocessing steps must be a list, got {type(steps).__name__}")
    out = []
    for i, step in enumerate(steps):
        if not isinstance(step, Mapping) or step.get("step") not in STEPS:
            raise BackboneLoadError(f"{source}: preprocessing step {i} {step!r} is not one of {list(STEPS)}")
        step = dict(step)
        step["modalities"] = list(step.get("modalities") or IMAGE_MODALITIES)
        if step["step"] == "resize":
            size = step.get("size")
            if not (isinstance(size, Sequence) and len(size) == 2 and all(int(v) > 0 for v in size)):
                raise BackboneLoadError(f"{source}: resize step {i} needs size [H, W], got {size!r}")
            step["size"] = [int(v) for v in size]
            if step.setdefault("mode", "bicubic") != "bicubic":
                raise BackboneLoadError(f"{source}: resize step {i}: only mode 'bicubic' is supported")
        elif step["step"] == "channel_mix":
            w = step.get("weights")
            if not (isinstance(w, Sequence) and w and all(isinstance(v, (int, float)) for v in w)):
                raise BackboneLoadError(f"{source}: channel_mix step {i} needs a list of channel weights")
            step["weights"] = [float(v) for v in w]
        elif step["step"] == "scale":
            if "factors" in step:  # one factor per input channel (e.g. undoing a file's standardisation)
                f = step["factors"]
                if not (isinstance(f, Sequence) and f and all(isinstance(v, (int, float)) for v in f)):
                    raise BackboneLoadError(f"{source}: scale step {i}: factors must be a list of numbers")
                step["factors"] = [float(v) for v in f]
            else:
                step["factor"] = float(step.get("factor", 1.0))
        out.append(step)
    return out


def _applies(step: Mapping[str, Any], modality: str | None) -> bool:
    # an input without a modality is image-like unless the step names only other modalities
    return (modality or IMAGE_MODALITIES[0]) in step["modalities"] or (
        modality is None and any(m in IMAGE_MODALITIES for m in step["modalities"]))


def apply_steps(
    steps: Sequence[Mapping[str, Any]], x: torch.Tensor, channels: torch.Tensor | None, modality: str | None,
    complex_pairs: Sequence[Sequence[int]] | None,
) -> tuple[torch.Tensor, torch.Tensor | None, Sequence[Sequence[int]] | None, bool]:
    """``steps`` applied to one standardised batch: ``(x, channels, complex_pairs, channels_mixed)``."""
    mixed = False
    for step in steps:
        if not _applies(step, modality):
            continue
        kind = step["step"]
        if kind in ("channel_mean", "channel_mix"):
            b, c = x.shape[:2]
            if kind == "channel_mix":
                w = torch.tensor(step["weights"], dtype=x.dtype, device=x.device)
                if c != w.numel():
                    raise ValueError(f"the model mixes exactly {w.numel()} input channels (its channel adapter), "
                                     f"got {c}")
                x = torch.einsum("bchw,c->bhw", x, w)[:, None]
            else:
                if channels is None:
                    x = x.mean(1, keepdim=True)
                else:
                    real = (torch.arange(c, device=x.device)[None, :] < channels.to(x.device)[:, None]).to(x.dtype)
                    count = real.sum(1).clamp_min(1)[:, None, None, None]
                    x = (x * real[:, :, None, None]).sum(1, keepdim=True) / count
            channels, complex_pairs, mixed = None, None, True
        elif kind == "resize":
            if tuple(x.shape[-2:]) != tuple(step["size"]):
                from wfm.data.transforms import resize

                x = resize(x, step["size"])
        elif kind == "scale":
            if "factors" in step:
                f = torch.tensor(step["factors"], dtype=x.dtype, device=x.device)
                if x.shape[1] != f.numel():
                    raise ValueError(f"the model scales exactly {f.numel()} input channels (factors recorded at "
                                     f"import from one file), got {x.shape[1]}")
                x = x * f.view(1, -1, *([1] * (x.ndim - 2)))
            else:
                x = x * step["factor"]
    return x, channels, complex_pairs, mixed


def steps_geometry(
    steps: Sequence[Mapping[str, Any]], modality: str, channels: int, hw: tuple[int, int]
) -> tuple[int, tuple[int, int]]:
    """The channel count and per-channel ``(H, W)`` the encoder sees after ``steps``."""
    for step in steps:
        if not _applies(step, modality):
            continue
        if step["step"] == "channel_mix" and channels != len(step["weights"]):
            raise ValueError(f"samples have {channels} channels, but the model mixes exactly "
                             f"{len(step['weights'])} (its channel adapter)")
        if step["step"] in ("channel_mean", "channel_mix"):
            channels = 1
        elif step["step"] == "resize":
            hw = tuple(step["size"])  # type: ignore[assignment]
        elif step["step"] == "scale" and "factors" in step and channels != len(step["factors"]):
            raise ValueError(f"samples have {channels} channels, but the model scales exactly "
                             f"{len(step['factors'])} (factors recorded at import from one file)")
    return channels, hw


def describe_steps(steps: Sequence[Mapping[str, Any]]) -> list[str]:
    """One plain-English line per step (for the model card and the comparison table)."""
    words = []
    for s in steps:
        on = "/".join(s["modalities"])
        if s["step"] == "channel_mean":
            words.append(f"{on}: average of the input channels -> 1 channel")
        elif s["step"] == "channel_mix":
            words.append(f"{on}: weighted sum of exactly {len(s['weights'])} channels -> 1 channel")
        elif s["step"] == "resize":
            words.append(f"{on}: bicubic resize to {s['size'][0]} x {s['size'][1]}")
        elif s["step"] == "scale" and "factors" in s:
            words.append(f"{on}: multiply channel c by factor c ({', '.join(f'{v:.4g}' for v in s['factors'])})"
                         + (f" [{s['note']}]" if s.get("note") else ""))
        elif s["step"] == "scale":
            words.append(f"{on}: multiply by {s['factor']:g}")
    return words


class Pretrained(nn.Module):
    """A backbone plus the preprocessing it was trained with: what ``wfm.load_pretrained`` returns.

    ``features(x, channels=None, modality=None, complex_pairs=None)`` takes wfm's standardised batches
    (the layout of every wfm file and built-in dataset) and returns pooled ``(B, D)`` features; the encoder
    itself is ``.encoder`` (a :class:`~wfm.models.encoder.ViTEncoder`, or a wrapper of a published model),
    the description ``.meta`` (the folder's ``config.json``).
    """

    def __init__(self, encoder: nn.Module, preprocessing: Mapping[str, Any] | None = None,
                 meta: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        self.encoder = encoder
        prep = dict(preprocessing or {})
        self.steps = check_steps(prep.get("steps"))
        self.preprocessing = prep
        self.meta = dict(meta or {})
        accepts = prep.get("accepts")
        self.accepts: tuple[str, ...] | None = tuple(accepts) if accepts else None

    # what the evaluator and wfm.eval.features read off an encoder
    @property
    def config(self) -> dict[str, Any]:
        return self.encoder.config

    @property
    def modalities(self) -> tuple[str, ...]:
        return tuple(self.encoder.modalities)

    @property
    def feature_dim(self) -> int:
        return feature_dim(self.encoder)

    @property
    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.encoder.parameters())

    def check_input(self, modality: str, channels: int, hw: tuple[int, int], who: str = "the encoder") -> None:
        if self.accepts is not None and modality not in self.accepts:
            raise ValueError(f"samples are {modality}, but {who} takes only {list(self.accepts)} inputs (the "
                             "imported model has no trained tokenizer for the others)")
        c, hw = steps_geometry(self.steps, modality, channels, tuple(hw))
        self.encoder.check_input(modality, c, hw, who)

    def preprocess(
        self, x: torch.Tensor, channels: torch.Tensor | None = None, modality: str | None = None,
        complex_pairs: Sequence[Sequence[int]] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None, Sequence[Sequence[int]] | None, bool]:
        """The batch as the encoder takes it: ``(x, channels, complex_pairs, channels_mixed)``."""
        return apply_steps(self.steps, x, channels, modality, complex_pairs)

    def features(
        self, x: torch.Tensor, channels: torch.Tensor | None = None, channel_ids: torch.Tensor | None = None,
        modality: str | None = None, complex_pairs: Sequence[Sequence[int]] | None = None,
    ) -> torch.Tensor:
        if self.accepts is not None and modality is not None and modality not in self.accepts:
            raise ValueError(f"this model takes only {list(self.accepts)} inputs, got {modality}")
        x, channels, pairs, mixed = self.preprocess(x, channels, modality, complex_pairs)
        kw: dict[str, Any] = {"complex_pairs": pairs} if pairs else {}
        if channel_ids is not None and not mixed:
            kw["channel_ids"] = channel_ids
        return self.encoder.features(x, channels, modality=modality, **kw)

    def forward(self, x: torch.Tensor, **kw: Any) -> torch.Tensor:
        return self.features(x, **kw)


def feature_dim(module: nn.Module) -> int:
    """Width of a backbone's pooled features."""
    for attr in ("feature_dim", "embed_dim", "d_model"):
        if isinstance(getattr(module, attr, None), int):
            return int(getattr(module, attr))
    raise AttributeError(f"{type(module).__name__} does not say its feature width")


def load_pretrained(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> Pretrained:
    """A ready, frozen encoder with its preprocessing from a model folder, an exported pair or a wfm ``.ckpt``.

    Nothing is unpickled (``weights_only`` / safetensors). ``model.features(x, modality=...)`` gives pooled
    features of standardised inputs; ``model.preprocessing`` says what the model was trained with.
    """
    module, meta = load_backbone_with_meta(path, map_location)
    model = Pretrained(module, meta.get("preprocessing"), meta)
    return model.requires_grad_(False).eval()


def wrap(module: nn.Module, meta: Mapping[str, Any]) -> nn.Module:
    """``module`` as :class:`Pretrained` when its description has preprocessing steps or input limits,
    else unchanged (wfm's own encoders take wfm's inputs as they are)."""
    prep = meta.get("preprocessing") or {}
    if check_steps(prep.get("steps")) or prep.get("accepts"):
        return Pretrained(module, prep, meta)
    return module


def random_like(module: nn.Module, meta: Mapping[str, Any], seed: int = 0) -> dict[str, nn.Module]:
    """Random-init rows of the architecture of ``module`` for the probe table, with its preprocessing: the
    init schemes of a ViT (:func:`wfm.eval.report.random_encoders`), one default-init row of a wrapper."""
    from wfm.eval.report import RANDOM_ROW, random_encoders

    inner = module.encoder if isinstance(module, Pretrained) else module
    arch = architecture_of(inner)
    if arch == "vit":
        rows: dict[str, nn.Module] = dict(random_encoders(dict(inner.config), seed))
    else:
        cls = architecture_class(arch)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            rows = {RANDOM_ROW: cls(**dict(inner.config))}
    return {name: wrap(enc, meta) for name, enc in rows.items()}


# ------------------------------------------------------------------------------------------ model folders
def wfm_version() -> str:
    from wfm import __version__

    return __version__


def input_geometry(module: nn.Module) -> dict[str, Any]:
    """What inputs the encoder takes, by token family (for ``config.json`` and the model card)."""
    if hasattr(module, "input_geometry"):
        return dict(module.input_geometry())
    cfg = module.config
    out: dict[str, Any] = {"image": {"size": list(cfg["img_size"]), "patch_size": cfg["patch_size"],
                                     "channels": f"any up to {cfg['max_channels']} (one token per channel "
                                                 "and patch)"
                                     if cfg.get("channel_embed", "none") != "none" else "any (one token per "
                                                                                          "channel and patch)"}}
    if cfg.get("iq_length"):
        out["iq"] = {"length": cfg["iq_length"], "segment": cfg.get("iq_segment", 16),
                     "antennas": f"up to {cfg['max_channels']}"}
    return out


def data_files(data: Any, hash_limit: int = 1 << 30) -> dict[str, dict[str, Any]]:
    """Every existing HDF5 file named in a DataModule's hyperparameters: size and SHA-256 (files larger than
    ``hash_limit`` bytes get ``sha256: null``)."""
    found: dict[str, dict[str, Any]] = {}

    def walk(v: Any) -> None:
        if isinstance(v, Mapping):
            for x in v.values():
                walk(x)
        elif isinstance(v, (list, tuple)):
            for x in v:
                walk(x)
        elif isinstance(v, str) and v.endswith((".h5", ".hdf5")) and Path(v).is_file():
            p = Path(v)
            size = p.stat().st_size
            found[v] = {"bytes": size, "sha256": sha256(p) if size <= hash_limit else None}

    walk(data)
    return found


def sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_model_folder(
    out_dir: str | os.PathLike,
    module: nn.Module,
    *,
    encoder_name: str = "backbone",
    source: Mapping[str, Any] | None = None,
    training: Mapping[str, Any] | None = None,
    preprocessing: Mapping[str, Any] | None = None,
    imported: Mapping[str, Any] | None = None,
    probe_dir: str | os.PathLike | None = None,
    name: str | None = None,
    limits: Sequence[str] = (),
) -> Path:
    """Write ``module`` as a model folder at ``out_dir`` atomically and return the folder.

    The files go to a temporary folder beside ``out_dir`` and are moved in with one rename; an existing
    model folder at ``out_dir`` is replaced (anything else there is refused, never deleted). ``probe_dir``:
    where a ``probe_results.md`` (and ``probe_command.txt``) may sit, shown in the card.
    """
    from safetensors.torch import save as save_safetensors

    out_dir = Path(out_dir)
    if out_dir.exists() and not is_model_folder(out_dir):
        if not out_dir.is_dir() or any(out_dir.iterdir()):
            raise FileExistsError(f"{out_dir} exists and is not a wfm model folder; choose another output")
    prep = dict(preprocessing or {})
    prep["steps"] = check_steps(prep.get("steps"))
    record = encoder_record(module)
    state = record.pop("state_dict")
    config: dict[str, Any] = {
        "format": MODEL_FORMAT,
        "format_version": MODEL_FORMAT_VERSION,
        "wfm_version": wfm_version(),
        "name": name or out_dir.name,
        **record,
        "encoder": encoder_name,
        "modalities": list(module.modalities),
        "input": input_geometry(module),
        "preprocessing": prep,
        "parameters": int(sum(p.numel() for p in module.parameters())),
        "feature_dim": feature_dim(module),
        "pool": module.config.get("pool"),
        "source": dict(source or {}),
        "training": dict(training or {}),
        "written": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if imported:
        config["imported"] = dict(imported)
    probe = _probe_files(probe_dir)
    card = model_card(config, probe, list(limits))
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    try:
        tmp = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.", suffix=".tmp"))
    except OSError as err:
        raise WriteFailed(out_dir, err.errno, is_model_folder(out_dir), "model folder") from err
    old: Path | None = None
    try:
        (tmp / WEIGHTS_FILE).write_bytes(save_safetensors(state, metadata={"format": MODEL_FORMAT}))
        (tmp / CONFIG_FILE).write_text(json.dumps(config, indent=2, sort_keys=False) + "\n")
        (tmp / CARD_FILE).write_text(card, encoding="utf-8")
        for f in tmp.iterdir():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        os.chmod(tmp, 0o777 & ~_umask())
        for f in tmp.iterdir():
            os.chmod(f, 0o666 & ~_umask())
        if out_dir.exists():
            old = out_dir.with_name(f".{out_dir.name}.{os.getpid()}.old")
            os.replace(out_dir, old)
        os.replace(tmp, out_dir)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException as err:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and old.exists() and not out_dir.exists():
            os.replace(old, out_dir)  # the new folder did not make it: the previous one goes back
        code = write_error_code(err, out_dir.parent) if isinstance(err, Exception) else None
        if code is None and isinstance(err, OSError) and err.errno:  # a system call failed (not a message)
            code = err.errno
        if code is not None:  # a full disk (or another failed write): one line naming the folder
            raise WriteFailed(out_dir, code, is_model_folder(out_dir), "model folder") from err
        raise
    return out_dir


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _probe_files(probe_dir: str | os.PathLike | None) -> dict[str, str]:
    out: dict[str, str] = {}
    if probe_dir is None:
        return out
    for key, fname in (("table", "probe_results.md"), ("command", "probe_command.txt")):
        p = Path(probe_dir) / fname
        if p.is_file():
            out[key] = p.read_text(encoding="utf-8").strip()
    return out


def _fmt_params(n: int) -> str:
    return f"{n / 1e6:.2f} M" if n >= 1e5 else f"{n / 1e3:.1f} k"


def model_card(config: Mapping[str, Any], probe: Mapping[str, str], limits: Sequence[str]) -> str:
    """The ``README.md`` of a model folder, generated from its ``config.json`` (and probe table, if any)."""
    name = config.get("name", "model")
    train = config.get("training") or {}
    imported = config.get("imported") or {}
    prep = config.get("preprocessing") or {}
    lines = [f"# {name}", ""]
    if imported:
        lines += [f"{imported.get('model', 'A published model')} imported into wfm from `{imported.get('file')}` "
                  f"(`wfm-import {imported.get('importer')}`)." , ""]
    else:
        what = train.get("method", "a wfm method")
        lines += [f"A wfm encoder ({config.get('encoder')} encoder of {what}), exported by `wfm-export`.", ""]
    lines += ["| | |", "|:---|:---|",
              f"| architecture | {config.get('architecture')} ({', '.join(config.get('modalities') or [])}) |",
              f"| parameters | {_fmt_params(int(config.get('parameters', 0)))} |",
              f"| feature dimension | {config.get('feature_dim')} ({config.get('pool')} pooling) |"]
    for family, geo in (config.get("input") or {}).items():
        lines.append(f"| input ({family}) | " + ", ".join(f"{k} {v}" for k, v in geo.items()) + " |")
    lines.append(f"| wfm version | {config.get('wfm_version')} |")
    lines += ["", "## Training", ""]
    if imported:
        lines.append(str(imported.get("trained_on", "As published by its authors (not retrained by wfm).")))
    else:
        steps = train.get("global_step")
        epoch = train.get("epoch")
        lines.append(f"Method `{train.get('method', 'unknown')}`, "
                     + (f"{steps} optimizer steps" if steps is not None else "steps unknown")
                     + (f" (saved at epoch {int(epoch)})" if isinstance(epoch, int) else "") + ".")
        data = train.get("data") or {}
        if data:
            lines += ["", "Data (the DataModule's arguments):", "", "```json",
                      json.dumps(data, indent=2, sort_keys=True)[:4000], "```"]
        files = train.get("data_files") or {}
        for f, info in files.items():
            lines.append(f"- `{f}`: {info['bytes']} bytes, sha256 `{info['sha256'] or 'not hashed (large)'}`")
        if not data:
            lines.append("")
            lines.append("The checkpoint does not record its data.")
    lines += ["", "## Input preprocessing", ""]
    lines.append("Inputs are standardised as every wfm file is (per-channel statistics of the file; complex pairs "
                 "share one scale). Applied by the probe, `wfm predict` and `load_pretrained`:")
    lines.append("")
    words = describe_steps(check_steps(prep.get("steps")))
    lines += [f"- {w}" for w in words] or ["- nothing further"]
    if prep.get("trained_with"):
        lines += ["", "Trained with (as the source code and paper describe it):", ""]
        tw = prep["trained_with"]
        lines += [f"- {k}: {v}" for k, v in tw.items()] if isinstance(tw, Mapping) else [f"- {tw}"]
    lines += ["", "## Use", "", "```python", "import wfm", f'model = wfm.load_pretrained("{name}")',
              'features = model.features(x, modality="' + _first_modality(config) + '")  # (B, '
              f'{config.get("feature_dim")})', "```", "", "```bash",
              f"wfm test --config configs/probe/file.yaml --model.init_args.backbone {name} "
              "--data.init_args.dataset YOUR_FILE.h5", "```", "", "## Probe results", ""]
    if probe.get("table"):
        if probe.get("command"):
            lines += ["Made by:", "", "```bash", probe["command"], "```", ""]
        lines += [probe["table"]]
    else:
        lines.append("No probe table sat next to the checkpoint; run the `wfm test` command above.")
    lines += ["", "## Limits", ""]
    base = ["Features are only as good as the probe table says; a table on your own data is the measure.",
            "Inputs must be laid out and standardised as wfm files are (`wfm-convert`)."]
    lines += [f"- {s}" for s in [*limits, *base]]
    if imported.get("unused_keys"):
        lines += ["", "Tensors of the source not used by the encoder (heads, decoders): "
                  + ", ".join(f"`{k}`" for k in imported["unused_keys"][:20])
                  + (" ..." if len(imported["unused_keys"]) > 20 else "")]
    return "\n".join(lines).rstrip() + "\n"


def _first_modality(config: Mapping[str, Any]) -> str:
    accepts = (config.get("preprocessing") or {}).get("accepts")
    if accepts:
        return str(accepts[0])
    families = config.get("modalities") or ["image"]
    return {"image": "spectrogram"}.get(families[0], families[0])
