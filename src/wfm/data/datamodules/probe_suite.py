"""``ProbeSuite``: several downstream DataModules behind one DataModule, so one ``wfm test`` probes them all.

Each member obeys the downstream contract (``.task``, ``.probe_dataloader()``, ``.split_indices(seed)``).
The suite's ``test_dataloader()`` returns the members' probe loaders in order (all samples, fixed order),
which is what :class:`~wfm.eval.evaluator.LinearProbeEvaluator` needs: row ``i`` of the features it collects
from loader ``j`` is sample ``i`` of task ``j``, the index space of ``split_indices``.
"""

from __future__ import annotations

from typing import Any

from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader

from wfm.data.task import TaskInfo

REQUIRED = ("task", "probe_dataloader", "split_indices")


def check_downstream(dm: Any, where: str = "task") -> None:
    """Raise a clear error if ``dm`` lacks part of the downstream DataModule contract."""
    missing = [a for a in REQUIRED if not hasattr(dm, a)]
    if missing:
        raise TypeError(f"{where} ({type(dm).__name__}) is not a downstream DataModule: it lacks {missing}")


class ProbeSuite(LightningDataModule):
    """Downstream tasks probed together.

    Args:
        tasks: downstream DataModules, each with ``.task``, ``.probe_dataloader()``, ``.split_indices(seed)``.
    """

    def __init__(self, tasks: list[LightningDataModule]) -> None:
        super().__init__()
        if not tasks:
            raise ValueError("ProbeSuite needs at least one downstream task")
        for i, dm in enumerate(tasks):
            check_downstream(dm, f"tasks[{i}]")
        self.tasks = list(tasks)
        names = [t.task.name for t in self.tasks]
        if len(set(names)) != len(names):
            raise ValueError(f"ProbeSuite: task names must be unique, got {names}")

    @property
    def task_infos(self) -> list[TaskInfo]:
        return [t.task for t in self.tasks]

    def prepare_data(self) -> None:
        for t in self.tasks:
            t.prepare_data()

    def setup(self, stage: str | None = None) -> None:
        for t in self.tasks:
            t.setup(stage)

    def test_dataloader(self) -> list[DataLoader]:
        return [t.probe_dataloader() for t in self.tasks]

    def predict_dataloader(self) -> list[DataLoader]:
        return self.test_dataloader()
