"""Reading and exporting pretrained backbones without unpickling arbitrary objects.

A backbone lives in one of two places:

* a Lightning checkpoint (``.ckpt``) written by any wfm method, which carries
  ``ckpt["wfm_backbone"] = {"config": ViTEncoder kwargs, "state_dict": encoder state, ...}``;
* an exported pair ``<name>.safetensors`` (the encoder state) + ``<name>.json`` (config, which encoder of
  the method it is, and where it came from), written by :func:`export_backbone`
  (``wfm-export``, :mod:`wfm.export`).

Checkpoints are read with ``torch.load(..., weights_only=True)``: a file holding anything but tensors and
plain containers is refused instead of executed, so a downloaded checkpoint cannot run code on load.
"""

from __future__ import annotations

import json
import os
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from wfm.atomic import atomic_file
from wfm.models.encoder import ViTEncoder

BACKBONE_KEY = "wfm_backbone"
EXPORT_FORMAT = "wfm-backbone"
EXPORT_VERSION = 1


class BackboneLoadError(ValueError):
    """A backbone file is missing, unsafe, or does not describe a valid :class:`ViTEncoder`."""


def _exported_pair(path: Path) -> tuple[Path, Path]:
    """``x.safetensors`` / ``x.json`` / ``x`` -> the (safetensors, json) pair of the export named ``x``."""
    stem = path.with_suffix("") if path.suffix in (".safetensors", ".json") else path
    return stem.with_name(stem.name + ".safetensors"), stem.with_name(stem.name + ".json")


def _jsonable(value: Any) -> Any:
    """Encoder kwargs as JSON (tuples become lists; anything else non-plain is refused)."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"encoder config value {value!r} of type {type(value).__name__} is not JSON-serialisable")


def normalise_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """Comparable form of encoder kwargs: JSON types, ``img_size`` always a pair."""
    out = _jsonable(dict(config))
    if isinstance(out.get("img_size"), int):
        out["img_size"] = [out["img_size"], out["img_size"]]
    return out


def check_config(expected: Mapping[str, Any], actual: Mapping[str, Any], source: str) -> None:
    """Raise if any key given in ``expected`` differs from the backbone's ``actual`` config."""
    exp, act = normalise_config(expected), normalise_config(actual)
    diffs = [
        f"{k}: expected {v!r}, backbone has {act.get(k, '<unset>')!r}"
        for k, v in exp.items()
        if act.get(k) != v
    ]
    if diffs:
        raise BackboneLoadError(
            f"{source}: encoder config does not match the backbone's: " + "; ".join(diffs)
        )


#: state-dict key fragments renamed since the first checkpoint format: the blocks became timm's (``mlp.fc1`` /
#: ``mlp.fc2`` instead of ``nn.Sequential`` indices); old checkpoints load through this mapping
LEGACY_KEYS = ((".mlp.0.", ".mlp.fc1."), (".mlp.2.", ".mlp.fc2."))


