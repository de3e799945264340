"""`dnd run CONFIG.yaml`: one experiment end to end, as the paper runs it.

denoise (teacher) -> distill (D&D-GRAPH, D&D-NODE) and 3DInfomax (students) -> finetune every
method x readout x task x seed (+ label-efficiency fractions) -> tables, plots, analyses.

Outputs: `<results>/<name>/` holds what is committed (config.yaml as run, summary.md/csv,
results.csv, plots, analyses); `<work>/<name>/` holds checkpoints and logs (large, not committed).
Stages are reused or resumed by fingerprint (`dnd.experiment.stages`).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from dnd.data.corpus import load_corpus
from dnd.data.tasks import load_task
from dnd.evaluation.summary import write_summary
from dnd.experiment.config import METHODS, ExperimentConfig, task_options
from dnd.models.config import Method
from dnd.experiment.report import write_analyses
from dnd.experiment.stages import Stage, fingerprint, stage_configs, stage_key
from dnd.training.config import FinetuneConfig
from dnd.training.denoise import run_denoise
from dnd.training.distill import run_distill
from dnd.training.finetune import run_finetune
from dnd.training.infomax import run_infomax


def pretrain(cfg: ExperimentConfig, work: Path) -> dict[str, Path | None]:
    """Teacher and the students the methods need; returns method -> student checkpoint (None for
    RandInit) plus 'teacher'."""
    denoise, distill, infomax, _ = stage_configs(cfg)
    # label-efficiency methods need students only when that study has tasks
    methods = set(cfg.methods) | (set(cfg.label_efficiency.methods) if cfg.label_efficiency.tasks else set())
    records = None

    def corpus():
        nonlocal records
        if records is None:
            records = load_corpus(cfg.corpus)
            print(f"        corpus: {len(records)} paired molecules ({cfg.corpus.source})", flush=True)
        return records

    # max_atoms came later: left out of the key while unset, so older work folders stay reusable
    corpus_key = fingerprint({k: v for k, v in dataclasses.asdict(cfg.corpus).items()
                              if not (k == "max_atoms" and v is None)})
    out: dict[str, Path | None] = {"randinit": None}
    needs_teacher = bool(methods & {"dnd-graph", "dnd-node"})
    teacher = None
    if needs_teacher:
        folder = work / "denoise"
        stage = Stage(folder, fingerprint(corpus_key, dataclasses.asdict(denoise)), folder / "checkpoints" / "last.ckpt")
        teacher = stage.run("denoise (3D teacher)", lambda resume: run_denoise(denoise, corpus(), folder, resume=resume, corpus=cfg.corpus))
        out["teacher"] = teacher
    for method in ("dnd-graph", "dnd-node"):
        if method in methods:
            folder = work / method
            run_cfg = replace(distill, objective=replace(distill.objective, variant=Method(method).variant))
            key = fingerprint(corpus_key, stage_key(work / "denoise"), dataclasses.asdict(run_cfg))
            if run_cfg.cached and run_cfg.feature_cache is None:
                # one teacher pass serves both variants (the cache checks teacher and corpus itself)
                run_cfg = replace(run_cfg, feature_cache=str(work / "teacher_features"))
            out[method] = Stage(folder, key, folder / "student.ckpt").run(
                f"distill {Method(method).label}",
                lambda resume, c=run_cfg, f=folder: run_distill(c, corpus(), teacher, f, resume=resume, corpus=cfg.corpus))
    if "infomax" in methods:
        folder = work / "infomax"
        init_key = stage_key(work / "denoise") if infomax.teacher_init else None
        key = fingerprint(corpus_key, init_key, dataclasses.asdict(infomax))
        out["infomax"] = Stage(folder, key, folder / "student.ckpt").run(
            "3DInfomax", lambda resume: run_infomax(infomax, corpus(), folder, resume=resume, corpus=cfg.corpus))
    return out


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


def job_config(cfg: ExperimentConfig, job: dict[str, Any]) -> FinetuneConfig:
    """The finetuning config of one job: the experiment's, with the job's student, readout,
    method label, label fraction and seed."""
    _, _, _, finetune = stage_configs(cfg)
    return replace(finetune, init=job["init"], readout=job["readout"], method=Method(job["method"]).label,
                   train_fraction=job["fraction"], trainer=replace(finetune.trainer, seed=job["seed"], progress=False))


def _run_job(cfg: ExperimentConfig, job: dict[str, Any], work: Path, threads: int | None) -> dict[str, Any]:
    if threads:
        torch.set_num_threads(threads)
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    run_cfg = job_config(cfg, job)
    folder = work / "finetune" / job["task"] / job["method"] / job["readout"] / f"frac{job['fraction']:g}" / f"seed{job['seed']}"
    options = task_options(cfg, job["task"])
    key = fingerprint(dataclasses.asdict(run_cfg), job.get("init_key"), options, cfg.data_root)
    stage = Stage(folder, key, folder / "metrics.json")

    def work_fn(resume: bool) -> None:
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
    # warm the task caches once so workers do not featurize the same task concurrently
    for task in sorted({j["task"] for j in jobs}):
        load_task(task, root=cfg.data_root, cache_dir=str(work / "task_cache"), **task_options(cfg, task))
    with ProcessPoolExecutor(cfg.workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(_run_job, cfg, job, work, threads) for job in jobs]
        return [f.result() for f in futures]


# ------------------------------------------------------------------------------ experiment

def run_experiment(cfg: ExperimentConfig, config_text: str | None = None, skip_analyses: bool = False) -> Path:
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
        write_analyses(cfg, students, rows, work, results)
    (results / "timing.json").write_text(json.dumps(
        {"wall_s": round(time.perf_counter() - t0, 1), "finetune_runs": len(jobs),
         "machine": f"{os.cpu_count()} CPU cores"}, indent=2))
    print(f"[done]  {results} ({time.perf_counter() - t0:.0f} s)", flush=True)
    return results


def plan(cfg: ExperimentConfig) -> str:
    """One line: what `run_experiment(cfg)` would run (`dnd run --check`)."""
    jobs = finetune_jobs(cfg, {m: Path("<student>") if m != "randinit" else None for m in METHODS})
    return (f"{cfg.name}: corpus {cfg.corpus.source} ({cfg.corpus.limit or 'all'} molecules), methods "
            f"{cfg.methods}, readouts {cfg.readouts}, tasks {cfg.tasks}, seeds {cfg.seeds}: {len(jobs)} finetuning runs")
