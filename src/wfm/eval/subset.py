"""``ProbeSubset``: a fixed random subset of a downstream task's probe samples, probed like the task itself.

The periodic probe during pretraining looks at the same few samples at every epoch, so it stays cheap and its
curve compares like with like. The subset keeps the task's own split, restricted to the subset's samples and
re-indexed into its rows, so :func:`wfm.eval.report.task_features` and :func:`wfm.eval.report.probe_rows`
take it as they take the task.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from torch.utils.data import DataLoader, Subset


class ProbeSubset:
    """At most ``max_samples`` of ``dm``'s probe samples, drawn once with ``seed`` (all of them if fewer).

    Args:
        dm: a set-up downstream DataModule (``.task``, ``.probe_dataloader()``, ``.split_indices(seed)``).
        max_samples: size of the subset; None keeps every sample.
        seed: seed of the draw.

    Attributes:
        task: the task's :class:`~wfm.data.task.TaskInfo`.
        num_samples: how many probe samples the whole task has.
        indices: the subset's sample indices into the task's probe loader, sorted; None when it holds all.
    """

    def __init__(self, dm: Any, max_samples: int | None, seed: int = 0) -> None:
        loader = dm.probe_dataloader()
        self.dm = dm
        self.task = dm.task
        self.num_samples = n = len(loader.dataset)
        self.indices: np.ndarray | None = None
        self._loader = loader
        self._pos: np.ndarray | None = None
        if max_samples is None or n <= max_samples:
            return
        self.indices = np.sort(np.random.default_rng(seed).choice(n, size=max_samples, replace=False))
        self._loader = DataLoader(
            Subset(loader.dataset, self.indices.tolist()),
            batch_size=loader.batch_size or 64,
            shuffle=False,
            num_workers=loader.num_workers,
            collate_fn=loader.collate_fn,
            pin_memory=loader.pin_memory,
        )
        # task sample index -> subset row (-1: not in the subset)
        self._pos = np.full(n, -1, dtype=np.int64)
        self._pos[self.indices] = np.arange(len(self.indices))

    def probe_dataloader(self) -> DataLoader:
        """The subset's samples in order (the task's own probe loader when the subset holds all)."""
        return self._loader

    def split_indices(self, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """The task's split of ``seed`` restricted to the subset, as subset rows."""
        tr, te = self.dm.split_indices(seed)
        if self._pos is None:
            return tr, te
        tr, te = self._pos[np.asarray(tr)], self._pos[np.asarray(te)]
        return tr[tr >= 0], te[te >= 0]
