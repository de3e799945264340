"""Experiment configs: `dnd run CONFIG.yaml` (`ExperimentConfig`, read by `load_config`) and
`dnd quickstart` (`QuickstartConfig`). Plain dataclasses without torch, so the command line and
`dnd run --check` read them without loading the deep-learning stack.

A YAML file names only what differs from the defaults; each section overrides the typed stage
config of the same name (`dnd.experiment.stages.stage_configs`), and an unknown key is an error
naming it, so a typo never falls back to a default silently.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dnd.config_check import apply_overrides, check_types, setting
from dnd.data.config import CORPUS_SOURCES, CorpusConfig
from dnd.errors import UnknownNameError, UsageError, UserError
from dnd.models.config import READOUTS, Method

# the methods an experiment compares (`dnd.models.config.Method` values)
METHODS = tuple(m.value for m in (Method.RANDINIT, Method.INFOMAX, Method.DND_GRAPH, Method.DND_NODE))


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
            raise UsageError(f"unknown method(s) {unknown}; choose from {', '.join(METHODS)}")
        if not re.fullmatch(r"[A-Za-z0-9._-]+", self.name):
            raise UsageError(f"experiment name {self.name!r}: use letters, digits, '.', '_', '-'")


_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _expand(value: Any, where: str) -> Any:
    """${VAR} in strings from the environment; an unset variable is an error naming it."""
    if isinstance(value, str):
        def sub(m: re.Match) -> str:
            if m.group(1) not in os.environ:
                raise UsageError(f"{where}: environment variable {m.group(1)} is not set "
                                 f"(e.g. export {m.group(1)}=/path/to/data)")
            return os.environ[m.group(1)]
        return _VAR.sub(sub, value)
    if isinstance(value, list):
        return [_expand(v, where) for v in value]
    if isinstance(value, dict):
        return {k: _expand(v, where) for k, v in value.items()}
    return value


def load_config(path: str | Path) -> ExperimentConfig:
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"{path}: experiment config not found")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise UsageError(f"{path}: not a readable YAML file: {err}") from None
    if not isinstance(raw, dict) or "name" not in raw:
        raise UsageError(f"{path}: expected a mapping with at least 'name'")
    raw = _expand(raw, str(path))
    if not isinstance(raw["name"], str):
        raise UsageError(f"{path}: name: expected a string, got {raw['name']!r}")
    try:
        base = ExperimentConfig(name=raw["name"])
        cfg = apply_overrides(base, {k: v for k, v in raw.items() if k != "name"}, str(path))
    except UsageError:
        raise
    except (ValueError, TypeError) as err:
        raise UsageError(f"{path}: {err}") from None
    validate_experiment(cfg, str(path))
    return cfg


def validate_experiment(cfg: ExperimentConfig, where: str) -> None:
    """Everything about the config that can be known before running: types, task names and their
    options, readouts, and that the named files exist. A bad value must stop `--check`, not the
    run after pretraining has spent its hours."""
    from dnd.data.tasks import check_task_options, task_loader

    check_types(cfg, where)
    all_tasks = [*cfg.tasks, *cfg.label_efficiency.tasks]
    for task in all_tasks:
        try:
            task_loader(task)
        except UnknownNameError as err:
            raise UsageError(f"{where}: tasks: {err}") from None
        try:
            check_task_options(task, task_options(cfg, task))
        except UsageError as err:
            raise UsageError(f"{where}: task_options: {err}") from None
    unknown_options = sorted(set(cfg.task_options) - {"*", *all_tasks})
    if unknown_options:
        raise UsageError(f"{where}: task_options: {', '.join(unknown_options)} is not among the tasks")
    for readout in [*cfg.readouts, cfg.label_efficiency.readout]:
        if readout not in READOUTS:
            raise UsageError(f"{where}: readouts: unknown readout {readout!r}; choose from {', '.join(READOUTS)}")
    if cfg.corpus.source != "embedded":
        if cfg.corpus.source not in CORPUS_SOURCES:
            raise UsageError(f"{where}: corpus.source: unknown source {cfg.corpus.source!r}; choose from "
                             f"{', '.join(CORPUS_SOURCES)}")
    if cfg.workers < 1:
        raise UsageError(f"{where}: workers: must be at least 1, got {cfg.workers}")


def check_experiment_files(cfg: ExperimentConfig, where: str) -> None:
    """The files and folders the config names exist (checked by `dnd run` and `--check`, not by
    `load_config`, so a config can be inspected on a machine without the data)."""
    if cfg.corpus.source != "embedded" and (not cfg.corpus.path or not Path(cfg.corpus.path).is_file()):
        raise UsageError(f"{where}: corpus.path: file {cfg.corpus.path!r} not found")
    if cfg.data_root is not None and not Path(cfg.data_root).is_dir():
        raise UsageError(f"{where}: data_root: folder {cfg.data_root} not found")
    from dnd.data.tasks import task_loader

    from dnd.data.tasks.csv_task import check_csv_header

    for task in [*cfg.tasks, *cfg.label_efficiency.tasks]:
        if task_loader(task).__name__ == "load_csv_task":
            if not Path(task).is_file():
                raise UsageError(f"{where}: tasks: CSV file {task} not found")
            opts = task_options(cfg, task)
            try:
                check_csv_header(task, opts.get("smiles_column", "smiles"), opts.get("target_columns"))
            except UserError as err:
                raise UsageError(f"{where}: tasks: {err} (in task_options)") from None


def task_options(cfg: ExperimentConfig, task: str) -> dict[str, Any]:
    """`load_task` options of `task`: the config's "*" entry, then the task's own."""
    return cfg.task_options.get("*", {}) | cfg.task_options.get(task, {})


@dataclass
class QuickstartConfig:
    """`dnd quickstart`'s own settings; its pipeline is the shipped experiment config
    `dnd/experiment/quickstart.yaml` (copy it and `dnd run` the copy to change sizes)."""

    shipped_epochs: int | None = setting(None, help="chemprop epochs of the shipped-model path (default: the "
                                         "recommended recipe's; 0 skips it)")
    pipeline: bool = setting(True, help="then the whole pipeline from scratch (off: stop after the shipped model)")
