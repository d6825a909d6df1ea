"""What every importer shares: reading a released checkpoint safely, and accounting for every tensor of it.

A released file is read with ``torch.load(..., weights_only=True)``: tensors, plain containers and, because
many training scripts save their ``argparse`` arguments with the weights, ``argparse.Namespace`` (a plain
attribute holder; its values go through the same restricted unpickler). Anything else is refused with one
line, before any of it is executed.

:class:`KeyMap` hands out the source's tensors by name, checks each shape against what the target module
needs, and at the end lists every tensor nobody took: the mapping is total (used or reported), and the first
key that does not fit is named in a one-line error.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from wfm.checkpoint import BackboneLoadError, load_torch_file

#: prefixes wrappers add to every key: DataParallel / DDP (``module.``), ``torch.compile`` (``_orig_mod.``)
WRAPPER_PREFIXES = ("module.", "_orig_mod.")
#: the entries of a training checkpoint that may hold the model's state dict, in the order they are tried
STATE_KEYS = ("model", "state_dict", "model_state_dict", "net")


class MappingError(BackboneLoadError):
    """A released checkpoint cannot be mapped onto the target module (first bad key named)."""


def read_released(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """``(state_dict, rest)`` of a released ``.pth``/``.pt``/``.bin`` or ``.safetensors`` file.

    The state dict is the file itself when it maps names to tensors, else its first entry of
    :data:`STATE_KEYS` that does; wrapper prefixes (``module.``) are stripped. ``rest`` holds the other
    entries (e.g. a training script's ``args``) as plain values.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    if path.suffix == ".safetensors" and path.is_file():
        from safetensors.torch import load_file

        try:
            return strip_prefixes(load_file(str(path))), {}
        except Exception as err:
            raise BackboneLoadError(f"{path}: not a readable safetensors file: {err}") from err
    obj = load_torch_file(path, what="checkpoint", safe_globals=[argparse.Namespace])
    if not isinstance(obj, Mapping):
        raise BackboneLoadError(f"{path}: expected a state dict or a checkpoint dict, got {type(obj).__name__}")
    if obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        return strip_prefixes(obj), {}
    for key in STATE_KEYS:
        inner = obj.get(key)
        if isinstance(inner, Mapping) and inner and all(isinstance(v, torch.Tensor) for v in inner.values()):
            rest = {k: _plain(v) for k, v in obj.items() if k != key and not _is_state(v)}
            return strip_prefixes(inner), rest
    raise BackboneLoadError(f"{path}: no state dict found (top-level keys {sorted(map(str, obj))[:10]}; looked "
                            f"for a name -> tensor mapping at the top or under {list(STATE_KEYS)})")


def _is_state(v: Any) -> bool:
    return isinstance(v, Mapping) and any(isinstance(x, (torch.Tensor, Mapping)) for x in v.values())


def _plain(v: Any) -> Any:
    if isinstance(v, argparse.Namespace):
        return {k: _plain(x) for k, x in vars(v).items()}
    if isinstance(v, Mapping):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    return repr(v)


def strip_prefixes(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``state`` with a wrapper prefix every key carries removed (``module.blocks.0...`` -> ``blocks.0...``)."""
    out = {str(k): v for k, v in state.items()}
    changed = True
    while changed and out:
        changed = False
        for p in WRAPPER_PREFIXES:
            if all(k.startswith(p) for k in out):
                out = {k[len(p):]: v for k, v in out.items()}
                changed = True
    return out


class KeyMap:
    """The tensors of a released state dict, handed out by name with shape checks; tracks what was used."""

    def __init__(self, state: Mapping[str, torch.Tensor], source: str, model: str) -> None:
        self.state = dict(state)
        self.source = source
        self.model = model
        self.used: dict[str, str] = {}  # source key -> what it became
        self.notes: list[str] = []  # what the importer had to assume (printed by wfm-import)

    def has(self, key: str) -> bool:
        return key in self.state

    def shape(self, key: str) -> tuple[int, ...]:
        return tuple(self.take(key, mark=False).shape)

    def take(self, key: str, shape: Sequence[int] | None = None, into: str | None = None,
             mark: bool = True) -> torch.Tensor:
        """The tensor ``key`` (float32 copy), checked against ``shape``; marked used (as ``into``)."""
        if key not in self.state:
            near = [k for k in self.state if k.split(".")[-1] == key.split(".")[-1]][:3]
            raise MappingError(f"{self.source}: key {key!r} not found: not a {self.model} checkpoint of the "
                               f"expected layout" + (f" (keys ending alike: {near})" if near else ""))
        t = self.state[key]
        if shape is not None and tuple(t.shape) != tuple(shape):
            raise MappingError(f"{self.source}: key {key!r} has shape {tuple(t.shape)}, expected {tuple(shape)}"
                               f"{' for ' + into if into else ''}")
        if mark:
            self.used[key] = into or key
        return t.detach().to(torch.float32).clone()

    def depth(self, prefix: str) -> int:
        """``1 +`` the largest ``i`` of any ``<prefix><i>.`` key (0 without one): the number of blocks, so a
        block missing a tensor is named by :meth:`take` instead of silently shortening the encoder."""
        top = -1
        for k in self.state:
            if k.startswith(prefix):
                head = k[len(prefix):].split(".", 1)[0]
                if head.isdigit():
                    top = max(top, int(head))
        return top + 1

    def unused(self) -> list[str]:
        return sorted(k for k in self.state if k not in self.used)

    def finish(self, known_unused: Sequence[str], allow_unused: bool = False) -> list[str]:
        """The unused keys, after refusing the first one that is not a known unused part (a head, a decoder):
        an unexpected tensor may change what the encoder computes, so it is named, not dropped.
        ``allow_unused`` reports such keys instead."""
        unused = self.unused()
        if not allow_unused:
            for k in unused:
                if not any(k.startswith(p) for p in known_unused):
                    raise MappingError(f"{self.source}: unexpected key {k!r} (shape {tuple(self.state[k].shape)}): "
                                       f"no place for it in the {self.model} encoder as wfm reads it; "
                                       "--allow-unused imports without it")
        return unused

    def refuse(self, prefixes: Sequence[str], why: str) -> None:
        """Raise if any key starts with one of ``prefixes`` (or contains it after a dot) — a part the import
        cannot represent exactly (``why`` says what to do instead)."""
        for k in sorted(self.state):
            if any(k.startswith(p) or f".{p}" in f".{k}" for p in prefixes):
                raise MappingError(f"{self.source}: key {k!r}: {why}")


def load_into(module: torch.nn.Module, state: Mapping[str, torch.Tensor], source: str) -> None:
    """Load a complete mapped state into ``module`` strictly (an importer bug is named, not hidden)."""
    from wfm.checkpoint import check_state

    check_state(module.state_dict(), state, getattr(module, "config", {}), f"{source} (mapped)")
    module.load_state_dict(dict(state), strict=True)


def report(kind: str, keymap: KeyMap, out: Path, extra: Sequence[str] = ()) -> str:
    """The importer's summary lines: what was mapped, what was not used, where the folder is."""
    unused = keymap.unused()
    lines = [f"wfm-import {kind}: mapped {len(keymap.used)} tensors of {keymap.source} onto the wfm model"]
    if unused:
        shown = ", ".join(unused[:12]) + (" ..." if len(unused) > 12 else "")
        lines.append(f"  not used ({len(unused)}: heads / decoders the encoder does not need): {shown}")
    lines += [f"  {e}" for e in [*keymap.notes, *extra]]
    lines.append(f"  wrote {out}")
    return "\n".join(lines)
