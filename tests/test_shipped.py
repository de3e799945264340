"""The pretrained models shipped inside the package: they load from `dnd:NAME` everywhere a
checkpoint is taken, with weights_only, and the newcomer's path (finetune one, predict) works."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.data import Batch

from dnd.data.featurize import smiles_to_graph
from dnd.models.checkpoint import load_encoder
from dnd.models.shipped import available, resolve, shipped_dir
from dnd.models.teacher import load_teacher
from dnd.models.checkpoint import CheckpointError
from dnd.errors import UsageError


def _main(*args):
    from dnd.cli import main
    return main([str(a) for a in args])


def test_shipped_models_are_small_documented_and_plain():
    models = available()
    assert {"dmpnn-node-druglike", "dmpnn-graph-druglike", "teacher-druglike", "dmpnn-xtb-moses",
            "dmpnn-ani2x-moses", "tokengt-xtb-moses"} <= set(models)
    assert sum(p.stat().st_size for p in models.values()) <= 15e6
    for name, path in models.items():
        card = (shipped_dir() / f"{name}.md").read_text(encoding="utf-8")
        assert card.startswith("# ") and "Licence of the data" in card and "Final losses" in card
        ckpt = torch.load(path, weights_only=True)  # tensors and plain containers only
        assert set(ckpt) == {"state_dict", "hyper_parameters"}


def test_shipped_students_and_teacher_rebuild_from_dnd_names():
    b = Batch.from_data_list([smiles_to_graph(s) for s in ("CCO", "c1ccccc1C(=O)O", "CN1CCC1")])
    for name in ("dmpnn-node-druglike", "dmpnn-graph-druglike", "dmpnn-xtb-moses", "dmpnn-ani2x-moses"):
        enc = load_encoder(f"dnd:{name}")
        assert enc.name == "dmpnn" and enc.hidden_dim == 300 and not enc.training
        assert enc(b).node.shape == (b.num_nodes, 300)
    teacher = load_teacher("dnd:teacher-druglike")
    assert not any(p.requires_grad for p in teacher.parameters())
    # distilled, not random: the two variants learned different weights from the same init seed
    a = load_encoder("dnd:dmpnn-node-druglike").state_dict()["message_passing.W_h.weight"]
    g = load_encoder("dnd:dmpnn-graph-druglike").state_dict()["message_passing.W_h.weight"]
    assert not torch.equal(a, g)
    # the chemistry-aware foundations say which teacher made them
    for name, teacher in (("dmpnn-xtb-moses", "xtb"), ("dmpnn-ani2x-moses", "ani2x"), ("tokengt-xtb-moses", "xtb")):
        hp = torch.load(available()[name], weights_only=True)["hyper_parameters"]
        assert hp["teacher_name"] == teacher and hp["stage"] == "distill"
    tokengt = load_encoder("dnd:tokengt-xtb-moses")
    assert tokengt.name == "tokengt" and not tokengt.training
    assert tokengt(b).node.shape[0] == b.num_nodes


def test_unknown_shipped_name_is_one_clear_error(capsys):
    with pytest.raises(FileNotFoundError, match="dnd:dmpnn-node-druglike"):
        resolve("dnd:nope")
    with pytest.raises(CheckpointError, match="no shipped model"):
        load_encoder("dnd:nope")
    assert _main("models", "nope") == 2
    assert "no shipped model" in capsys.readouterr().err


def test_models_command_lists_and_prints_cards(capsys):
    assert _main("models") == 0
    out = capsys.readouterr().out
    assert "dnd:dmpnn-node-druglike" in out and "MB" in out
    assert _main("models", "dnd:teacher-druglike") == 0
    assert "TorchMD" in capsys.readouterr().out


def test_export_a_shipped_student(tmp_path):
    assert _main("export", "chemprop", "dnd:dmpnn-node-druglike", "--out", tmp_path / "fm.pt") == 0
    assert (tmp_path / "fm.pt").stat().st_size > 100_000


def test_quickstart_shipped_path_trains_chemprop_from_the_foundation_and_predicts(tmp_path):
    """The quickstart's first path is the recommended command: the shipped xTB foundation exported,
    `chemprop train --from-foundation` on the embedded ESOL with dnd's split, its test metric
    computed by dnd's evaluator from chemprop's predictions, and one prediction row per demo
    SMILES, the unreadable one kept with its reason."""
    import pandas as pd
    from chemprop.models import MPNN

    from dnd.experiment.config import QuickstartConfig
    from dnd.experiment.quickstart import DEMO_SMILES, SHIPPED_MODEL, run_quickstart

    out = run_quickstart(QuickstartConfig(shipped_epochs=3, pipeline=False), tmp_path)
    result = out["shipped"]
    assert result["metric"] == "rmse" and 0.5 < result["test"] < 3.0
    # chemprop started from the foundation's message passing, not from a random one
    foundation = MPNN.load_from_file(tmp_path / "shipped" / f"{SHIPPED_MODEL}.chemprop.pt")
    student = load_encoder(f"dnd:{SHIPPED_MODEL}")
    assert foundation.message_passing.W_i.weight.shape[0] == student.hidden_dim
    preds = pd.read_csv(tmp_path / "shipped" / "predictions.csv")
    assert preds["smiles"].tolist() == DEMO_SMILES
    bad = preds["error"].notna()
    assert bad.sum() == 1 and "C1CC(invalid" in preds.loc[bad, "smiles"].tolist()
    assert preds.loc[~bad].filter(like="pred_").notna().all().all() and preds.loc[bad].filter(like="pred_").isna().all().all()
    with pytest.raises(UsageError, match="--shipped-epochs 2"):
        run_quickstart(QuickstartConfig(shipped_epochs=2, pipeline=False), tmp_path / "short")

def test_a_reader_that_stops_early_ends_the_command_quietly():
    """`dnd models NAME | head` used to end in a BrokenPipeError traceback and the bug hint."""
    import subprocess
    import sys
    proc = subprocess.Popen([sys.executable, "-m", "dnd.cli.main", "models", "dmpnn-xtb-moses"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before the command writes a byte
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141
    assert "Traceback" not in err and "BrokenPipe" not in err and "bug in dnd" not in err
