"""One spelling per setting: every training verb's options come from its config dataclasses
(flag = field name), and a run given by flags is the same run as one given by `dnd run` YAML:
the same config, so the same stage fingerprint, and the same checkpoint hyper-parameters."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path

import pytest
import torch

from dnd.cli import denoise, distill, finetune, infomax
from dnd.cli.main import build_parser, main
from dnd.cli.options import settings
from dnd.data.config import CorpusConfig
from dnd.experiment.config import QuickstartConfig, load_config
from dnd.experiment.stages import fingerprint, stage_configs
from dnd.models.config import Method
from dnd.training.config import DenoiseConfig, DistillRunConfig, FinetuneConfig, InfomaxRunConfig

# verb -> (its configs, the arguments that say where a run goes or what it runs on, not how it trains)
RUN = ("out", "resume")
VERBS = {
    "denoise": ([CorpusConfig(), DenoiseConfig()], (*RUN, "preset")),
    "distill": ([CorpusConfig(), DistillRunConfig()],
                (*RUN, "teacher", "control", "ani2x_member", "ani2x_layer", "ani2x_dir", "exclude_tasks", "data_root")),
    "infomax": ([CorpusConfig(), InfomaxRunConfig()], RUN),
    "finetune": ([FinetuneConfig()], (*RUN, "task", "data_root", "split_seed", "cache_dir", "smiles_column",
                                      "target_columns", "task_type", "split", "max_atoms", "seeds")),
    "quickstart": ([QuickstartConfig()], ("out",)),
    "teacher-features": ([CorpusConfig()], ("teacher", "control", "ani2x_member", "ani2x_layer", "ani2x_dir",
                                            "feature_cache", "shard", "chunk_size", "seed")),
    "attention": ([CorpusConfig()], ("student", "seed", "molecules", "val_fraction", "out")),
}


def _verb_parser(verb: str):
    return build_parser()._subparsers._group_actions[0].choices[verb]


def _flags(verb: str) -> set[str]:
    return {o[2:].replace("-", "_") for a in _verb_parser(verb)._actions for o in a.option_strings
            if o.startswith("--") and not o.startswith("--no-") and o != "--help"}


@pytest.mark.parametrize("verb", list(VERBS))
def test_every_flag_is_a_setting_or_says_where_the_run_goes(verb):
    configs, run_arguments = VERBS[verb]
    fields = {name for config in configs for name, *_ in settings(config)}
    assert _flags(verb) - fields - set(run_arguments) == set()
    # ... and every setting has its flag, spelled as the field (CorpusConfig.seed is the verb's --seed)
    assert fields - _flags(verb) <= {"seed"}


def _yaml(tmp_path: Path, text: str):
    path = tmp_path / "exp.yaml"
    path.write_text(text)
    return load_config(path)


STUDENT = "student: {encoder: dmpnn, preset: tiny, overrides: {hidden_dim: 24}}\n"


def test_pretraining_flags_and_yaml_give_the_same_configs(tmp_path):
    cfg = _yaml(tmp_path, "name: same\n" + STUDENT + """
denoise: {preset: tiny, sigma: 0.1, optim: {lr: 2.0e-3}, teacher: {cutoff_upper: 4.0}, trainer: {max_epochs: 7}}
distill:
  cached: true
  batch_size: 16
  objective: {teacher_pool: heavy}
  optim: {lr: 1.0e-3, warmup_steps: 20}
  trainer: {max_epochs: 3, checkpoint_every_n_steps: 0, progress: false, seed: 4}
infomax: {objective: {tau: 0.1, readout_aggregators: [min, max]}, net3d_preset: tiny}
""")
    yaml_denoise, yaml_distill, yaml_infomax, _ = stage_configs(cfg)
    p = build_parser()
    student = ["--encoder", "dmpnn", "--preset", "tiny", "--overrides", '{"hidden_dim": 24}']
    flags_denoise = denoise.config_from_args(p.parse_args(
        ["denoise", "--out", "o", "--preset", "tiny", "--sigma", "0.1", "--lr", "2e-3", "--cutoff-upper", "4",
         "--max-epochs", "7"]))
    flags_distill = distill.config_from_args(p.parse_args(
        ["distill", "--teacher", "t", "--out", "o", *student, "--cached", "--batch-size", "16",
         "--teacher-pool", "heavy", "--lr", "1e-3", "--warmup-steps", "20", "--max-epochs", "3",
         "--checkpoint-every-n-steps", "0", "--no-progress", "--seed", "4", "--variant", "node"]))
    flags_infomax = infomax.config_from_args(p.parse_args(
        ["infomax", "--out", "o", *student, "--tau", "0.1", "--readout-aggregators", "min", "max",
         "--net3d-preset", "tiny"]))
    node = replace(yaml_distill, objective=replace(yaml_distill.objective, variant=Method.DND_NODE.variant))
    for from_yaml, from_flags in ((yaml_denoise, flags_denoise), (node, flags_distill), (yaml_infomax, flags_infomax)):
        assert asdict(from_yaml) == asdict(from_flags)
        assert fingerprint(asdict(from_yaml)) == fingerprint(asdict(from_flags))


def _hparams(metrics: Path) -> dict:
    checkpoint = json.loads(metrics.read_text())["checkpoint"]
    return torch.load(checkpoint, map_location="cpu", weights_only=True)["hyper_parameters"]


def test_a_finetuning_run_from_flags_is_the_run_from_yaml(tmp_path):
    from dnd.experiment.run import finetune_jobs, job_config, run_experiment

    cfg = _yaml(tmp_path, f"""name: same
