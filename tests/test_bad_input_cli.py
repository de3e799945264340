"""The bad-input corpus, through the CLI's `main(argv)` in-process: every user error is
exit code 2 and one line that names the file, row or option (no traceback), and nothing is left
half-written under the output name. Inputs that are only partly bad (blank lines, a huge
molecule, an unencodable element) are processed, with the bad rows flagged instead."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from pretrain_helpers import write_teacher_ckpt

from dnd.cli import main
from dnd.models.registry import build_encoder, encoder_preset
from finetune_fixtures import SMILES, train_tiny

NO_GPU = pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
GARBAGE = bytes(range(256)) * 8 + b"\x00\xff\xfe" * 100
GOOD_SMILES = SMILES[:14]


# ---------------------------------------------------------------------------------- helpers

def fails(argv: list[str], capsys, *needles: str) -> str:
    """Run the CLI, expect exit 2 and one error line holding every needle; returns the line."""
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err, err
    line = [ln for ln in err.strip().splitlines() if "error:" in ln]
    assert len(line) == 1, err
    for needle in needles:
        assert needle in line[0], (needle, line[0])
    return line[0]


def write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def csv_task(tmp_path: Path, header: str, rows: list[str], name: str = "t.csv") -> Path:
    return write(tmp_path / name, "\n".join([header, *rows]) + "\n")


def no_training_output(out: Path) -> bool:
    return not any(out.rglob("*.ckpt")) and not any(out.rglob("metrics.json"))


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A finetuned, a teacher and a student checkpoint, plus a corrupt one."""
    root = tmp_path_factory.mktemp("models")
    finetuned = train_tiny(root / "ft", epochs=1)["checkpoint"]
    teacher = write_teacher_ckpt(root / "teacher.ckpt")
    encoder = build_encoder("tokengt", encoder_preset("tokengt", "tiny"))
    student = root / "student.ckpt"
    torch.save({"state_dict": {f"student.{k}": v for k, v in encoder.state_dict().items()},
                "hyper_parameters": {"encoder_name": "tokengt", "encoder_config": encoder.config.__dict__}},
               student)
    corrupt = write(root / "corrupt.ckpt", GARBAGE)
    return {"finetuned": Path(finetuned), "teacher": teacher, "student": student, "corrupt": corrupt}


@pytest.fixture
def molecules(tmp_path):
    return csv_task(tmp_path, "smiles", ["CCO", "CCN", "c1ccccc1"], "mols.csv")


# ---------------------------------------------------------------------------------- dnd data

def test_data_csv_with_id_column_and_no_target_named(tmp_path, capsys):
    path = csv_task(tmp_path, "smiles,y,compound_id", [f"{s},{i}.5,{100 + i}" for i, s in enumerate(GOOD_SMILES)])
    fails(["data", "task", path], capsys, str(path), "y, compound_id", "--target-columns")


def test_data_csv_named_target_ignores_id_column(tmp_path, capsys):
    path = csv_task(tmp_path, "smiles,y,compound_id", [f"{s},{i}.5,{100 + i}" for i, s in enumerate(GOOD_SMILES)])
    assert main(["data", "task", str(path), "--target-columns", "y"]) == 0
    assert "1 target(s)" in capsys.readouterr().out


def test_data_repeated_header(tmp_path, capsys):
    path = csv_task(tmp_path, "smiles,y,y", [f"{s},1,2" for s in GOOD_SMILES])
    fails(["data", "task", path, "--target-columns", "y"], capsys, str(path), "'y' twice")


@pytest.mark.parametrize("content,why", [
    (b"\x1f\x8b\x08\x00" + GARBAGE, "corrupt gzip"),
    (gzip.compress(b"smiles,y\nCCO,1\n" * 50)[:40], "truncated gzip"),
])
def test_data_unreadable_gzip(tmp_path, capsys, content, why):
    path = write(tmp_path / "t.csv.gz", content)
    fails(["data", "task", path], capsys, str(path), "cannot be read as CSV")


@pytest.mark.parametrize("text,needle", [("", "empty"), ("smiles,y\n", "no data rows")])
def test_data_empty_csv(tmp_path, capsys, text, needle):
    path = write(tmp_path / "t.csv", text)
    fails(["data", "task", path], capsys, str(path), needle)


def test_data_missing_file(tmp_path, capsys):
    fails(["data", "task", tmp_path / "nope.csv"], capsys, "nope.csv", "not found")


