"""`dnd run CONFIG.yaml`: one experiment end to end, as the paper runs it.

denoise (teacher) -> distill (D&D-GRAPH, D&D-NODE) and 3DInfomax (students) -> finetune every
method x readout x task x seed (+ label-efficiency fractions) -> tables, plots, analyses.

Outputs: `<results>/<name>/` holds what is committed (config.yaml as run, summary.md/csv,
results.csv, plots, analyses); `<work>/<name>/` holds checkpoints and logs (large, not committed).
Every stage writes `stage.json` with a fingerprint of its settings and of the stages it builds on;
a stage whose fingerprint matches and whose output exists is reused, so an interrupted run
continues where it stopped and a changed setting re-runs only what depends on it.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import logging
import os
import re
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import pandas as pd
import yaml

from dnd.config_check import check_types, check_value, field_types
from dnd.errors import UnknownNameError, UsageError, UserError

log = logging.getLogger(__name__)

METHODS = ("randinit", "infomax", "dnd-graph", "dnd-node")
METHOD_LABELS = {"randinit": "RandInit", "infomax": "3DInfomax", "dnd-graph": "D&D-GRAPH", "dnd-node": "D&D-NODE"}


@dataclass
class CorpusConfig:
    """Pretraining corpus: a paired 2D/3D source of the data layer, or the embedded QM9 subset."""

    source: str = "embedded"
    path: str | None = None
    limit: int | None = None          # read at most this many records of the file, in file order
    sample: int | None = None         # then keep a seeded random subset of this size
    seed: int = 0
    # QM9 only: keep the molecules of 3DInfomax's training pool slice [start, stop) (its
    # pretraining subset is [0, 50000]; finetuning then uses train_offset=50000)
    qm9_pool: list[int] | None = None
    cache_dir: str | None = None
    # conformer atoms the teacher sees (dnd.data.paired.HYDROGENS): "none" heavy atoms only (the
    # paper's PCQM4Mv2 teacher: OGB's SDF has no hydrogens), "dft" the source's hydrogens, "rdkit"
    # also places hydrogens a heavy-atom SDF lacks
    hydrogens: str = "dft"
    num_conformers: int = 1           # smiles source: RDKit conformers per molecule
    conformer_seed: int = 0           # smiles source: embedding seed


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
    # sections below are overrides of the stage presets/configs (see `_stage_configs`)
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


# ------------------------------------------------------------------------------ config files

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


def apply_overrides(obj: Any, overrides: dict[str, Any], where: str = "config") -> Any:
    """A copy of dataclass `obj` with `overrides` applied; nested dataclasses take nested dicts.
    An unknown key is an error naming it (a typo must not silently fall back to a default)."""
    if not isinstance(overrides, dict):
        raise UsageError(f"{where}: expected a mapping of settings, got {overrides!r}")
    names = {f.name: f for f in dataclasses.fields(obj)}
    types_ = field_types(type(obj))
    changes = {}
    for key, value in overrides.items():
        if key not in names:
            raise UsageError(f"{where}: unknown setting {key!r}; known: {', '.join(names)}")
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current) and isinstance(value, dict):
            value = apply_overrides(current, value, f"{where}.{key}")
        check_value(value, types_[key], f"{where}: {key}")
        changes[key] = value
    return replace(obj, **changes)


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
    from dnd.models.readout import READOUTS

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
        from dnd.data.paired import SOURCES

        if cfg.corpus.source not in SOURCES:
            raise UsageError(f"{where}: corpus.source: unknown source {cfg.corpus.source!r}; choose from "
                             f"embedded, {', '.join(SOURCES)}")
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


def fingerprint(*parts: Any) -> str:
    blob = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


# ------------------------------------------------------------------------------ stages

class Stage:
    """A unit of work with an output file; reused when stage.json's fingerprint matches."""

    def __init__(self, folder: Path, key: str, output: Path):
        self.folder, self.key, self.output = folder, key, output

    def done(self) -> bool:
        marker = self.folder / "stage.json"
        if not (marker.is_file() and self.output.exists()):
            return False
        try:
            return json.loads(marker.read_text()).get("fingerprint") == self.key
        except json.JSONDecodeError:
            return False

    def run(self, label: str, work: Callable[[bool], Any]) -> Path:
        """Runs `work(resume)` unless done. An interrupted run with the same fingerprint resumes
        from its last checkpoint; one with other settings starts afresh."""
        if self.done():
            print(f"[reuse] {label}: {self.output}", flush=True)
            return self.output
        print(f"[run]   {label} -> {self.folder}", flush=True)
        t0 = time.perf_counter()
        self.folder.mkdir(parents=True, exist_ok=True)
        pending = self.folder / "pending.json"
        same = pending.is_file() and json.loads(pending.read_text()).get("fingerprint") == self.key
        if not same:
            shutil.rmtree(self.folder / "checkpoints", ignore_errors=True)
        pending.write_text(json.dumps({"fingerprint": self.key}))
        work(same and any((self.folder / "checkpoints").glob("*.ckpt")))  # resume_path picks a loadable one
        (self.folder / "stage.json").write_text(json.dumps(
            {"fingerprint": self.key, "wall_s": round(time.perf_counter() - t0, 1)}, indent=2))
        pending.unlink()
        return self.output


