"""Reading and exporting pretrained backbones without unpickling arbitrary objects.

A backbone lives in one of three places:

* a Lightning checkpoint (``.ckpt``) written by any wfm method, which carries
  ``ckpt["wfm_backbone"] = {"config": ViTEncoder kwargs, "state_dict": encoder state, ...}``;
* a **model folder** (what ``wfm-export`` and ``wfm-import`` write, the layout model hubs use):
  ``config.json`` (architecture, encoder config, input geometry, preprocessing, training recipe, wfm version),
  ``model.safetensors`` (the encoder state) and a generated ``README.md`` model card;
* an exported pair ``<name>.safetensors`` (the encoder state) + ``<name>.json`` (config, which encoder of
  the method it is, and where it came from), written by :func:`export_backbone` (the first export format;
  it keeps loading everywhere).

Most backbones are wfm's :class:`ViTEncoder`; an imported published model whose architecture differs (LWM) is
a registered wrapper module (``architecture`` in the description, :data:`ARCHITECTURES`). A ViT imported from
another code base may need small exact adjustments that its kwargs cannot say (``adjust``: the blocks'
LayerNorm eps, fixed position tables stored with the weights); they travel with every record of the encoder.

Checkpoints are read with ``torch.load(..., weights_only=True)``: a file holding anything but tensors and
plain containers is refused instead of executed, so a downloaded checkpoint cannot run code on load.
"""

from __future__ import annotations

import errno
import json
import os
import pickle
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from wfm.atomic import atomic_files
from wfm.models.encoder import ViTEncoder

BACKBONE_KEY = "wfm_backbone"
EXPORT_FORMAT = "wfm-backbone"
EXPORT_VERSION = 1
#: the model folder: ``config.json`` (``format`` below), ``model.safetensors``, ``README.md``
MODEL_FORMAT = "wfm-model"
MODEL_FORMAT_VERSION = 1
CONFIG_FILE, WEIGHTS_FILE, CARD_FILE = "config.json", "model.safetensors", "README.md"

#: backbone architectures by name -> ``module:Class``, imported when used. ``vit`` is wfm's own encoder; the
#: others are wrappers of published models (:mod:`wfm.importers`) that wfm probes but does not train
ARCHITECTURES: dict[str, str] = {
    "vit": "wfm.models.encoder:ViTEncoder",
    "lwm": "wfm.importers.lwm:LWMEncoder",
}
#: the exact adjustments an imported ViT may carry (see :func:`apply_adjust`)
ADJUST_KEYS = ("block_norm_eps", "buffers")


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


