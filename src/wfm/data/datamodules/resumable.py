"""A DataLoader that Lightning resumes mid-epoch without reading the interrupted epoch's batches again.

Lightning saves ``state_dict()`` of a train loader that has one and hands it back on restart. The state is the
number of batches of the current epoch the fit loop has finished (the loop's own counter, so the fetcher's
one-batch look-ahead does not count); the next ``__iter__`` skips that many batches of the epoch's order,
which the samplers make a pure function of ``(seed, epoch)``. Skipping happens on the batch sampler, so no
sample is loaded for nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch.utils.data import DataLoader


class ResumableDataLoader(DataLoader):
    """DataLoader with a mid-epoch resume point; ``progress`` returns the batches of this epoch finished."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.progress: Callable[[], int] | None = None
        self._skip = 0

    def state_dict(self) -> dict[str, int]:
        return {"batches_done": int(self.progress()) if self.progress is not None else 0}

    def load_state_dict(self, state: dict[str, int]) -> None:
        # a whole epoch done means the next one starts from its beginning
        self._skip = int(state.get("batches_done", 0)) % max(len(self), 1)

    def __iter__(self) -> Any:
        skip, self._skip = self._skip, 0
        if not skip:
            return super().__iter__()
        batches = list(self.batch_sampler)[skip:]  # indices only: cheap
        return iter(DataLoader(self.dataset, batch_sampler=batches, collate_fn=self.collate_fn,
                               num_workers=self.num_workers, pin_memory=self.pin_memory))
