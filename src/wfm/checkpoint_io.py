"""``AtomicCheckpointIO``: checkpoints appear complete or not at all, whatever kills the process mid-save.

Lightning's own save writes into a temporary file in the system temp directory and then *moves* it; when that
directory is on another filesystem than the run (tmpfs vs. a cluster's shared disk) the move is a copy into the
final path, and a kill during it leaves a truncated ``last.ckpt`` that ``--ckpt_path last`` then loads. Here
the temporary file lives next to the checkpoint, is fsync'ed, and replaces it with one ``os.replace``.

A full disk during a save (torch reports it as ``[enforce fail at inline_container.cc] unexpected pos``) is one
line naming the checkpoint (``<path>: no space left on device; the previous checkpoint is kept``), and no
temporary file is left. Loading goes through :func:`wfm.checkpoint.load_torch_file`: random bytes, an empty
or truncated file, a folder are one line naming the file, not a traceback from torch's parser.
"""

from __future__ import annotations

from typing import Any

import torch
from lightning.fabric.utilities.cloud_io import _is_local_file_protocol
from lightning.pytorch.plugins.io import TorchCheckpointIO

from wfm.atomic import atomic_file
from wfm.checkpoint import read_checkpoint


class AtomicCheckpointIO(TorchCheckpointIO):
    """``TorchCheckpointIO`` whose local saves are atomic and whose local loads never end in a parser's
    traceback (remote URLs keep Lightning's fsspec path)."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        if storage_options is not None or not _is_local_file_protocol(path):
            super().save_checkpoint(checkpoint, path, storage_options)
            return
        with atomic_file(path, what="checkpoint") as f:
            torch.save(checkpoint, f)

    def load_checkpoint(self, path: Any, map_location: Any = lambda storage, loc: storage,
                        weights_only: bool | None = None) -> dict[str, Any]:
        if weights_only is False or not _is_local_file_protocol(path):  # asked for a trusted full unpickle
            return super().load_checkpoint(path, map_location, weights_only)
        return dict(read_checkpoint(path, map_location))