def _stage_configs(cfg: ExperimentConfig):
    """Typed stage configs from the presets plus the experiment's overrides."""
    from dnd.training.denoise import DenoiseConfig, preset as denoise_preset
    from dnd.training.distill import DistillRunConfig
    from dnd.training.finetune import FinetuneConfig
    from dnd.training.infomax import InfomaxRunConfig
    from dnd.training.pretrain import StudentSpec

    d = dict(cfg.denoise)
    denoise: DenoiseConfig = apply_overrides(denoise_preset(d.pop("preset", "cpu-small")), d, "denoise")
    student = apply_overrides(StudentSpec(), cfg.student, "student")
    distill = apply_overrides(DistillRunConfig(student=student), cfg.distill, "distill")
    infomax = apply_overrides(InfomaxRunConfig(student=student), cfg.infomax, "infomax")
    # RandInit is built from the students' spec, overrides included: one architecture per comparison
    finetune = apply_overrides(FinetuneConfig(encoder=student.encoder, preset=student.preset,
                                              overrides=dict(student.overrides)), cfg.finetune, "finetune")
    for name, stage in (("denoise", denoise), ("distill", distill), ("infomax", infomax), ("finetune", finetune)):
        check_types(stage, name)
    return denoise, distill, infomax, finetune


def load_corpus(c: CorpusConfig):
    """The corpus records. `sample` draws a random subset because files such as QM9 are ordered
    by molecule size: their first N records are not representative."""
    from dnd.training.denoise import load_records

    records = load_records(c.source, c.path, c.limit, c.cache_dir, c.hydrogens, c.num_conformers,
                           c.conformer_seed)
    if c.qm9_pool is not None:
        records = _qm9_pool_subset(records, c.path, *c.qm9_pool)
    if c.sample is not None and c.sample < len(records):
        import numpy as np

        keep = np.sort(np.random.default_rng(c.seed).choice(len(records), c.sample, replace=False))
        records = [records[i] for i in keep]
    return records


def _qm9_pool_subset(records, path: str, start: int, stop: int):
    from dnd.data.tasks.build import read_table
    from dnd.data.tasks.qm9 import qm9_split

    index = read_table(path, ["Index"], usecols=["Index"])["Index"].sort_values().to_numpy()
    wanted = set(index[qm9_split(len(index), train_size=stop - start, train_offset=start)["train"]].tolist())
    return [r for r in records if int(str(r.mol_id).rsplit("_", 1)[1]) in wanted]