def check_state(
    own: Mapping[str, torch.Tensor], state: Mapping[str, torch.Tensor], config: Mapping[str, Any], source: str
) -> None:
    """Raise a :class:`BackboneLoadError` naming missing / unexpected keys and shape mismatches."""
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = [
        f"{k}: file {tuple(state[k].shape)} vs config {tuple(own[k].shape)}"
        for k in sorted(set(own) & set(state))
        if tuple(state[k].shape) != tuple(own[k].shape)
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


def check_adjust(adjust: Any, source: str) -> dict[str, Any]:
    """``adjust`` as a plain dict of known keys (an unknown key is refused: it would be silently ignored)."""
    if not isinstance(adjust, Mapping):
        raise BackboneLoadError(f"{source}: 'adjust' must be a dict, got {type(adjust).__name__}")
    unknown = sorted(set(adjust) - set(ADJUST_KEYS))
    if unknown:
        raise BackboneLoadError(f"{source}: unknown adjustments {unknown} (this wfm knows {list(ADJUST_KEYS)}; "
                                "was the file written by a newer wfm?)")
    return _jsonable(dict(adjust))


def apply_adjust(
    encoder: ViTEncoder, adjust: Mapping[str, Any], state: Mapping[str, torch.Tensor] | None, source: str
) -> dict[str, torch.Tensor] | None:
    """Apply an imported ViT's exact adjustments to ``encoder``; returns ``state`` without the buffers it set.

    ``block_norm_eps``: the eps of both LayerNorms of every block (timm's ``Block`` of code bases pinned to
    timm < 1.0.20 used ``nn.LayerNorm``, eps 1e-5; wfm's blocks use 1e-6). ``buffers``: names of fixed
    (non-persistent) buffers whose values the state carries, e.g. a position table laid out as the source
    model laid it out (``patch_embed.pos_embed``). The adjustments are remembered on the encoder
    (``wfm_adjust``) so :func:`backbone_entry` and every export write them again.
    """
    adjust = check_adjust(adjust, source)
    eps = adjust.get("block_norm_eps")
    if eps is not None:
        for blk in encoder.blocks:
            blk.norm1.eps = blk.norm2.eps = float(eps)
    names = [str(n) for n in adjust.get("buffers") or []]
    out = dict(state) if state is not None else None
    if names and out is None:
        raise BackboneLoadError(f"{source}: the adjustments name buffers {names} but no weights were given")
    for name in names:
        if name not in out:
            raise BackboneLoadError(f"{source}: adjusted buffer {name!r} is not in the weights")
        try:
            buf = encoder.get_buffer(name)
        except AttributeError as err:
            raise BackboneLoadError(f"{source}: the encoder has no buffer {name!r} to adjust") from err
        value = out.pop(name)
        if tuple(value.shape) != tuple(buf.shape):
            raise BackboneLoadError(f"{source}: buffer {name!r} has shape {tuple(value.shape)} in the file, the "
                                    f"encoder's is {tuple(buf.shape)}")
        with torch.no_grad():
            buf.copy_(value.to(buf.dtype))
    encoder.wfm_adjust = adjust
    return out


def build_encoder(
    config: Mapping[str, Any], state_dict: Mapping[str, torch.Tensor] | None, source: str,
    adjust: Mapping[str, Any] | None = None,
) -> ViTEncoder:
    """Instantiate a :class:`ViTEncoder` from kwargs and load ``state_dict`` strictly, with clear errors.

    ``adjust``: an imported ViT's exact adjustments (:func:`apply_adjust`), applied before the weights load.
    """
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
    if adjust:
        state_dict = apply_adjust(encoder, adjust, None if state_dict is None else upgrade_state_dict(state_dict),
                                  source)
    if state_dict is None:
        return encoder
    state_dict = upgrade_state_dict(state_dict)
    check_state(encoder.state_dict(), state_dict, config, source)
    encoder.load_state_dict(dict(state_dict), strict=True)
    return encoder


def architecture_class(name: str, source: str = "backbone") -> type:
    """The module class of a registered backbone architecture (:data:`ARCHITECTURES`)."""
    if name not in ARCHITECTURES:
        raise BackboneLoadError(f"{source}: unknown architecture {name!r} (known: {sorted(ARCHITECTURES)})")
    import importlib

    module, _, cls = ARCHITECTURES[name].partition(":")
    return getattr(importlib.import_module(module), cls)


def build_backbone(
    meta: Mapping[str, Any], state_dict: Mapping[str, torch.Tensor] | None, source: str
) -> torch.nn.Module:
    """The backbone a description (a ``wfm_backbone`` entry, a pair's JSON or a folder's ``config.json``) names:
    a :class:`ViTEncoder` (with its ``adjust``) or a registered wrapper, its weights loaded strictly."""
    arch = str(meta.get("architecture", "vit"))
    if arch == "vit":
        return build_encoder(meta["config"], state_dict, source, adjust=meta.get("adjust"))
    cls = architecture_class(arch, source)
    config = meta["config"]
    if not isinstance(config, Mapping):
        raise BackboneLoadError(f"{source}: backbone config must be a dict, got {type(config).__name__}")
    try:
        module = cls(**dict(config))
    except (TypeError, ValueError) as err:
        raise BackboneLoadError(f"{source}: config {dict(config)} is not valid for {cls.__name__}: {err}") from err
    if state_dict is not None:
        check_state(module.state_dict(), state_dict, config, source)
        module.load_state_dict(dict(state_dict), strict=True)
    return module


def architecture_of(module: torch.nn.Module) -> str:
    """The registered architecture name of a backbone module: ``vit`` for wfm's encoder (and any module that
    does not name one), else its ``architecture`` attribute (the wrappers of :data:`ARCHITECTURES`)."""
    return "vit" if isinstance(module, ViTEncoder) else str(getattr(module, "architecture", "vit"))


def encoder_record(module: torch.nn.Module) -> dict[str, Any]:
    """Everything that rebuilds ``module`` exactly: ``architecture``, ``config``, ``adjust`` (when it has one)
    and the CPU ``state_dict`` (with the adjusted buffers)."""
    state = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    out: dict[str, Any] = {"architecture": architecture_of(module), "config": normalise_config(module.config)}
    adjust = getattr(module, "wfm_adjust", None)
    if adjust:
        out["adjust"] = _jsonable(dict(adjust))
        for name in adjust.get("buffers") or []:
            state[name] = module.get_buffer(name).detach().cpu().contiguous()
    out["state_dict"] = state
    return out


def read_checkpoint_backbone(
    path: str | os.PathLike, map_location: str | torch.device = "cpu"
) -> dict[str, Any]:
    """The ``wfm_backbone`` entry of a Lightning checkpoint, loaded with ``weights_only=True``."""
    return _backbone_entry(_load_checkpoint(path, map_location), Path(path))


def read_checkpoint(
    path: str | os.PathLike, map_location: Any = "cpu", what: str = "checkpoint"
) -> Mapping[str, Any]:
    """A whole Lightning checkpoint (a dict), read by :func:`load_torch_file` (nothing in it is executed)."""
    ckpt = load_torch_file(path, map_location, what=what)
    if not isinstance(ckpt, Mapping):
        raise BackboneLoadError(f"{path}: expected a checkpoint dict, got {type(ckpt).__name__}")
    return ckpt


def _load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> Mapping[str, Any]:
    return read_checkpoint(path, map_location, what="backbone checkpoint")


#: the first bytes of a pickle stream (protocol 2-5) and of a zip archive (what ``torch.save`` writes)
_PICKLE_HEADS = tuple(bytes([0x80, p]) for p in range(2, 6))
_ZIP_HEAD = b"PK\x03\x04"


def _unpickler_detail(err: BaseException) -> str:
    """torch's reason for refusing a pickle, in one short sentence (``Unsupported global: GLOBAL io.open ...``)."""
    text = str(err).split("WeightsUnpickler error:")[-1].strip()
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return first.split(" Please use")[0].split(". Please")[0].rstrip(".")[:200]


def load_error(path: str | os.PathLike, err: BaseException) -> BackboneLoadError:
    """The one-line error for a file ``torch.load(weights_only=True)`` could not read.

    torch raises whatever its parser met: ``IndexError`` / ``KeyError`` / ``UnicodeDecodeError`` /
    ``UnpicklingError`` on random bytes, ``EOFError`` on an empty file, ``RuntimeError`` (``PytorchStreamReader
    failed``) on a truncated archive, ... A pickle whose objects the restricted unpickler refuses (a global
    outside its allowlist: the file would run code) is named as such; anything else is "not a torch
    checkpoint".
    """
    path = Path(path)
    if isinstance(err, PermissionError) or (isinstance(err, OSError) and err.errno == errno.EIO):
        return BackboneLoadError(f"{path}: cannot read it ({err.strerror or err})")  # other OSErrors: the parser's
    if isinstance(err, pickle.UnpicklingError):
        detail = _unpickler_detail(err)
        try:
            with open(path, "rb") as f:
                head = f.read(4)
        except OSError:
            head = b""
        if "Unsupported global" in detail:
            # weights_only refuses any global outside torch's allowlist: the file wants to build arbitrary objects
            return BackboneLoadError(
                f"{path}: refusing to load: the file holds objects other than tensors and plain containers "
                f"(torch.load(weights_only=True) rejected it; nothing was executed): {detail}"
            )
        if head.startswith(_PICKLE_HEADS) or head == _ZIP_HEAD:
            return BackboneLoadError(
                f"{path}: refusing to load: a pickle that torch.load(weights_only=True) cannot read ({detail}); "
                "nothing was executed (checkpoints are written with torch.save)"
            )
    return BackboneLoadError(f"{path}: not a torch checkpoint (truncated or another format)")


def load_torch_file(
    path: str | os.PathLike, map_location: Any = "cpu", what: str = "checkpoint",
    safe_globals: Sequence[Any] = (),
) -> Any:
    """The one loader of every ``torch.load`` in wfm: ``weights_only=True`` (nothing in the file is executed;
    ``safe_globals`` widens torch's allowlist, e.g. ``argparse.Namespace``), and every way a file can be wrong
    is one line naming it.

    Raises:
        FileNotFoundError: no such file (``<what> not found: <path>``).
        BackboneLoadError: a folder; unreadable; not a torch file (random bytes, empty, truncated, another
            format); a pickle that wants objects other than tensors and plain containers.
    """
    path = Path(path)
    if path.is_dir():
        raise BackboneLoadError(f"{path}: a folder, not a {what} file")
    if not path.exists():
        raise FileNotFoundError(f"{what} not found: {path}")
    if not path.is_file():
        raise BackboneLoadError(f"{path}: not a regular file, cannot be a {what}")
    try:
        with warnings.catch_warnings(), torch.serialization.safe_globals(list(safe_globals)):
            # bytes that happen to start like a pickle make torch warn about the protocol before it fails
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            return torch.load(path, map_location=map_location, weights_only=True)
    except MemoryError as err:
        raise BackboneLoadError(f"{path}: not a torch checkpoint (it claims more memory than there is)") from err
    except Exception as err:
        raise load_error(path, err) from err


#: sequence models (``wfm.methods.msac``) by class name: what they are called in messages
_SEQUENCE_MODELS = {"MSACJEPA": "a JEPA-MSAC sequence model", "MSACReconstruction": "a reconstruction-MSAC "
                    "sequence model", "MSACMethod": "an MSAC sequence model"}


def _backbone_entry(ckpt: Mapping[str, Any], path: Path) -> dict[str, Any]:
    if BACKBONE_KEY not in ckpt:
        hparams = ckpt.get("hyper_parameters")
        written = hparams.get("_class_path") if isinstance(hparams, Mapping) else None
        name = written.rsplit(".", 1)[-1] if isinstance(written, str) and written.startswith("wfm.") else ""
        if name in _SEQUENCE_MODELS:
            raise BackboneLoadError(
                f"{path}: {_SEQUENCE_MODELS[name]} (wfm.methods.{name}), not a frame-level backbone; use it with "
                "configs/msac/*.yaml (wfm test --ckpt_path)")
        raise BackboneLoadError(
            f"{path}: no '{BACKBONE_KEY}' entry (keys: {sorted(map(str, ckpt))[:10]}); "
            "was it written by a wfm method?"
        )
    entry = ckpt[BACKBONE_KEY]
    if not isinstance(entry, Mapping) or "config" not in entry or "state_dict" not in entry:
        raise BackboneLoadError(f"{path}: '{BACKBONE_KEY}' must be a dict with 'config' and 'state_dict'")
    return dict(entry)


def is_model_folder(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a folder holding a model's ``config.json`` (a wfm model folder, maybe incomplete)."""
    path = Path(path)
    return path.is_dir() and (path / CONFIG_FILE).exists()


def _read_json(path: Path) -> dict[str, Any]:
    try:
        meta = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise BackboneLoadError(f"{path}: not valid JSON: {err}") from err
    except UnicodeDecodeError as err:
        raise BackboneLoadError(f"{path}: not a text file: {err}") from err
    if not isinstance(meta, dict):
        raise BackboneLoadError(f"{path}: expected a JSON object, got {type(meta).__name__}")
    return meta


def _read_safetensors(path: Path, map_location: str | torch.device) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file  # lazy: only exported backbones need it

    device = str(map_location) if not callable(map_location) else "cpu"
    try:
        return load_file(str(path), device=device)
    except Exception as err:  # safetensors raises its own error types for corrupt files
        raise BackboneLoadError(f"{path}: not a readable safetensors file: {err}") from err


def read_model_folder(
    path: str | os.PathLike, map_location: str | torch.device = "cpu"
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """A model folder's ``config.json`` (checked) and its ``model.safetensors`` state."""
    path = Path(path)
    cfg, st = path / CONFIG_FILE, path / WEIGHTS_FILE
    for p in (cfg, st):
        if not p.is_file():
            raise FileNotFoundError(f"model folder incomplete: {p} not found (a wfm model folder holds "
                                    f"{CONFIG_FILE} and {WEIGHTS_FILE})")
    meta = _read_json(cfg)
    if meta.get("format") != MODEL_FORMAT or "config" not in meta:
        raise BackboneLoadError(f"{cfg}: not a wfm model description (format '{MODEL_FORMAT}' + config)")
    version = meta.get("format_version", 1)
    if not isinstance(version, int) or version > MODEL_FORMAT_VERSION:
        raise BackboneLoadError(f"{cfg}: format_version {version!r} is newer than this wfm reads "
                                f"({MODEL_FORMAT_VERSION}); update wfm")
    return meta, _read_safetensors(st, map_location)


def load_backbone_with_meta(
    path: str | os.PathLike, map_location: str | torch.device = "cpu"
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Like :func:`load_backbone`, also returning metadata (``config``, ``encoder``, ``source``,
    ``architecture``, ``preprocessing``, ...). Any registered architecture is returned (an imported LWM too)."""
    path = Path(path)
    if is_model_folder(path) or (path.is_dir() and (path / WEIGHTS_FILE).exists()):
        meta, state = read_model_folder(path, map_location)
        module = build_backbone(meta, state, str(path / WEIGHTS_FILE))
        meta.setdefault("source", str(path))
        return module, meta
    if path.suffix in (".safetensors", ".json") or (not path.exists() and _exported_pair(path)[0].exists()):
        st_path, json_path = _exported_pair(path)
        for p in (st_path, json_path):
            if not p.is_file():
                raise FileNotFoundError(
                    f"exported backbone incomplete: {p} not found (need both .safetensors and .json)"
                )
        meta = _read_json(json_path)
        if meta.get("format") != EXPORT_FORMAT or "config" not in meta:
            raise BackboneLoadError(
                f"{json_path}: not a wfm backbone description (format '{EXPORT_FORMAT}' + config)"
            )
        state = _read_safetensors(st_path, map_location)
        return build_backbone(meta, state, str(st_path)), meta
    if path.is_dir():
        raise FileNotFoundError(f"{path} is a folder without {CONFIG_FILE}: not a wfm model folder")
    entry = read_checkpoint_backbone(path, map_location)
    module = build_backbone(entry, entry["state_dict"], str(path))
    meta = {k: v for k, v in entry.items() if k != "state_dict"}
    meta.setdefault("source", str(path))
    return module, meta


def load_backbone(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> ViTEncoder:
    """Load a pretrained :class:`ViTEncoder` from a Lightning ``.ckpt``, a model folder or an exported pair.

    Reading never unpickles objects (``weights_only=True``). This is the loader of training (fine-tuning
    starts from its encoder); an imported model of another architecture (LWM) is refused here, since wfm
    only probes it: load it with :func:`load_backbone_with_meta` or :func:`wfm.load_pretrained`.

    Raises:
        FileNotFoundError: the file (or half of an exported pair / model folder) does not exist.
        BackboneLoadError: the file is unsafe to unpickle, lacks ``wfm_backbone``, its config and state
            disagree, or it holds another architecture than wfm's ViT.
    """
    module, meta = load_backbone_with_meta(path, map_location)
    if not isinstance(module, ViTEncoder):
        raise BackboneLoadError(
            f"{path}: an imported {meta.get('architecture')!r} model, not a wfm ViT: wfm probes it (wfm test, "
            "wfm predict, wfm.load_pretrained) but cannot fine-tune or pretrain from it"
        )
    return module


CONTEXT_PREFIX = "encoder."


def _exported_entry(ckpt_path: Path, which: str) -> tuple[Mapping[str, Any], dict[str, Any]]:
    """The checkpoint and the backbone entry an export writes: the target backbone, or with ``which="context"``
    the context encoder's weights (a BackboneLoadError when the checkpoint has none)."""
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
    return ckpt, entry


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
    ckpt, entry = _exported_entry(ckpt_path, which)
    # round-trip through the encoder so an inconsistent checkpoint is never exported
    encoder = build_encoder(entry["config"], entry["state_dict"], str(ckpt_path), adjust=entry.get("adjust"))
    st_path, json_path = _exported_pair(Path(out_path))
    st_path.parent.mkdir(parents=True, exist_ok=True)
    record = encoder_record(encoder)
    state = record.pop("state_dict")
    meta = {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "config": normalise_config(entry["config"]),
        "encoder": str(entry.get("encoder", "backbone")),
        "modalities": list(encoder.modalities),
        "source": str(ckpt_path.resolve()),
    }
    if "adjust" in record:
        meta["adjust"] = record["adjust"]
    for key in ("method", "epoch", "global_step"):
        if key in entry and isinstance(entry[key], (str, int, float)):
            meta[key] = entry[key]
    # both files replace their old versions only once both are on disk (a full disk keeps the old pair whole)
    with atomic_files(st_path, json_path, what="export") as (st_file, json_file):
        st_file.write(save_safetensors(state, metadata={"format": EXPORT_FORMAT}))
        json_file.write((json.dumps(meta, indent=2, sort_keys=True) + "\n").encode())
    return st_path, json_path


def backbone_entry(module: ViTEncoder, config: Mapping[str, Any], /, **extra: Any) -> dict[str, Any]:
    """The ``ckpt["wfm_backbone"]`` value a method saves in ``on_save_checkpoint`` (plain types only).

    ``extra`` adds plain metadata, e.g. ``encoder="target"`` (which of the method's encoders this is). An
    encoder with exact adjustments (an imported ViT, :func:`apply_adjust`) records them and their buffers.
    """
    record = encoder_record(module)
    out = {
        "config": normalise_config(config),
        "state_dict": record["state_dict"],
        "modalities": list(module.modalities),
        **extra,
    }
    if record["architecture"] != "vit":
        out["architecture"] = record["architecture"]
    if "adjust" in record:
        out["adjust"] = record["adjust"]
    return out


def checkpoint_training(ckpt: Mapping[str, Any], entry: Mapping[str, Any]) -> dict[str, Any]:
    """What a Lightning checkpoint says about how its encoder was trained, as plain JSON: the method, epoch
    and step, the method's hyperparameters (the recipe) and the DataModule's (the data)."""
    out: dict[str, Any] = {}
    for key in ("method", "epoch", "global_step"):
        value = entry.get(key, ckpt.get(key))
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            out[key] = value
    for key, name in (("hyper_parameters", "recipe"), ("datamodule_hyper_parameters", "data")):
        if isinstance(ckpt.get(key), Mapping):
            out[name] = _loose_json(ckpt[key])
    return out


def _loose_json(value: Any, depth: int = 0) -> Any:
    """Plain JSON of a hyperparameter tree (anything else becomes its ``repr``; tensors their shape)."""
    if depth > 12:
        return "..."
    if isinstance(value, Mapping):
        return {str(k): _loose_json(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_loose_json(v, depth + 1) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, torch.Tensor):
        return f"tensor{tuple(value.shape)}"
    return repr(value)


def export_model(
    ckpt_path: str | os.PathLike, out_dir: str | os.PathLike, which: str = "backbone", hash_limit: int = 1 << 30
) -> Path:
    """Write an encoder of a Lightning checkpoint as a model folder (``config.json``, ``model.safetensors``,
    ``README.md``), atomically: the folder appears complete or not at all.

    ``which`` as for :func:`export_backbone`. ``config.json`` records the training recipe and data of the
    checkpoint (and the SHA-256 of every data file the DataModule names that exists here and is at most
    ``hash_limit`` bytes); the model card shows the probe table when ``probe_results.md`` sits next to the
    checkpoint.
    """
    from wfm.pretrained import data_files, write_model_folder  # lazy: the folder writer needs the card code

    if which not in ("backbone", "context"):
        raise ValueError(f"which must be 'backbone' or 'context', got {which!r}")
    ckpt_path = Path(ckpt_path)
    ckpt, entry = _exported_entry(ckpt_path, which)
    encoder = build_backbone(entry, entry["state_dict"], str(ckpt_path))
    training = checkpoint_training(ckpt, entry)
    # a CLI run keeps its resolved config.yaml and its probe table in the run folder, above checkpoints/
    run_dir = ckpt_path.parent.parent if ckpt_path.parent.name == "checkpoints" else ckpt_path.parent
    if "data" not in training and (run_dir / "config.yaml").is_file():
        import yaml

        try:
            data = (yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8")) or {}).get("data")
        except (yaml.YAMLError, OSError, AttributeError):
            data = None
        if isinstance(data, Mapping):
            training["data"] = _loose_json(data)
    if "data" in training:
        training["data_files"] = data_files(training["data"], hash_limit)
    probe_dir = next((d for d in (ckpt_path.parent, run_dir) if (d / "probe_results.md").is_file()), ckpt_path.parent)
    return write_model_folder(
        out_dir, encoder,
        encoder_name=str(entry.get("encoder", "backbone")),
        source={"checkpoint": str(ckpt_path.resolve())},
        training=training,
        preprocessing=entry.get("preprocessing"),
        probe_dir=probe_dir,
    )
