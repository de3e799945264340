"""Experiment configs: `dnd run CONFIG.yaml` (`ExperimentConfig`, read by `load_config`) and
`dnd quickstart` (`QuickstartConfig`). Plain dataclasses without torch, so the command line and
`dnd run --check` read them without loading the deep-learning stack.

A YAML file names only what differs from the defaults; each section overrides the typed stage
config of the same name (`dnd.experiment.stages.stage_configs`), and an unknown key is an error
naming it, so a typo never falls back to a default silently.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from dnd.data.config import CorpusConfig

METHODS = ("randinit", "infomax", "dnd-graph", "dnd-node")
METHOD_LABELS = {"randinit": "RandInit", "infomax": "3DInfomax", "dnd-graph": "D&D-GRAPH", "dnd-node": "D&D-NODE"}


@dataclass
class LabelEfficiencyConfig:
    tasks: list[str] = field(default_factory=list)
    methods: list[str] = field(default_factory=lambda: ["randinit", "dnd-node"])
    fractions: list[float] = field(default_factory=lambda: [0.1, 0.25, 0.5, 1.0])
    readout: str = "mp"


@dataclass
class AttentionConfig:
    enabled: bool = True
    molecules: int = 200        # validation molecules of the corpus to average over


@dataclass
class ExperimentConfig:
    name: str
    corpus: CorpusConfig = field(default_factory=CorpusConfig)
    # sections below are overrides of the stage presets/configs (see `stages.stage_configs`)
    denoise: dict[str, Any] = field(default_factory=dict)
    student: dict[str, Any] = field(default_factory=lambda: {"encoder": "tokengt", "preset": "cpu-small"})
    distill: dict[str, Any] = field(default_factory=dict)
    infomax: dict[str, Any] = field(default_factory=dict)
    finetune: dict[str, Any] = field(default_factory=dict)
    tasks: list[str] = field(default_factory=list)
    data_root: str | None = None
    # load_task options per task name ("*": every task), e.g. {"*": {"train_offset": 50000}}
    task_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    methods: list[str] = field(default_factory=lambda: list(METHODS))
    readouts: list[str] = field(default_factory=lambda: ["mp", "vn"])
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    label_efficiency: LabelEfficiencyConfig = field(default_factory=LabelEfficiencyConfig)
    attention: AttentionConfig = field(default_factory=AttentionConfig)
    results_dir: str = "results"
    work_dir: str = "runs"
    workers: int = 1            # finetuning processes in parallel (each with its share of threads)

    def __post_init__(self) -> None:
        unknown = [m for m in [*self.methods, *self.label_efficiency.methods] if m not in METHODS]
        if unknown:
            raise ValueError(f"unknown method(s) {unknown}; choose from {', '.join(METHODS)}")
        if not re.fullmatch(r"[A-Za-z0-9._-]+", self.name):
            raise ValueError(f"experiment name {self.name!r}: use letters, digits, '.', '_', '-'")


_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _expand(value: Any, where: str) -> Any:
    """${VAR} in strings from the environment; an unset variable is an error naming it."""
    if isinstance(value, str):
        def sub(m: re.Match) -> str:
            if m.group(1) not in os.environ:
                raise ValueError(f"{where}: environment variable {m.group(1)} is not set "
                                 f"(e.g. export {m.group(1)}=/path/to/data)")
            return os.environ[m.group(1)]
        return _VAR.sub(sub, value)
    if isinstance(value, list):
        return [_expand(v, where) for v in value]
    if isinstance(value, dict):
        return {k: _expand(v, where) for k, v in value.items()}
    return value


def apply_overrides(obj: Any, overrides: dict[str, Any], where: str = "config") -> Any:
    """A copy of dataclass `obj` with `overrides` applied; nested dataclasses take nested dicts.
    An unknown key is an error naming it (a typo must not silently fall back to a default)."""
    names = {f.name: f for f in dataclasses.fields(obj)}
    changes = {}
    for key, value in overrides.items():
        if key not in names:
            raise ValueError(f"{where}: unknown setting {key!r}; known: {', '.join(names)}")
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current) and isinstance(value, dict):
            value = apply_overrides(current, value, f"{where}.{key}")
        changes[key] = value
    return replace(obj, **changes)


def load_config(path: str | Path) -> ExperimentConfig:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: experiment config not found")
    raw = yaml.safe_load(path.read_text()) or {}
    if not isinstance(raw, dict) or "name" not in raw:
        raise ValueError(f"{path}: expected a mapping with at least 'name'")
    raw = _expand(raw, str(path))
    base = ExperimentConfig(name=raw["name"])
    return apply_overrides(base, {k: v for k, v in raw.items() if k != "name"}, str(path))


@dataclass
class QuickstartConfig:
    shipped_epochs: int = 30       # finetuning the shipped D-MPNN (0: skip that path)
    pipeline: bool = True          # then the whole pipeline from scratch
    molecules: int | None = None   # embedded QM9 molecules for both pretraining stages (None: all)
    denoise_epochs: int = 3
    distill_epochs: int = 10
    finetune_epochs: int = 30
    finetune_lr: float = 3e-3      # above Table 5c's 5e-4: a tiny model and 30 instead of 100 epochs
    finetune_batch_size: int = 64
    seed: int = 0
