"""What a downstream dataset asks a model to predict: the contract between DataModules, probes and heads."""

from __future__ import annotations

from dataclasses import dataclass, field


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
    """

    name: str
    target: str
    kind: str
    num_classes: int | None = None
    class_names: tuple[str, ...] = field(default_factory=tuple)
    units: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("classification", "regression"):
            raise ValueError(f"task {self.name!r}: kind must be 'classification' or 'regression', got {self.kind!r}")
        if self.kind == "classification" and (self.num_classes is None or self.num_classes < 2):
            raise ValueError(f"task {self.name!r}: classification needs num_classes >= 2, got {self.num_classes}")

    @property
    def metric(self) -> str:
        """Name of the headline metric: mean per-class accuracy (%) or mean error (in ``units``)."""
        return "acc" if self.kind == "classification" else "error"
