"""`dnd run`: every committed config (and the quickstart's shipped one) parses into typed stage configs, and the tiny config runs the
whole pipeline (denoise, distill x2, infomax, finetune, tables, analyses) and is reused on rerun."""

from pathlib import Path

import pandas as pd
import pytest

from dnd.cli import main
from dnd.experiment.config import ExperimentConfig, apply_overrides, load_config
from dnd.experiment.quickstart import PIPELINE
from dnd.experiment.run import finetune_jobs, run_experiment
from dnd.experiment.stages import stage_configs

CONFIGS = [*sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml")), PIPELINE]


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_config_parses_and_plans(path, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("DND_DATA", str(tmp_path))
    cfg = load_config(path)
    denoise, distill, infomax, finetune = stage_configs(cfg)
    assert cfg.name == path.stem
    assert distill.student.encoder == finetune.encoder
    jobs = finetune_jobs(cfg, {"randinit": None, "infomax": Path("i"), "dnd-graph": Path("g"), "dnd-node": Path("n")})
    expected = len(cfg.tasks) * len(cfg.methods) * len(cfg.readouts) * len(cfg.seeds)
    assert len([j for j in jobs if j["fraction"] == 1.0]) >= expected
    if cfg.corpus.path:  # --check insists that the files the config names exist
        Path(cfg.corpus.path).parent.mkdir(parents=True, exist_ok=True)
        Path(cfg.corpus.path).touch()
    assert main(["run", str(path), "--check"]) == 0
    assert f"{len(jobs)} finetuning runs" in capsys.readouterr().out


def test_unknown_setting_is_named():
    with pytest.raises(ValueError, match="finetune.*'learning_rate'"):
        stage_configs(ExperimentConfig(name="x", finetune={"learning_rate": 1.0}))
    with pytest.raises(ValueError, match="unknown method"):
        ExperimentConfig(name="x", methods=["dnd-edge"])
    base = ExperimentConfig(name="x")
    assert apply_overrides(base, {"corpus": {"sample": 5}}).corpus.sample == 5
    assert base.corpus.sample is None


def test_pretraining_runs_only_what_the_methods_need(tmp_path):
    """A RandInit-only experiment with no label-efficiency tasks trains no teacher or student
    (the label-efficiency study's default methods include D&D-NODE, but it has nothing to run)."""
    from dnd.experiment.run import pretrain
    from dnd.experiment.config import LabelEfficiencyConfig

    cfg = ExperimentConfig(name="x", methods=["randinit"], label_efficiency=LabelEfficiencyConfig(tasks=[]))
    assert pretrain(cfg, tmp_path) == {"randinit": None}
    assert not any(tmp_path.iterdir())


def test_unset_environment_variable_is_named(tmp_path, monkeypatch):
    monkeypatch.delenv("DND_NOT_SET", raising=False)
    path = tmp_path / "c.yaml"
    path.write_text("name: c\ndata_root: ${DND_NOT_SET}/x\n")
    with pytest.raises(ValueError, match="DND_NOT_SET"):
        load_config(path)


def test_bad_qm9_split_option_stops_check_with_exit_2(tmp_path, capsys):
    """A QM9 split option the loader would reject after pretraining stops `--check` at once."""
    path = tmp_path / "c.yaml"
    for value, message in (("0", "valid_size 0 must be in [1, 17748]"), ("many", "valid_size must be an integer")):
        path.write_text(f"name: c\ntasks: [qm9-alpha]\ntask_options: {{qm9-alpha: {{valid_size: {value}}}}}\n"
                        "label_efficiency: {tasks: []}\n")
        assert main(["run", str(path), "--check"]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err
    path.write_text("name: c\ntasks: [qm9-alpha]\ntask_options: {qm9-alpha: {valid_size: 1000, train_offset: 50000}}\n"
                    "label_efficiency: {tasks: []}\n")
    assert main(["run", str(path), "--check"]) == 0


def test_tiny_pipeline_end_to_end_and_reuse(tmp_path, capsys):
    cfg = load_config(CONFIGS[[p.stem for p in CONFIGS].index("tiny")])
    cfg = apply_overrides(cfg, {"results_dir": str(tmp_path / "results"), "work_dir": str(tmp_path / "runs")})
    out = run_experiment(cfg, "name: tiny\n")
    summary = pd.read_csv(out / "summary.csv")
    assert set(summary["method"]) == {"RandInit", "3DInfomax", "D&D-GRAPH", "D&D-NODE"}
    assert set(summary["readout"]) == {"mp", "vn"}
    assert summary["test_mean"].notna().all() and (summary["test_mean"] > 0).all()
    runs = pd.read_csv(out / "all_runs.csv")
    assert (runs["n_train"] <= 256).all()
    assert sorted(runs.loc[runs["train_fraction"] < 1, "method"]) == ["D&D-NODE", "RandInit"]
    eff = pd.read_csv(out / "label_efficiency.csv")
    assert sorted(eff["train_fraction"].unique()) == [0.25, 1.0]
    attention = pd.read_csv(out / "attention_vs_distance.csv")
    assert set(attention["student"]) == {"RandInit", "3DInfomax", "D&D-GRAPH", "D&D-NODE"}
    assert attention["abs_r"].between(0, 1).all()
    for png in ("distill_curves.png", "label_efficiency.png", "attention_vs_distance.png"):
        assert (out / png).stat().st_size > 1000
    table = (out / "table.md").read_text().splitlines()
    assert len(table) == 2 + 8 and "ogbg-molesol (rmse ↓)" in table[0]
    curves = pd.read_csv(out / "distill_curves.csv")
    assert set(curves["run"]) == {"D&D-GRAPH", "D&D-NODE"}

    capsys.readouterr()
    run_experiment(cfg)
    log = capsys.readouterr().out
    assert "[run]" not in log and log.count("[reuse]") == 4 + len(runs)
