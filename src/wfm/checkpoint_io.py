"""``AtomicCheckpointIO``: checkpoints appear complete or not at all, whatever kills the process mid-save.

Lightning's own save writes into a temporary file in the system temp directory and then *moves* it; when that
directory is on another filesystem than the run (tmpfs vs. a cluster's shared disk) the move is a copy into the
final path, and a kill during it leaves a truncated ``last.ckpt`` that ``--ckpt_path last`` then loads. Here
the temporary file lives next to the checkpoint, is fsync'ed, and replaces it with one ``os.replace``.
"""

from __future__ import annotations

from typing import Any

import torch
from lightning.fabric.utilities.cloud_io import _is_local_file_protocol
from lightning.pytorch.plugins.io import TorchCheckpointIO

from wfm.atomic import atomic_file


class AtomicCheckpointIO(TorchCheckpointIO):
    """``TorchCheckpointIO`` whose local saves are atomic (remote URLs keep Lightning's fsspec path)."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        if storage_options is not None or not _is_local_file_protocol(path):
            super().save_checkpoint(checkpoint, path, storage_options)
            return
        with atomic_file(path) as f:
            torch.save(checkpoint, f)