student: {{encoder: tokengt, preset: tiny}}
finetune:
  lr: 1.0e-3
  batch_size: 16
  max_train: 32
  head: {{num_layers: 1}}
  trainer: {{max_epochs: 1, accelerator: cpu}}
tasks: [ogbg-molesol]
methods: [randinit]
readouts: [mp]
seeds: [0]
label_efficiency: {{tasks: []}}
attention: {{enabled: false}}
results_dir: {tmp_path / "results"}
work_dir: {tmp_path / "runs"}
""")
    (job,) = finetune_jobs(cfg, {"randinit": None})
    run_experiment(cfg, skip_analyses=True)

    argv = ["finetune", "--task", "ogbg-molesol", "--encoder", "tokengt", "--preset", "tiny", "--lr", "1e-3",
            "--batch-size", "16", "--max-train", "32", "--head-num-layers", "1", "--max-epochs", "1",
            "--accelerator", "cpu", "--no-progress", "--seeds", "0", "--method", Method.RANDINIT.label,
            "--out", str(tmp_path / "cli")]
    from_flags = finetune.config_from_args(build_parser().parse_args(argv), "mp")
    assert fingerprint(asdict(from_flags)) == fingerprint(asdict(job_config(cfg, job)))
    assert main(argv) == 0
    from_yaml = _hparams(tmp_path / "runs/same/finetune/ogbg-molesol/randinit/mp/frac1/seed0/metrics.json")
    assert from_yaml == _hparams(tmp_path / "cli/seed0/metrics.json")


def test_finetuning_defaults_follow_the_encoder_from_flags_and_yaml(tmp_path):
    """A D-MPNN finetunes with chemprop's settings, a TokenGT with Table 5c's, whether the encoder
    comes from --init, --encoder or the experiment's student."""
    chemprop_like = ("norm", 1e-3, 2.0, 50)
    settings_of = lambda c: (c.readout, c.lr, c.warmup_epochs, c.batch_size)  # noqa: E731
    p = build_parser()
    shipped = finetune.config_from_args(p.parse_args(["finetune", "--task", "t", "--out", "o",
                                                      "--init", "dnd:dmpnn-node-druglike"]))
    randinit = finetune.config_from_args(p.parse_args(["finetune", "--task", "t", "--out", "o", "--encoder", "dmpnn"]))
    tokengt = finetune.config_from_args(p.parse_args(["finetune", "--task", "t", "--out", "o"]))
    assert settings_of(shipped) == settings_of(randinit) == chemprop_like
    assert settings_of(tokengt) == ("mp", 5e-4, 5.0, 128)
    *_, from_yaml = stage_configs(_yaml(tmp_path, "name: x\nstudent: {encoder: dmpnn, preset: chemprop}\n"))
    assert settings_of(from_yaml) == chemprop_like
    # a setting given still wins over the encoder's default
    given = finetune.config_from_args(p.parse_args(["finetune", "--task", "t", "--out", "o", "--encoder", "dmpnn",
                                                    "--lr", "3e-4"]))
    assert given.lr == 3e-4 and given.batch_size == 50


def test_max_atoms_is_a_corpus_and_task_setting_not_process_state(tmp_path):
    """`max_atoms` travels in CorpusConfig and in the task options (flags and YAML alike), holds
    while that corpus or task loads, and leaves the default in place afterwards."""
    from dnd.data import featurize
    from dnd.data.corpus import load_corpus
    from dnd.data.tasks import load_task

    smi = tmp_path / "chains.smi"
    smi.write_text("".join(f"{'C' * n}O\n" for n in range(1, 9)))
    small = load_corpus(CorpusConfig(source="smiles", path=str(smi), max_atoms=5))
    assert sorted(r.num_nodes for r in small) == [2, 3, 4, 5]   # in the worker processes too
    assert len(load_corpus(CorpusConfig(source="smiles", path=str(smi)))) == 8
    csv = tmp_path / "t.csv"
    csv.write_text("smiles,y\n" + "".join(f"{'C' * n},{n}\n" for n in range(1, 21)))
    task = load_task(str(csv), split="random", max_atoms=10)
    assert task.report.n_ok == 10
    assert featurize._max_atoms == featurize.DEFAULT_MAX_ATOMS
    cfg = _yaml(tmp_path, "name: x\ncorpus: {max_atoms: 8}\ntask_options: {'*': {max_atoms: 10}}\ntasks: [ogbg-molesol]\n")
    assert cfg.corpus.max_atoms == 8 and cfg.task_options["*"]["max_atoms"] == 10
    args = build_parser().parse_args(["distill", "--teacher", "t", "--out", "o", "--max-atoms", "8"])
    assert distill.corpus_config_from_args(args, 0).max_atoms == 8
