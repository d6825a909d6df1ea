"""``ProbeSuite``: several downstream DataModules behind one DataModule, so one ``wfm test`` probes them all.

Each member obeys the downstream contract (``.task``, ``.probe_dataloader()``, ``.split_indices(seed)``).
The suite's ``test_dataloader()`` returns the members' probe loaders in order (all samples, fixed order),
which is what :class:`~wfm.eval.evaluator.LinearProbeEvaluator` needs: row ``i`` of the features it collects
from loader ``j`` is sample ``i`` of task ``j``, the index space of ``split_indices``.
"""

from __future__ import annotations

import inspect
from typing import Any

from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader

from wfm.choices import check_loader
from wfm.data.datamodules.downstream import DownstreamDataModule
from wfm.data.task import TaskInfo

REQUIRED = ("task", "probe_dataloader", "split_indices")
_MISSING = object()


def check_downstream(dm: Any, where: str = "task") -> None:
    """Raise a clear error if ``dm`` lacks part of the downstream DataModule contract. The attributes are looked up
    without running them (``inspect.getattr_static``): ``task`` is a property that opens the file, and the error a
    bad file raises there (``<file>: ...``) must reach the user as itself, not as "not a downstream DataModule"
    (``hasattr`` would swallow an AttributeError raised inside it)."""
    missing = [a for a in REQUIRED if inspect.getattr_static(dm, a, _MISSING) is _MISSING]
    if missing:
        raise TypeError(f"{where} ({type(dm).__name__}) is not a downstream DataModule: it lacks {missing}")


class ProbeSuite(LightningDataModule):
    """Downstream tasks probed together — or one task named by plain arguments.

    Give either ``tasks`` (downstream DataModules, each with ``.task``, ``.probe_dataloader()``,
    ``.split_indices(seed)``) or ``dataset`` (a wfm HDF5 file or a built-in name), which builds one
    :class:`~wfm.data.datamodules.DownstreamDataModule` from the remaining arguments — so probing a file of
    one's own is ``--data.init_args.dataset my.h5`` on the command line, no YAML to write.

    Args:
        tasks: downstream DataModules.
        dataset, target, n, size, batch_size, num_workers, task_name: the one task (see
            ``DownstreamDataModule``); ``target`` may stay None for a file with a single label.
    """

    def __init__(
        self,
        tasks: list[LightningDataModule] | None = None,
        dataset: str | None = None,
        target: str | None = None,
        n: int = 2400,
        size: int | tuple[int, int] = 112,
        batch_size: int = 128,
        num_workers: int = 0,
        task_name: str | None = None,
    ) -> None:
        super().__init__()
        check_loader(batch_size, num_workers)
        if (tasks is None) == (dataset is None):
            raise ValueError("ProbeSuite: give either tasks (a list of DataModules) or dataset (one file or "
                             "built-in name)")
        if dataset is not None:
            tasks = [DownstreamDataModule(dataset, target=target, n=n, size=size, batch_size=batch_size,
                                          num_workers=num_workers, task_name=task_name)]
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
            # a member's size mismatch is reported after the check that the trainer's encoder takes its modality
            # at all (the members have no trainer of their own: this suite's is passed)
            check = getattr(t, "check_size", None)
            if callable(check):
                check(getattr(self, "trainer", None))
            t.setup(stage)

    def test_dataloader(self) -> list[DataLoader]:
        return [t.probe_dataloader() for t in self.tasks]

    def predict_dataloader(self) -> list[DataLoader]:
        return self.test_dataloader()
