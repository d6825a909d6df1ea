"""What a downstream dataset asks a model to predict: the contract between DataModules, probes and heads.

A :class:`TaskInfo` is read from the data (a file's ``labels`` attribute and label shapes, see
:meth:`TaskInfo.from_labels`), never restated in configs: a head is sized from it at setup.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from math import prod
from typing import Any, Literal

TaskKind = Literal["classification", "regression"]


@dataclass(frozen=True)
class TaskInfo:
    """A downstream task.

    Attributes:
        name: short task name used in tables and metric keys (``rfs``, ``positioning``, ``beam``, ``los``...).
        target: key of the label in a batch dict (``label``, ``position``, ``beam``, ``los``...).
        kind: ``classification`` (integer labels in ``[0, num_classes)``) or ``regression`` (float vectors).
        num_classes: number of classes for classification, else None.
        class_names: optional names of the classes.
        units: unit of regression targets (``m`` for positions), else None.
        dim: size of a regression target (3 for a position), None when unknown or for classification.
        supervised: the headline metric (:attr:`metric`) a supervised model reaches on the task, when the file's
            ``labels`` record it (the probe report's ``gap closed`` reference), else None.
        stratify: the regression label (e.g. ``snr_db``) whose bins the probe report also gives the accuracy
            of a classification task over (accuracy per SNR bin), when the file's ``labels`` name one.
    """

    name: str
    target: str
    kind: TaskKind
    num_classes: int | None = None
    class_names: tuple[str, ...] = field(default_factory=tuple)
    units: str | None = None
    dim: int | None = None
    supervised: float | None = None
    stratify: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("classification", "regression"):
            raise ValueError(f"task {self.name!r}: kind must be 'classification' or 'regression', got {self.kind!r}")
        if self.kind == "classification" and (self.num_classes is None or self.num_classes < 2):
            raise ValueError(f"task {self.name!r}: classification needs num_classes >= 2, got {self.num_classes}")

    @classmethod
    def from_labels(cls, name: str, target: str, info: Mapping[str, Any],
                    shape: Sequence[int] | None = None) -> TaskInfo:
        """The task of label ``target`` from its entry ``info`` of a file's ``labels`` attribute (``{"kind",
        "num_classes", "class_names", "units"}``) and its per-sample ``shape`` (the regression target size)."""
        kind = info["kind"]
        dim = int(prod(shape)) if kind == "regression" and shape is not None else None
        supervised = info.get("supervised")
        return cls(name=name, target=target, kind=kind, num_classes=info.get("num_classes"),
                   class_names=tuple(info.get("class_names") or ()), units=info.get("units"), dim=dim,
                   supervised=None if supervised is None else float(supervised),
                   stratify=info.get("stratify") if kind == "classification" else None)

    @property
    def metric(self) -> str:
        """Name of the headline metric: mean per-class accuracy (%) or mean error (in ``units``)."""
        return "acc" if self.kind == "classification" else "error"
