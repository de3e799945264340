"""The analyses `dnd run` writes after finetuning: the Table-1 layout of the results, distillation
curves (Figure 3), label efficiency, and attention vs 3D distance (Figure 4)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from dnd.analysis.attention import compare_students
from dnd.analysis.curves import epoch_losses, plot_curves
from dnd.analysis.label_efficiency import efficiency_table, plot_label_efficiency
from dnd.data.corpus import held_out, load_corpus
from dnd.evaluation.summary import results_table
from dnd.experiment.config import METHODS, ExperimentConfig
from dnd.experiment.stages import stage_configs
from dnd.models.config import Method
from dnd.training.config import StudentSpec


def write_analyses(cfg: ExperimentConfig, students: dict[str, Path | None], rows: list[dict[str, Any]], work: Path,
                   results: Path) -> None:
    pd.DataFrame(rows).to_csv(results / "all_runs.csv", index=False)
    if (results / "summary.csv").is_file():
        (results / "table.md").write_text(results_table(pd.read_csv(results / "summary.csv")))
    distilled = {Method(m).label: epoch_losses(work / m) for m in ("dnd-graph", "dnd-node") if students.get(m)}
    if distilled:
        plot_curves(distilled, results / "distill_curves.png", title="distillation loss (MSE)")
        pd.concat([t.assign(run=k) for k, t in distilled.items()]).to_csv(results / "distill_curves.csv", index=False)
    if students.get("infomax"):
        plot_curves({"3DInfomax": epoch_losses(work / "infomax")}, results / "infomax_curves.png",
                    title="3DInfomax NT-Xent loss")
    le = cfg.label_efficiency
    df = pd.DataFrame(rows)
    if le.tasks and len(df):
        labels = [Method(m).label for m in le.methods]
        sel = df[df["task"].isin(le.tasks) & df["method"].isin(labels) & (df["readout"] == le.readout)]
        table = efficiency_table(sel)
        table.to_csv(results / "label_efficiency.csv", index=False)
        plot_label_efficiency(table, results / "label_efficiency.png")
    if cfg.attention.enabled:
        _attention(cfg, students, results)


def _attention(cfg: ExperimentConfig, students: dict[str, Path | None], results: Path) -> None:
    _, distill, _, _ = stage_configs(cfg)
    if distill.student.encoder != "tokengt":
        return
    # the molecules the students did not pretrain on: the held-out part of the corpus
    val = held_out(load_corpus(cfg.corpus), cfg.attention.molecules, distill.val_fraction, distill.trainer.seed)
    specs = {Method(m).label: (str(p) if p else random_spec(distill.student))
             for m, p in students.items() if m in METHODS}
    compare_students(specs, val, results / "attention_vs_distance.png",
                     results / "attention_vs_distance.csv")


def random_spec(student: StudentSpec) -> str:
    """`dnd attention`'s spec of an untrained twin of `student` (a StudentSpec), overrides included."""
    return f"random:{student.preset}" + (f":{json.dumps(student.overrides)}" if student.overrides else "")
