"""Every method of a comparison has the same architecture: RandInit is built from the students'
spec, overrides included (pipeline, `dnd finetune --overrides`, the attention analysis)."""

import json

import pytest

from dnd.analysis.attention import build_student
from dnd.experiment.report import random_spec
from dnd.models.registry import encoder_config_dict
from dnd.experiment.config import ExperimentConfig
from dnd.experiment.stages import stage_configs
from dnd.training.finetune import _initial_encoder
from dnd.training.pretrain import resolve_student
from finetune_fixtures import regression_task

OVERRIDES = {"tokengt": {"num_layers": 1, "num_heads": 2}, "pna": {"num_layers": 3, "hidden_dim": 16}}


@pytest.mark.parametrize("encoder", sorted(OVERRIDES))
def test_pipeline_randinit_has_the_students_architecture(encoder):
    cfg = ExperimentConfig(name="x", student={"encoder": encoder, "preset": "tiny",
                                              "overrides": OVERRIDES[encoder]})
    _, distill, infomax, finetune = stage_configs(cfg)
    train = regression_task().train
    student_name, student = resolve_student(distill.student, train)
    assert resolve_student(infomax.student, train) == (student_name, student)
    name, randinit, state = _initial_encoder(finetune, train)
    assert state is None and name == student_name
    assert randinit == student
    for key, value in OVERRIDES[encoder].items():
        assert randinit[key] == value


def test_finetune_command_line_takes_encoder_overrides(tmp_path):
    from dnd.cli.finetune import config_from_args
    from dnd.cli.main import build_parser

    args = build_parser().parse_args(["finetune", "--task", "x", "--out", str(tmp_path), "--preset", "tiny",
                                      "--overrides", json.dumps(OVERRIDES["tokengt"])])
    _, config, _ = _initial_encoder(config_from_args(args, "mp"), [])
    assert config["num_layers"] == 1 and config["num_heads"] == 2


def test_attention_randinit_reference_has_the_students_architecture():
    cfg = ExperimentConfig(name="x", student={"encoder": "tokengt", "preset": "tiny",
                                              "overrides": OVERRIDES["tokengt"]})
    _, distill, _, _ = stage_configs(cfg)
    _, config = encoder_config_dict(build_student(random_spec(distill.student)))
    assert config == resolve_student(distill.student, [])[1]