def upgrade_state_dict(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A state dict with pre-timm block keys renamed (``blocks.3.mlp.0.weight`` -> ``blocks.3.mlp.fc1.weight``)."""
    out = {}
    for key, value in state_dict.items():
        if ".blocks." in f".{key}":
            for old, new in LEGACY_KEYS:
                key = key.replace(old, new)
        out[key] = value
    return out


def build_encoder(
    config: Mapping[str, Any], state_dict: Mapping[str, torch.Tensor] | None, source: str
) -> ViTEncoder:
    """Instantiate a :class:`ViTEncoder` from kwargs and load ``state_dict`` strictly, with clear errors."""
    if not isinstance(config, Mapping):
        raise BackboneLoadError(
            f"{source}: backbone config must be a dict of ViTEncoder kwargs, got {type(config)}"
        )
    try:
        encoder = ViTEncoder(**dict(config))
    except (TypeError, ValueError) as err:
        raise BackboneLoadError(
            f"{source}: backbone config {dict(config)} is not valid for ViTEncoder: {err}"
        ) from err
    if state_dict is None:
        return encoder
    state_dict = upgrade_state_dict(state_dict)
    own = encoder.state_dict()
    missing = sorted(set(own) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(own))
    shapes = [
        f"{k}: file {tuple(state_dict[k].shape)} vs config {tuple(own[k].shape)}"
        for k in sorted(set(own) & set(state_dict))
        if tuple(state_dict[k].shape) != tuple(own[k].shape)
    ]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"missing keys {missing[:8]}{' ...' if len(missing) > 8 else ''}")
        if unexpected:
            parts.append(f"unexpected keys {unexpected[:8]}{' ...' if len(unexpected) > 8 else ''}")
        if shapes:
            parts.append(f"shape mismatches {shapes[:8]}{' ...' if len(shapes) > 8 else ''}")
        raise BackboneLoadError(
            f"{source}: backbone state does not match its config {dict(config)}: " + "; ".join(parts)
        )
    encoder.load_state_dict(dict(state_dict), strict=True)
    return encoder


def read_checkpoint_backbone(
    path: str | os.PathLike, map_location: str | torch.device = "cpu"
) -> dict[str, Any]:
    """The ``wfm_backbone`` entry of a Lightning checkpoint, loaded with ``weights_only=True``."""
    return _backbone_entry(_load_checkpoint(path, map_location), Path(path))


def _load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> Mapping[str, Any]:
    """A whole Lightning checkpoint, loaded with ``weights_only=True`` (nothing in it is executed)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"backbone checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        # weights_only refuses any global outside torch's allowlist: the file wants to build arbitrary objects
        raise BackboneLoadError(
            f"{path}: refusing to load: the checkpoint contains objects other than tensors and plain "
            "containers "
            f"(torch.load(weights_only=True) rejected it; nothing was executed). Details: {err}"
        ) from err
    except (RuntimeError, EOFError, OSError) as err:
        raise BackboneLoadError(f"{path}: not a readable torch checkpoint: {err}") from err
    if not isinstance(ckpt, Mapping):
        raise BackboneLoadError(f"{path}: expected a checkpoint dict, got {type(ckpt).__name__}")
    return ckpt


def _backbone_entry(ckpt: Mapping[str, Any], path: Path) -> dict[str, Any]:
    if BACKBONE_KEY not in ckpt:
        raise BackboneLoadError(
            f"{path}: no '{BACKBONE_KEY}' entry (keys: {sorted(map(str, ckpt))[:10]}); "
            "was it written by a wfm method?"
        )
    entry = ckpt[BACKBONE_KEY]
    if not isinstance(entry, Mapping) or "config" not in entry or "state_dict" not in entry:
        raise BackboneLoadError(f"{path}: '{BACKBONE_KEY}' must be a dict with 'config' and 'state_dict'")
    return dict(entry)


def load_backbone_with_meta(
    path: str | os.PathLike, map_location: str | torch.device = "cpu"
) -> tuple[ViTEncoder, dict[str, Any]]:
    """Like :func:`load_backbone`, also returning metadata (``config``, ``encoder``, ``source``, ...)."""
    path = Path(path)
    if path.suffix in (".safetensors", ".json") or (not path.exists() and _exported_pair(path)[0].exists()):
        st_path, json_path = _exported_pair(path)
        for p in (st_path, json_path):
            if not p.is_file():
                raise FileNotFoundError(
                    f"exported backbone incomplete: {p} not found (need both .safetensors and .json)"
                )
        try:
            meta = json.loads(json_path.read_text())
        except json.JSONDecodeError as err:
            raise BackboneLoadError(f"{json_path}: not valid JSON: {err}") from err
        if not isinstance(meta, dict) or meta.get("format") != EXPORT_FORMAT or "config" not in meta:
            raise BackboneLoadError(
                f"{json_path}: not a wfm backbone description (format '{EXPORT_FORMAT}' + config)"
            )
        from safetensors.torch import load_file  # lazy: only exported backbones need it

        device = str(map_location) if not callable(map_location) else "cpu"
        try:
            state = load_file(str(st_path), device=device)
        except Exception as err:  # safetensors raises its own error types for corrupt files
            raise BackboneLoadError(f"{st_path}: not a readable safetensors file: {err}") from err
        encoder = build_encoder(meta["config"], state, str(st_path))
        return encoder, meta
    entry = read_checkpoint_backbone(path, map_location)
    encoder = build_encoder(entry["config"], entry["state_dict"], str(path))
    meta = {k: v for k, v in entry.items() if k != "state_dict"}
    meta.setdefault("source", str(path))
    return encoder, meta


def load_backbone(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> ViTEncoder:
    """Load a pretrained :class:`ViTEncoder` from a Lightning ``.ckpt`` or an exported backbone pair.

    Reading never unpickles objects (``weights_only=True``).

    Raises:
        FileNotFoundError: the file (or half of an exported pair) does not exist.
        BackboneLoadError: the file is unsafe to unpickle, lacks ``wfm_backbone``, or its config and
            state disagree.
    """
    return load_backbone_with_meta(path, map_location)[0]


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    with atomic_file(path) as f:
        f.write(data)


CONTEXT_PREFIX = "encoder."


def export_backbone(
    ckpt_path: str | os.PathLike, out_path: str | os.PathLike, which: str = "backbone"
) -> tuple[Path, Path]:
    """Write an encoder of a Lightning checkpoint as ``<out>.safetensors`` + ``<out>.json``.

    ``which``: ``backbone`` — the encoder the method probes and exports (JEPA: the EMA target encoder);
    ``context`` — the gradient-trained online encoder (``encoder.*`` weights of the method, JEPA's context
    encoder), same config. ``out_path`` may be given with or without either suffix. The JSON records the
    encoder config, which encoder it is (``encoder``: e.g. ``target`` or ``context``) and the source
    checkpoint. Both files are written atomically.
    """
    from safetensors.torch import save as save_safetensors

    if which not in ("backbone", "context"):
        raise ValueError(f"which must be 'backbone' or 'context', got {which!r}")
    ckpt_path = Path(ckpt_path)
    ckpt = _load_checkpoint(ckpt_path)
    entry = _backbone_entry(ckpt, ckpt_path)
    if which == "context":
        weights = ckpt.get("state_dict") or {}
        context = {k[len(CONTEXT_PREFIX):]: v for k, v in weights.items() if k.startswith(CONTEXT_PREFIX)}
        if not context:
            raise BackboneLoadError(
                f"{ckpt_path}: no context encoder in the checkpoint (no '{CONTEXT_PREFIX}*' weights in its "
                "state_dict)"
            )
        entry = {**entry, "state_dict": context, "encoder": "context"}
    # round-trip through the encoder so an inconsistent checkpoint is never exported
    encoder = build_encoder(entry["config"], entry["state_dict"], str(ckpt_path))
    st_path, json_path = _exported_pair(Path(out_path))
    st_path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in encoder.state_dict().items()}
    meta = {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "config": normalise_config(entry["config"]),
        "encoder": str(entry.get("encoder", "backbone")),
        "modalities": list(encoder.modalities),
        "source": str(ckpt_path.resolve()),
    }
    for key in ("method", "epoch", "global_step"):
        if key in entry and isinstance(entry[key], (str, int, float)):
            meta[key] = entry[key]
    _atomic_write_bytes(st_path, save_safetensors(state, metadata={"format": EXPORT_FORMAT}))
    _atomic_write_bytes(json_path, (json.dumps(meta, indent=2, sort_keys=True) + "\n").encode())
    return st_path, json_path


def backbone_entry(module: ViTEncoder, config: Mapping[str, Any], /, **extra: Any) -> dict[str, Any]:
    """The ``ckpt["wfm_backbone"]`` value a method saves in ``on_save_checkpoint`` (plain types only).

    ``extra`` adds plain metadata, e.g. ``encoder="target"`` (which of the method's encoders this is).
    """
    return {
        "config": normalise_config(config),
        "state_dict": {k: v.detach().cpu() for k, v in module.state_dict().items()},
        "modalities": list(module.modalities),
        **extra,
    }