def test_data_unknown_task(capsys):
    fails(["data", "task", "ogbg-molfoo"], capsys, "unknown task 'ogbg-molfoo'")


def test_data_missing_smiles_column(tmp_path, capsys):
    path = csv_task(tmp_path, "SMILES,y", [f"{s},1" for s in GOOD_SMILES])
    fails(["data", "task", path], capsys, str(path), "no column 'smiles'", "SMILES")


def test_data_missing_target_column(tmp_path, capsys):
    path = csv_task(tmp_path, "smiles,y", [f"{s},1" for s in GOOD_SMILES])
    fails(["data", "task", path, "--target-columns", "logS"], capsys, str(path), "no column 'logS'")


def test_data_csv_option_on_named_task(capsys):
    fails(["data", "task", "ogbg-molesol", "--target-columns", "y"], capsys, "ogbg-molesol", "target_column")


def test_data_classification_labels_not_binary(tmp_path, capsys):
    path = csv_task(tmp_path, "smiles,y", [f"{s},{i % 3}" for i, s in enumerate(GOOD_SMILES)])
    fails(["data", "task", path, "--task-type", "classification"], capsys, str(path), "must be 0/1")


def test_data_huge_molecule_skipped_fast(tmp_path, capsys):
    """A 10,000-atom chain used to hang the scaffold step; it is now a reported skip."""
    path = csv_task(tmp_path, "smiles,y", [f"{s},{i}.5" for i, s in enumerate(GOOD_SMILES)] + ["C" * 10_000 + ",1.0"])
    assert main(["data", "task", str(path), "--split", "random"]) == 0
    out = capsys.readouterr().out
    assert "row 14 (line 16)" in out and "10000 atoms, more than the limit of 1000" in out


def test_data_max_atoms_must_be_positive(tmp_path, capsys):
    path = csv_task(tmp_path, "smiles,y", [f"{s},1" for s in GOOD_SMILES])
    fails(["data", "task", path, "--max-atoms", "0"], capsys, "--max-atoms")


def test_data_paired_binary_garbage_sdf(tmp_path, capsys):
    path = write(tmp_path / "x.sdf", GARBAGE)
    fails(["data", "paired", "sdf", path, "--workers", "1"], capsys, str(path), "cannot be read as a sdf file")