def pretrain(cfg: ExperimentConfig, work: Path) -> dict[str, Path | None]:
    """Teacher and the students the methods need; returns method -> student checkpoint (None for
    RandInit) plus 'teacher'."""
    from dnd.objectives.distill import DistillConfig
    from dnd.training.denoise import run_denoise
    from dnd.training.distill import run_distill
    from dnd.training.infomax import run_infomax

    denoise, distill, infomax, _ = _stage_configs(cfg)
    methods = set(cfg.methods) | set(cfg.label_efficiency.methods)
    records = None

    def corpus():
        nonlocal records
        if records is None:
            records = load_corpus(cfg.corpus)
            print(f"        corpus: {len(records)} paired molecules ({cfg.corpus.source})", flush=True)
        return records

    corpus_key = fingerprint(dataclasses.asdict(cfg.corpus))
    out: dict[str, Path | None] = {"randinit": None}
    needs_teacher = bool(methods & {"dnd-graph", "dnd-node"})
    teacher = None
    if needs_teacher:
        folder = work / "denoise"
        stage = Stage(folder, fingerprint(corpus_key, dataclasses.asdict(denoise)), folder / "checkpoints" / "last.ckpt")
        teacher = stage.run("denoise (3D teacher)", lambda resume: run_denoise(denoise, corpus(), folder, resume=resume))
        out["teacher"] = teacher
    for method in ("dnd-graph", "dnd-node"):
        if method in methods:
            folder = work / method
            run_cfg = replace(distill, objective=replace(distill.objective, variant=method.split("-")[1]))
            key = fingerprint(corpus_key, stage_key(work / "denoise"), dataclasses.asdict(run_cfg))
            if run_cfg.cached and run_cfg.feature_cache is None:
                # one teacher pass serves both variants (the cache checks teacher and corpus itself)
                run_cfg = replace(run_cfg, feature_cache=str(work / "teacher_cache"))
            out[method] = Stage(folder, key, folder / "student.ckpt").run(
                f"distill {METHOD_LABELS[method]}",
                lambda resume, c=run_cfg, f=folder: run_distill(c, corpus(), teacher, f, resume=resume))
    if "infomax" in methods:
        folder = work / "infomax"
        init_key = stage_key(work / "denoise") if infomax.teacher_init else None
        key = fingerprint(corpus_key, init_key, dataclasses.asdict(infomax))
        out["infomax"] = Stage(folder, key, folder / "student.ckpt").run(
            "3DInfomax", lambda resume: run_infomax(infomax, corpus(), folder, resume=resume))
    return out


def stage_key(folder: Path) -> str | None:
    marker = folder / "stage.json"
    return json.loads(marker.read_text())["fingerprint"] if marker.is_file() else None


# ------------------------------------------------------------------------------ finetuning jobs

def finetune_jobs(cfg: ExperimentConfig, students: dict[str, Path | None]) -> list[dict[str, Any]]:
    """One plain dict per finetuning run (picklable, so runs can go to worker processes)."""
    jobs = []

    def add(task: str, method: str, readout: str, seed: int, fraction: float) -> None:
        init = students.get(method)
        jobs.append({"task": task, "method": method, "readout": readout, "seed": seed, "fraction": fraction,
                     "init": str(init) if init else None,
                     "init_key": stage_key(Path(init).parent) if init else None})

    for task in cfg.tasks:
        for method in cfg.methods:
            for readout in cfg.readouts:
                for seed in cfg.seeds:
                    add(task, method, readout, seed, 1.0)
    le = cfg.label_efficiency
    for task in le.tasks:
        for method in le.methods:
            for fraction in le.fractions:
                for seed in cfg.seeds:
                    if not (fraction == 1.0 and task in cfg.tasks and method in cfg.methods and le.readout in cfg.readouts):
                        add(task, method, le.readout, seed, float(fraction))
    return jobs


def task_options(cfg: ExperimentConfig, task: str) -> dict[str, Any]:
    return cfg.task_options.get("*", {}) | cfg.task_options.get(task, {})


