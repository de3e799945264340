"""Stages of `dnd run`: typed stage configs from an experiment config, and reuse by fingerprint.

Every stage writes `stage.json` with a fingerprint of its settings and of the stages it builds on;
a stage whose fingerprint matches and whose output exists is reused, so an interrupted run
continues where it stopped and a changed setting re-runs only what depends on it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

from dnd.config_check import check_types
from dnd.experiment.config import ExperimentConfig, apply_overrides
from dnd.training.config import (DenoiseConfig, DistillRunConfig, FinetuneConfig, InfomaxRunConfig, StudentSpec,
                                 denoise_preset, finetune_defaults)


def fingerprint(*parts: Any) -> str:
    blob = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


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


def stage_key(folder: Path) -> str | None:
    marker = folder / "stage.json"
    return json.loads(marker.read_text())["fingerprint"] if marker.is_file() else None


def stage_configs(cfg: ExperimentConfig) -> tuple[DenoiseConfig, DistillRunConfig, InfomaxRunConfig, FinetuneConfig]:
    """Typed stage configs from the presets plus the experiment's overrides."""
    d = dict(cfg.denoise)
    denoise: DenoiseConfig = apply_overrides(denoise_preset(d.pop("preset", "cpu-small")), d, "denoise")
    student = apply_overrides(StudentSpec(), cfg.student, "student")
    distill = apply_overrides(DistillRunConfig(student=student), cfg.distill, "distill")
    infomax = apply_overrides(InfomaxRunConfig(student=student), cfg.infomax, "infomax")
    # RandInit is built from the students' spec, overrides included: one architecture per comparison
    finetune = apply_overrides(replace(finetune_defaults(student.encoder), preset=student.preset,
                                       overrides=dict(student.overrides)), cfg.finetune, "finetune")
    for name, stage in (("denoise", denoise), ("distill", distill), ("infomax", infomax), ("finetune", finetune)):
        check_types(stage, name)
    return denoise, distill, infomax, finetune