def test_data_paired_unencodable_element_reported(tmp_path, capsys):
    """Fermium (Z=100) is outside the teacher's embedding: a reported skip when records are built."""
    block = ("Fm\n  test\n\n  1  0  0  0  0  0  0  0  0  0999 V2000\n"
             "    0.1000    0.2000    0.3000 Fm  0  0  0  0  0  0  0  0  0  0  0  0\nM  END\n$$$$\n")
    ok = ("water\n  test\n\n  3  2  0  0  0  0  0  0  0  0999 V2000\n"
          "    0.0000    0.0000    0.1173 O   0  0\n    0.0000    0.7572   -0.4692 H   0  0\n"
          "    0.0000   -0.7572   -0.4692 H   0  0\n  1  2  1  0\n  1  3  1  0\nM  END\n$$$$\n")
    path = write(tmp_path / "x.sdf", ok + block)
    assert main(["data", "paired", "sdf", str(path), "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "record 1 (line 12)" in out and "atomic number 100" in out and "elements 1..99" in out


# ---------------------------------------------------------------------------------- dnd denoise

TINY = ["--preset", "cpu-fast", "--max-epochs", "1", "--limit", "8", "--no-progress"]


def test_denoise_out_is_a_file(tmp_path, capsys):
    out = write(tmp_path / "run", "not a folder")
    fails(["denoise", "--out", out, *TINY], capsys, "--out", str(out), "existing file")
    assert out.read_text() == "not a folder"


@NO_GPU
def test_denoise_gpu_on_cpu_machine(tmp_path, capsys):
    fails(["denoise", "--out", tmp_path / "run", "--accelerator", "gpu", *TINY], capsys, "--accelerator gpu", "no CUDA")
    assert not (tmp_path / "run").exists()


def test_denoise_source_without_path(tmp_path, capsys):
    fails(["denoise", "--out", tmp_path / "run", "--source", "sdf", *TINY], capsys, "--source sdf", "--path")
    assert no_training_output(tmp_path / "run")


def test_denoise_missing_corpus_file(tmp_path, capsys):
    fails(["denoise", "--out", tmp_path / "run", "--source", "sdf", "--path", tmp_path / "no.sdf", *TINY],
          capsys, "no.sdf", "not found")
    assert no_training_output(tmp_path / "run")


def test_denoise_garbage_corpus(tmp_path, capsys):
    path = write(tmp_path / "x.sdf.gz", b"\x1f\x8b\x08\x00" + GARBAGE)
    fails(["denoise", "--out", tmp_path / "run", "--source", "sdf", "--path", path, *TINY], capsys, str(path))
    assert no_training_output(tmp_path / "run")


def test_denoise_bad_val_fraction(tmp_path, capsys):
    fails(["denoise", "--out", tmp_path / "run", "--val-fraction", "1.5", *TINY], capsys, "val_fraction")
    assert no_training_output(tmp_path / "run")


def test_denoise_corpus_with_heavy_element_stops_before_training(tmp_path):
    """Records made without the build-time check (old caches, hand-made Data) are caught before a step."""
    from dnd.data.embedded import qm9_paired
    from dnd.data.report import DataFileError
    from dnd.training.config import denoise_preset as preset
    from dnd.training.denoise import run_denoise

    records = qm9_paired(limit=4)
    records[2].z = records[2].z.clone()
    records[2].z[0] = 100
    with pytest.raises(DataFileError, match="corpus record 2 .*atomic number 100"):
        run_denoise(preset("tiny"), records, tmp_path / "run")
    assert no_training_output(tmp_path / "run")


# ---------------------------------------------------------------------------------- dnd distill

def test_distill_missing_teacher(tmp_path, capsys):
    fails(["distill", "--teacher", tmp_path / "none.ckpt", "--out", tmp_path / "run", "--limit", "8"],
          capsys, "none.ckpt", "not found")
    assert no_training_output(tmp_path / "run")


def test_distill_corrupt_teacher(models, tmp_path, capsys):
    fails(["distill", "--teacher", models["corrupt"], "--out", tmp_path / "run", "--limit", "8"],
          capsys, str(models["corrupt"]), "not a readable checkpoint")


def test_distill_student_as_teacher(models, tmp_path, capsys):
    fails(["distill", "--teacher", models["student"], "--out", tmp_path / "run", "--limit", "8"],
          capsys, str(models["student"]), "teacher config")


def test_distill_out_is_a_file(models, tmp_path, capsys):
    out = write(tmp_path / "run", "x")
    fails(["distill", "--teacher", models["teacher"], "--out", out, "--limit", "8"], capsys, "--out", "existing file")


# ---------------------------------------------------------------------------------- dnd finetune

FT = ["--preset", "tiny", "--max-epochs", "1", "--batch-size", "8", "--no-progress"]


def test_finetune_teacher_as_init(models, tmp_path, capsys):
    fails(["finetune", "--task", "ogbg-molesol", "--init", models["teacher"], "--out", tmp_path / "run", *FT],
          capsys, str(models["teacher"]), "3D teacher checkpoint", "student")
    assert no_training_output(tmp_path / "run")


def test_finetune_missing_init(tmp_path, capsys):
    fails(["finetune", "--task", "ogbg-molesol", "--init", tmp_path / "x.ckpt", "--out", tmp_path / "run", *FT],
          capsys, "x.ckpt", "not found")


def test_finetune_csv_with_id_column(tmp_path, capsys):
    path = csv_task(tmp_path, "smiles,y,compound_id", [f"{s},{i}.5,{i}" for i, s in enumerate(SMILES)])
    fails(["finetune", "--task", path, "--out", tmp_path / "run", *FT], capsys, "compound_id", "--target-columns")
    assert no_training_output(tmp_path / "run")


def test_finetune_takes_csv_task_options(tmp_path, capsys):
    """--target-columns/--smiles-column/--split reach the CSV loader (the ID column is not a target)."""
    path = csv_task(tmp_path, "mol,y,compound_id", [f"{s},{i}.5,{i}" for i, s in enumerate(SMILES)])
    out = tmp_path / "run"
    assert main(["finetune", "--task", str(path), "--smiles-column", "mol", "--target-columns", "y",
                 "--split", "random", "--out", str(out), *FT]) == 0
    runs = pd.read_csv(out / "results.csv")
    assert runs["task"].tolist() == ["t"] and (out / "seed0" / "metrics.json").is_file()
    assert "regression, metric mae" in capsys.readouterr().out


def test_finetune_names_the_rows_it_skips(tmp_path, capsys):
    """An unparsable SMILES in a user's CSV is skipped with its row named, not dropped silently."""
    rows = [f"{s},{i}.5" for i, s in enumerate(SMILES)]
    rows.insert(3, "C1CC(,9.5")
    path = csv_task(tmp_path, "smiles,y", rows)
    assert main(["finetune", "--task", str(path), "--split", "random", "--out", str(tmp_path / "run"), *FT]) == 0
    err = capsys.readouterr().err
    assert f"{len(SMILES)} of {len(SMILES) + 1} records used, 1 skipped" in err, err
    assert "C1CC(" in err and "row" in err, err


def test_finetune_one_class_split(tmp_path, capsys):
    labels = [1 if i == 0 else 0 for i in range(len(SMILES))]
    path = csv_task(tmp_path, "smiles,active", [f"{s},{y}" for s, y in zip(SMILES, labels)])
    fails(["finetune", "--task", path, "--split", "random", "--out", tmp_path / "run", *FT],
          capsys, "only one class", "ROC-AUC")
    assert no_training_output(tmp_path / "run")


def test_finetune_out_is_a_file(tmp_path, capsys):
    out = write(tmp_path / "run", "x")
    fails(["finetune", "--task", "ogbg-molesol", "--out", out, *FT], capsys, "--out", "existing file")


@NO_GPU
def test_finetune_gpu_on_cpu_machine(tmp_path, capsys):
    fails(["finetune", "--task", "ogbg-molesol", "--out", tmp_path / "run", "--accelerator", "cuda", *FT],
          capsys, "--accelerator cuda", "no CUDA")


def test_finetune_unknown_encoder(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:  # a setting's choices are the parser's
        main([str(a) for a in ["finetune", "--task", "ogbg-molesol", "--encoder", "gin", "--out", tmp_path / "run", *FT]])
    assert exit_info.value.code == 2 and "invalid choice: 'gin'" in capsys.readouterr().err
    assert no_training_output(tmp_path / "run")


def test_finetune_unknown_task(tmp_path, capsys):
    fails(["finetune", "--task", "esol", "--out", tmp_path / "run", *FT], capsys, "unknown task 'esol'")


# ---------------------------------------------------------------------------------- dnd predict

def test_predict_blank_lines_keep_rows_and_line_numbers(models, tmp_path, capsys):
    lines = ["smiles", "CCO", "", "   ", "CCN", "\t", "C1CC(", "c1ccccc1"]
    path = write(tmp_path / "in.csv", "\n".join(lines) + "\n")
    out = tmp_path / "pred.csv"
    assert main(["predict", "--model", str(models["finetuned"]), "--input", str(path), "--out", str(out)]) == 0
    table = pd.read_csv(out, keep_default_na=False)
    assert len(table) == len(lines) - 1                               # one output row per input row
    assert table["error"].tolist()[:5] == ["", "blank line", "blank line", "", "blank line"]
    assert "cannot parse SMILES 'C1CC('" in table["error"][5]
    err = capsys.readouterr().err
    assert f"{path}: row 6 (line 7): skipped: RDKit cannot parse" in err  # line 7 of the file


def test_predict_huge_molecule_is_a_row_error(models, tmp_path):
    path = write(tmp_path / "in.csv", "smiles\nCCO\n" + "C" * 10_000 + "\n")
    out = tmp_path / "pred.csv"
    assert main(["predict", "--model", str(models["finetuned"]), "--input", str(path), "--out", str(out)]) == 0
    table = pd.read_csv(out, keep_default_na=False)
    assert table["error"][0] == "" and "more than the limit of 1000" in table["error"][1]


def test_predict_missing_model(molecules, tmp_path, capsys):
    fails(["predict", "--model", tmp_path / "m.ckpt", "--input", molecules, "--out", tmp_path / "p.csv"],
          capsys, "m.ckpt", "not found")
    assert not (tmp_path / "p.csv").exists()


def test_predict_teacher_as_model(models, molecules, tmp_path, capsys):
    fails(["predict", "--model", models["teacher"], "--input", molecules, "--out", tmp_path / "p.csv"],
          capsys, str(models["teacher"]), "not a finetuned model")
    assert not (tmp_path / "p.csv").exists()


def test_predict_corrupt_model(models, molecules, tmp_path, capsys):
    fails(["predict", "--model", models["corrupt"], "--input", molecules, "--out", tmp_path / "p.csv"],
          capsys, str(models["corrupt"]), "not a readable checkpoint")


def test_predict_missing_input(models, tmp_path, capsys):
    fails(["predict", "--model", models["finetuned"], "--input", tmp_path / "in.csv", "--out", tmp_path / "p.csv"],
          capsys, "in.csv", "not found")


def test_predict_corrupt_gzip_input(models, tmp_path, capsys):
    path = write(tmp_path / "in.csv.gz", b"\x1f\x8b\x08\x00" + GARBAGE)
    fails(["predict", "--model", models["finetuned"], "--input", path, "--out", tmp_path / "p.csv"],
          capsys, str(path), "cannot read as CSV")
    assert not (tmp_path / "p.csv").exists()


def test_predict_binary_garbage_sdf(models, tmp_path, capsys):
    path = write(tmp_path / "in.sdf", GARBAGE)
    fails(["predict", "--model", models["finetuned"], "--input", path, "--out", tmp_path / "p.csv"],
          capsys, str(path), "not an SDF file")
    assert not (tmp_path / "p.csv").exists()


def test_predict_wrong_smiles_column(models, molecules, tmp_path, capsys):
    fails(["predict", "--model", models["finetuned"], "--input", molecules, "--smiles-column", "SMILES",
           "--out", tmp_path / "p.csv"], capsys, str(molecules), "no column 'SMILES'", "--smiles-column")


def test_predict_out_is_a_folder(models, molecules, tmp_path, capsys):
    (tmp_path / "outdir").mkdir()
    fails(["predict", "--model", models["finetuned"], "--input", molecules, "--out", tmp_path / "outdir"],
          capsys, "--out", "existing folder")


@NO_GPU
def test_predict_cuda_on_cpu_machine(models, molecules, tmp_path, capsys):
    fails(["predict", "--model", models["finetuned"], "--input", molecules, "--out", tmp_path / "p.csv",
           "--accelerator", "cuda"], capsys, "--accelerator cuda", "no CUDA")


def test_predict_bad_device_name(models, molecules, tmp_path, capsys):
    fails(["predict", "--model", models["finetuned"], "--input", molecules, "--out", tmp_path / "p.csv",
           "--accelerator", "gpu0"], capsys, "--accelerator 'gpu0'")


# ---------------------------------------------------------------------------------- dnd embed

def test_embed_blank_lines_keep_rows(models, tmp_path):
    path = write(tmp_path / "in.csv", "smiles\nCCO\n\nCCN\n")
    out = tmp_path / "emb.npy"
    assert main(["embed", "--model", str(models["student"]), "--input", str(path), "--out", str(out)]) == 0
    emb = np.load(out)
    assert emb.shape[0] == 3 and np.isnan(emb[1]).all() and np.isfinite(emb[[0, 2]]).all()


def test_embed_bad_output_suffix(models, molecules, tmp_path, capsys):
    fails(["embed", "--model", models["student"], "--input", molecules, "--out", tmp_path / "e.txt"],
          capsys, "e.txt", ".npy or .csv")


def test_embed_teacher_as_model(models, molecules, tmp_path, capsys):
    fails(["embed", "--model", models["teacher"], "--input", molecules, "--out", tmp_path / "e.npy"],
          capsys, str(models["teacher"]), "3D teacher checkpoint")
    assert not (tmp_path / "e.npy").exists()


@NO_GPU
def test_embed_cuda_on_cpu_machine(models, molecules, tmp_path, capsys):
    fails(["embed", "--model", models["student"], "--input", molecules, "--out", tmp_path / "e.npy",
           "--accelerator", "cuda:0"], capsys, "--accelerator cuda:0")


def test_embed_garbage_sdf(models, tmp_path, capsys):
    path = write(tmp_path / "in.sdf.gz", b"\x1f\x8b\x08\x00" + GARBAGE)
    fails(["embed", "--model", models["student"], "--input", path, "--out", tmp_path / "e.npy"],
          capsys, str(path), "cannot read as SDF")
    assert not (tmp_path / "e.npy").exists()


def test_embed_out_is_a_folder(models, molecules, tmp_path, capsys):
    (tmp_path / "e.npy").mkdir()
    fails(["embed", "--model", models["student"], "--input", molecules, "--out", tmp_path / "e.npy"],
          capsys, "existing folder")


# ---------------------------------------------------------------------------------- dnd run

RUN_BASE = "name: x\nmethods: [randinit]\nreadouts: [mp]\nseeds: [0]\ntasks: [ogbg-molesol]\n"


@pytest.mark.parametrize("yaml_text,needles", [
    ("name: x\nseeds: zero\n", ["seeds", "list of int", "'zero'"]),
    ("name: x\ntasks: ogbg-molesol\n", ["tasks", "[ogbg-molesol]"]),
    ("name: x\ntasks: [ogbg-molfoo]\n", ["tasks", "unknown task 'ogbg-molfoo'"]),
    ("name: x\nreadouts: [mp, sum]\n", ["readouts", "'sum'"]),
    ("name: x\nmethods: randinit\n", ["methods", "[randinit]"]),
    ("name: x\nfinetune: {lr: 1e-3}\n", ["finetune: lr", "1.0e-3"]),
    ("name: x\nfinetune: {trainer: {max_epochs: ten}}\n", ["finetune.trainer: max_epochs", "'ten'"]),
    ("name: x\ncorpus: {source: sdf, path: /no/such.sdf}\n", ["corpus.path", "/no/such.sdf"]),
    ("name: x\ncorpus: {source: xyz}\n", ["corpus: source", "'xyz'"]),
    (RUN_BASE + "task_options: {'*': {target_columns: y}}\n", ["task_options", "target_columns"]),
    (RUN_BASE + "task_options: {ogbg-molfoo: {}}\n", ["task_options", "ogbg-molfoo"]),
    ("name: x\nlearning_rate: 1\n", ["unknown setting 'learning_rate'"]),
    ("name: x\ntasks: [/no/such/task.csv]\n", ["CSV file /no/such/task.csv not found"]),
    ("name: [x\n", ["not a readable YAML file"]),
    ("name: x\nworkers: 0\n", ["workers"]),
])
def test_run_check_rejects_bad_config(tmp_path, capsys, monkeypatch, yaml_text, needles):
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path / "exp.yaml", yaml_text)
    fails(["run", path, "--check"], capsys, str(path), *needles)
    assert not (tmp_path / "results").exists() and not (tmp_path / "runs").exists()


def test_run_check_reads_csv_task_headers(tmp_path, capsys, monkeypatch):
    """An ID column in a CSV task is caught by --check, not after pretraining."""
    monkeypatch.chdir(tmp_path)
    task = csv_task(tmp_path, "smiles,y,compound_id", [f"{s},{i}.5,{i}" for i, s in enumerate(GOOD_SMILES)])
    path = write(tmp_path / "exp.yaml", f"name: x\nmethods: [randinit]\ntasks: [{task}]\n")
    fails(["run", path, "--check"], capsys, str(path), "y, compound_id", "target_columns")
    write(path, f"name: x\nmethods: [randinit]\ntasks: [{task}]\ntask_options: {{'*': {{target_columns: y}}}}\n")
    assert main(["run", str(path), "--check"]) == 0


def test_run_missing_config(tmp_path, capsys):
    fails(["run", tmp_path / "none.yaml", "--check"], capsys, "none.yaml", "not found")


def test_run_check_accepts_a_good_config(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path / "exp.yaml", RUN_BASE)
    assert main(["run", str(path), "--check"]) == 0
    assert "1 finetuning runs" in capsys.readouterr().out


# ---------------------------------------------------------------------------------- bugs

def test_a_bug_keeps_its_traceback_and_asks_for_a_report(monkeypatch, capsys):
    import dnd.cli.predict as predict

    def boom(args):
        raise RuntimeError("internal invariant broken")

    monkeypatch.setattr(predict, "run", boom)
    code = main(["predict", "--model", "m", "--input", "i", "--out", "o"])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" in err and "internal invariant broken" in err and "please report" in err


# ---------------------------------------------------------------------------------- library guards

def test_teacher_refuses_a_multi_molecule_batch_without_z_batch():
    """PyG's DataLoader without follow_batch=['z'] must not be read as one big molecule."""
    from torch_geometric.loader import DataLoader

    from dnd.data.embedded import qm9_paired
    from dnd.data.loader import make_loader
    from dnd.models.config import teacher_preset
    from dnd.models.teacher import Teacher, atom_batch

    records = qm9_paired(limit=3)
    teacher = Teacher(teacher_preset("tiny"))
    bare = next(iter(DataLoader(records, batch_size=3)))
    with pytest.raises(ValueError, match="batch of 3 molecules has no `z_batch`"):
        teacher(bare)
    good = next(iter(make_loader(records, 3)))
    assert atom_batch(good).max().item() == 2 and teacher(good)[0].shape[0] == good.z.numel()
    single = next(iter(DataLoader(records[:1], batch_size=1)))
    assert atom_batch(single).eq(0).all()
