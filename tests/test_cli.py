"""The command line's conventions: every verb's parser builds, old option names are gone, user errors end in one line and exit code 2, and `dnd plot-curves` reads the
log of every stage, finetuning included."""

import pandas as pd
import pytest

from dnd.cli.main import COMMANDS, build_parser, main
from finetune_fixtures import train_tiny


@pytest.mark.parametrize("verb", list(COMMANDS))
def test_every_verb_has_help(verb, capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args([verb, "--help"])
    assert exit_info.value.code == 0
    assert "usage: dnd " + verb in capsys.readouterr().out


@pytest.mark.parametrize("argv", [
    ["finetune", "--task", "t", "--out", "o", "--task-cache", "C"],
    ["data", "task", "bp", "--root", "R"],
    ["predict", "--model", "m", "--input", "i", "--out", "o", "--device", "cuda:1"],
    ["finetune", "--task", "t", "--out", "o", "--epochs", "3"],
    ["finetune", "--task", "t", "--out", "o", "--raw-targets"],
    ["distill", "--teacher", "t", "--out", "o", "--encoder-config", "{}"],
])
def test_old_option_names_are_gone(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(argv)
    assert exit_info.value.code == 2 and "unrecognized arguments" in capsys.readouterr().err


def test_new_option_names(capsys):
    args = build_parser().parse_args(["data", "task", "bp", "--data-root", "R", "--split-seed", "2"])
    assert (args.data_root, args.split_seed) == ("R", 2)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("argv, message", [
    (["predict", "--model", "missing.ckpt", "--input", "x.csv", "--out", "o.csv"],
     "dnd predict: error: missing.ckpt: checkpoint file not found"),
    (["denoise", "--source", "qm9", "--out", "o"], "dnd denoise: error: --source qm9 needs --path FILE"),
    (["label-efficiency", "none.csv", "--out", "o.png"], "dnd label-efficiency: error: none.csv: results file not found"),
    (["run", "none.yaml", "--check"], "dnd run: error: none.yaml: experiment config not found"),
])
def test_user_errors_are_one_line_and_exit_2(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.strip() == message


def test_plot_curves_reads_a_finetune_log(tmp_path):
    run = tmp_path / "ft"
    train_tiny(run, epochs=2)
    table = tmp_path / "curves.csv"
    assert main(["plot-curves", str(run), "--out", str(tmp_path / "c.png"), "--table", str(table)]) == 0
    curves = pd.read_csv(table)
    assert curves["epoch"].tolist() == [1, 2] and set(curves["run"]) == {"ft"}
    assert curves["train_loss"].notna().all() and curves["val_loss"].notna().all()
    logged = pd.read_csv(run / "logs" / "metrics.csv")
    assert {"train/loss_epoch", "val/loss"} <= set(logged.columns)


def test_plot_curves_reads_logs_from_before_the_key_change(tmp_path):
    log = tmp_path / "old" / "logs" / "metrics.csv"
    log.parent.mkdir(parents=True)
    log.write_text("epoch,step,train_loss_epoch,val_loss\n0,9,0.5,\n0,9,,0.6\n1,19,0.4,\n1,19,,0.45\n")
    assert main(["plot-curves", str(tmp_path / "old"), "--out", str(tmp_path / "c.png"),
                 "--table", str(tmp_path / "t.csv")]) == 0
    assert pd.read_csv(tmp_path / "t.csv")[["train_loss", "val_loss"]].values.tolist() == [[0.5, 0.6], [0.4, 0.45]]


def test_plot_curves_names_a_missing_log(tmp_path, capsys):
    assert main(["plot-curves", str(tmp_path / "nothing"), "--out", str(tmp_path / "c.png")]) == 2
    assert "no metrics.csv here" in capsys.readouterr().err


def test_attention_uses_held_out_molecules_of_the_corpus(tmp_path, capsys):
    """`dnd attention` selects molecules like every stage (dnd.data.corpus): the first of the
    validation split, not the first of the file."""
    from dnd.analysis.attention import build_student, head_statistics
    from dnd.data.config import CorpusConfig
    from dnd.data.corpus import load_corpus, split_records

    png = tmp_path / "att.png"
    assert main(["attention", "--student", "R=random:tiny", "--molecules", "12", "--sample", "400",
                 "--out", str(png)]) == 0
    table = pd.read_csv(png.with_suffix(".csv"))
    _, held_out = split_records(load_corpus(CorpusConfig(sample=400)), 0.05, 0)
    expected = head_statistics(build_student("random:tiny"), held_out[:12])["abs_r"].ravel()
    assert png.is_file() and table["abs_r"].to_numpy() == pytest.approx(expected)


def test_lightning_adverts_are_dropped_at_their_logger():
    import logging

    import dnd.training.trainer  # noqa: F401  (installs the filter)

    logger = logging.getLogger("lightning.pytorch.utilities.rank_zero")

    def record(msg):
        return logging.LogRecord(logger.name, logging.INFO, __file__, 1, msg, None, None)

    assert not logger.filter(record("💡 Tip: For seamless cloud logging, try installing [litlogger]"))
    assert logger.filter(record("GPU available: False, used: False"))


def test_lightnings_leafspec_deprecation_is_silenced_and_nothing_else(tmp_path):
    """Every fit printed torch's LeafSpec deprecation through Lightning; only that one goes."""
    import warnings

    from lightning.pytorch.utilities._pytree import _tree_flatten

    from dnd.training.config import TrainerConfig
    from dnd.training.trainer import build_trainer

    build_trainer(TrainerConfig(max_epochs=1, progress=False), tmp_path / "run")

    with warnings.catch_warnings(record=True) as caught:
        _tree_flatten(0)
        warnings.warn("another future change", FutureWarning)
    assert [str(w.message) for w in caught] == ["another future change"]
