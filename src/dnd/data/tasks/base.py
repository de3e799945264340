"""Downstream-task description shared by every loader, the finetuner and the predictor.

Records keep labels in their original units; `TaskSpec` carries the per-target mean/std fitted on
the training split only, so the finetuner standardises for the loss and undoes it for metrics, and
a checkpoint that stores `spec.to_dict()` can map predictions back to units on its own.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import numpy as np
import torch
from torch_geometric.data import Data

TASK_TYPES = ("regression", "classification")
METRICS = ("rmse", "rocauc", "mae")


@dataclass
class TaskSpec:
    name: str                      # "ogbg-molesol", "bp", "qm9-gap", ...
    task_type: str                 # "regression" | "classification"
    metric: str                    # "rmse" | "rocauc" | "mae"  (ogb tasks: from OGB metadata)
    num_tasks: int
    target_names: list[str]
    standardize: bool              # regression targets standardised on train
    mean: list[float] | None       # per-target train mean/std when standardize
    std: list[float] | None
    unit: str = ""

    def __post_init__(self) -> None:
        if self.task_type not in TASK_TYPES:
            raise ValueError(f"task_type must be one of {TASK_TYPES}, got {self.task_type!r}")
        if self.metric not in METRICS:
            raise ValueError(f"metric must be one of {METRICS}, got {self.metric!r}")
        if len(self.target_names) != self.num_tasks:
            raise ValueError(f"{self.num_tasks} tasks but {len(self.target_names)} target names")
        if self.standardize and self.task_type != "regression":
            raise ValueError("only regression targets can be standardised")
        if self.standardize and self.mean is not None:
            if len(self.mean) != self.num_tasks or len(self.std or []) != self.num_tasks:
                raise ValueError("mean/std must have one entry per task")

    # --- standardisation -------------------------------------------------------------------
    def _moments(self, like):
        if not self.standardize:
            return None
        if self.mean is None or self.std is None:
            raise ValueError(f"task {self.name!r}: standardize=True but mean/std were never fitted")
        if isinstance(like, torch.Tensor):
            return (torch.tensor(self.mean, dtype=like.dtype, device=like.device),
                    torch.tensor(self.std, dtype=like.dtype, device=like.device))
        return np.asarray(self.mean), np.asarray(self.std)

    def standardize_y(self, y):
        """Original units -> training scale ([..., num_tasks] tensor or array; identity if off)."""
        m = self._moments(y)
        return y if m is None else (y - m[0]) / m[1]

    def destandardize_y(self, y):
        """Training scale -> original units (inverse of `standardize_y`)."""
        m = self._moments(y)
        return y if m is None else y * m[1] + m[0]

    # --- checkpoint round trip (plain types only: checkpoints load with weights_only=True) ---
    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["target_names"] = [str(t) for t in self.target_names]
        for key in ("mean", "std"):
            if d[key] is not None:
                d[key] = [float(v) for v in d[key]]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TaskSpec":
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in d.items() if k in known})


def fit_standardization(records: Sequence[Data], num_tasks: int) -> tuple[list[float], list[float]]:
    """Per-target mean and std of the labels of `records` (the training split), NaN ignored.

    A target with zero spread (or a single value) gets std 1 so that standardising never divides
    by zero; a target with no finite label at all cannot be standardised and is an error.
    """
    if not records:
        raise ValueError("cannot fit standardisation on an empty training split")
    y = torch.cat([r.y.reshape(1, num_tasks) for r in records]).double().numpy()
    finite = np.isfinite(y)
    if not finite.any(axis=0).all():
        missing = np.flatnonzero(~finite.any(axis=0)).tolist()
        raise ValueError(f"targets {missing} have no finite label in the training split")
    mean = np.nanmean(y, axis=0)
    std = np.nanstd(y, axis=0)
    std = np.where(std > 0, std, 1.0)
    return mean.tolist(), std.tolist()


@dataclass
class TaskData:
    spec: TaskSpec
    train: list[Data]
    valid: list[Data]
    test: list[Data]
    # What was skipped while building the task (dnd.data.report.Report) and where it came from.
    report: Any = None
    source: dict[str, Any] = field(default_factory=dict)

    @property
    def splits(self) -> dict[str, list[Data]]:
        return {"train": self.train, "valid": self.valid, "test": self.test}

    def sizes(self) -> dict[str, int]:
        return {k: len(v) for k, v in self.splits.items()}

    def labels(self, split: str) -> np.ndarray:
        """[n, num_tasks] float array of the raw labels of one split (NaN = missing)."""
        recs = self.splits[split]
        if not recs:
            return np.zeros((0, self.spec.num_tasks), dtype=np.float32)
        return torch.cat([r.y.reshape(1, -1) for r in recs]).numpy()