def _run_job(cfg: ExperimentConfig, job: dict[str, Any], work: Path, threads: int | None) -> dict[str, Any]:
    import torch

    from dnd.data.tasks import load_task

    if threads:
        torch.set_num_threads(threads)
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    _, _, _, finetune = _stage_configs(cfg)
    run_cfg = replace(finetune, init=job["init"], readout=job["readout"], method=METHOD_LABELS[job["method"]],
                      train_fraction=job["fraction"],
                      trainer=replace(finetune.trainer, seed=job["seed"], progress=False))
    folder = work / "finetune" / job["task"] / job["method"] / job["readout"] / f"frac{job['fraction']:g}" / f"seed{job['seed']}"
    options = task_options(cfg, job["task"])
    key = fingerprint(dataclasses.asdict(run_cfg), job.get("init_key"), options, cfg.data_root)
    stage = Stage(folder, key, folder / "metrics.json")

    def work_fn(resume: bool) -> None:
        from dnd.training.finetune import run_finetune

        # one split per task (seed 0 for random splits); finetuning seeds vary the model only
        task = load_task(job["task"], root=cfg.data_root, cache_dir=str(work / "task_cache"), **options)
        run_finetune(run_cfg, task, folder, resume=resume)

    stage.run(f"finetune {job['task']} {job['method']} {job['readout']} frac={job['fraction']:g} seed={job['seed']}",
              work_fn)
    return json.loads((folder / "metrics.json").read_text())


def run_finetuning(cfg: ExperimentConfig, jobs: list[dict[str, Any]], work: Path) -> list[dict[str, Any]]:
    if cfg.workers <= 1:
        return [_run_job(cfg, job, work, None) for job in jobs]
    threads = max(1, (os.cpu_count() or 1) // cfg.workers)
    import multiprocessing

    # warm the task caches once so workers do not featurize the same task concurrently
    from dnd.data.tasks import load_task

    for task in sorted({j["task"] for j in jobs}):
        load_task(task, root=cfg.data_root, cache_dir=str(work / "task_cache"), **task_options(cfg, task))
    with ProcessPoolExecutor(cfg.workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(_run_job, cfg, job, work, threads) for job in jobs]
        return [f.result() for f in futures]


# ------------------------------------------------------------------------------ experiment

def run_experiment(cfg: ExperimentConfig, config_text: str | None = None, skip_analyses: bool = False) -> Path:
    from dnd.training.finetune import write_summary

    results = Path(cfg.results_dir) / cfg.name
    work = Path(cfg.work_dir) / cfg.name
    results.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    if config_text is not None:
        (results / "config.yaml").write_text(config_text)
    t0 = time.perf_counter()
    students = pretrain(cfg, work)
    jobs = finetune_jobs(cfg, students)
    print(f"[plan]  {len(jobs)} finetuning runs", flush=True)
    rows = run_finetuning(cfg, jobs, work)
    main_rows = [r for r in rows if r["train_fraction"] == 1.0]
    if main_rows:
        write_summary(main_rows, results)
    if not skip_analyses:
        from dnd.analysis.report import write_analyses

        write_analyses(cfg, students, rows, work, results)
    (results / "timing.json").write_text(json.dumps(
        {"wall_s": round(time.perf_counter() - t0, 1), "finetune_runs": len(jobs),
         "machine": f"{os.cpu_count()} CPU cores"}, indent=2))
    print(f"[done]  {results} ({time.perf_counter() - t0:.0f} s)", flush=True)
    return results


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="experiment YAML (see configs/)")
    parser.add_argument("--workers", type=int, help="finetuning processes in parallel (overrides the config)")
    parser.add_argument("--results-dir", help="where tables/plots go (default: the config's, 'results')")
    parser.add_argument("--work-dir", help="where checkpoints/logs go (default: the config's, 'runs')")
    parser.add_argument("--check", action="store_true", help="parse the config and print the plan, run nothing")


def run(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    overrides = {k: v for k, v in (("workers", args.workers), ("results_dir", args.results_dir),
                                   ("work_dir", args.work_dir)) if v is not None}
    cfg = replace(cfg, **overrides)
    try:
        _stage_configs(cfg)  # fail now, not after pretraining, on a bad override
    except UsageError as err:
        raise UsageError(f"{args.config}: {err}") from None
    check_experiment_files(cfg, args.config)
    if args.check:
        jobs = finetune_jobs(cfg, {m: Path("<student>") if m != "randinit" else None for m in METHODS})
        print(f"{cfg.name}: corpus {cfg.corpus.source} ({cfg.corpus.limit or 'all'} molecules), methods "
              f"{cfg.methods}, readouts {cfg.readouts}, tasks {cfg.tasks}, seeds {cfg.seeds}: {len(jobs)} finetuning runs")
        return 0
    run_experiment(cfg, Path(args.config).read_text())
    return 0
