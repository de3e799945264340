"""`dnd predict` and `dnd embed`: predictions in task units, input order kept, bad rows flagged, from CSV and SDF."""

import numpy as np
import pandas as pd
import pytest
from rdkit import Chem

from dnd.cli import main
from dnd.data.featurize import smiles_to_graph
from dnd.inference.embed import embed_file
from dnd.inference.inputs import read_molecules
from dnd.models.property import load_property_model, predict_records
from finetune_fixtures import train_tiny

BAD = ["not_a_smiles", "", "C1CC", "[*]CC"]  # unparsable, empty, unclosed ring, OGB-unencodable dummy atom


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return train_tiny(tmp_path_factory.mktemp("ft"), epochs=1)["checkpoint"]


@pytest.fixture
def molecules_csv(tmp_path):
    rows = ["CCO", BAD[0], "c1ccccc1O", BAD[1], "CC(=O)N", BAD[2], BAD[3], "CCCCCCCC"]
    df = pd.DataFrame({"id": [f"m{i}" for i in range(len(rows))], "SMILES": rows, "note": "x"})
    path = tmp_path / "molecules.csv"
    df.to_csv(path, index=False)
    return path, rows


def test_predict_keeps_order_flags_bad_rows_and_matches_model(ckpt, molecules_csv, tmp_path, capsys):
    path, rows = molecules_csv
    out = tmp_path / "preds.csv"
    assert main(["predict", "--model", ckpt, "--input", str(path), "--smiles-column", "SMILES",
                 "--out", str(out)]) == 0
    table = pd.read_csv(out, keep_default_na=False)
    assert table["id"].tolist() == [f"m{i}" for i in range(len(rows))]
    assert list(table.columns) == ["id", "SMILES", "note", "pred_size", "error"]
    bad = table["SMILES"].isin(BAD).to_numpy()
    assert (table.loc[bad, "error"] != "").all() and (table.loc[~bad, "error"] == "").all()
    assert (table.loc[bad, "pred_size"] == "").all()
    model = load_property_model(ckpt)
    good = [s for s in rows if s not in BAD]
    expected = predict_records(model, [smiles_to_graph(s) for s in good])[:, 0]
    np.testing.assert_allclose(table.loc[~bad, "pred_size"].astype(float), expected, rtol=1e-5)
    # bad rows are reported with file and position on stderr
    err = capsys.readouterr().err
    assert f"{path}: row 2 (line 3)" in err and f"{path}: row 7 (line 8)" in err and "atomic number 0" in err


def test_predict_reads_sdf_including_unreadable_records(ckpt, tmp_path):
    sdf = tmp_path / "in.sdf"
    blocks = []
    for s in ["CCO", "c1ccccc1"]:
        m = Chem.AddHs(Chem.MolFromSmiles(s))
        m.SetProp("_Name", s)
        blocks.append(Chem.MolToMolBlock(m) + "$$$$\n")
    broken = "broken\n  junk\n\n  2  9  0  0  0  0  0  0  0  0999 V2000\nnonsense\nM  END\n$$$$\n"
    sdf.write_text(blocks[0] + broken + blocks[1])
    out = tmp_path / "p.csv"
    assert main(["predict", "--model", ckpt, "--input", str(sdf), "--out", str(out)]) == 0
    table = pd.read_csv(out, keep_default_na=False)
    assert table["record"].tolist() == [0, 1, 2] and table["name"].tolist() == ["CCO", "", "c1ccccc1"]
    assert table["error"].tolist()[1] != "" and table["error"].tolist()[0] == table["error"].tolist()[2] == ""
    expected = predict_records(load_property_model(ckpt), [smiles_to_graph("CCO"), smiles_to_graph("c1ccccc1")])[:, 0]
    np.testing.assert_allclose(table["pred_size"].iloc[[0, 2]].astype(float), expected, rtol=1e-5)


def test_predict_without_smiles_column_fails_cleanly(ckpt, molecules_csv, tmp_path, capsys):
    path, _ = molecules_csv
    assert main(["predict", "--model", ckpt, "--input", str(path), "--out", str(tmp_path / "o.csv")]) == 2
    assert "no column 'smiles'" in capsys.readouterr().err


def test_embed_graph_and_node_embeddings(ckpt, molecules_csv, tmp_path):
    path, rows = molecules_csv
    emb = embed_file(ckpt, path, tmp_path / "emb.npy", smiles_column="SMILES", nodes=True)
    saved = np.load(tmp_path / "emb.npy")
    np.testing.assert_array_equal(saved, emb)
    bad = np.array([s in BAD for s in rows])
    assert np.isnan(saved[bad]).all() and np.isfinite(saved[~bad]).all()
    nodes = np.load(tmp_path / "emb_nodes.npz")
    n_atoms = [smiles_to_graph(s).num_nodes for s in rows if s not in BAD]
    assert nodes["embeddings"].shape == (sum(n_atoms), saved.shape[1])
    assert sorted(set(nodes["row"].tolist())) == np.flatnonzero(~bad).tolist()
    # mean-pooled readout == mean of that molecule's node embeddings
    first = nodes["embeddings"][nodes["row"] == 0]
    np.testing.assert_allclose(first.mean(0), saved[0], rtol=1e-5, atol=1e-6)
    csv = tmp_path / "emb.csv"
    assert main(["embed", "--model", ckpt, "--input", str(path), "--smiles-column", "SMILES",
                 "--out", str(csv)]) == 0
    table = pd.read_csv(csv, keep_default_na=False)
    assert table["id"].tolist() == [f"m{i}" for i in range(len(rows))]
    np.testing.assert_allclose(table.loc[~bad, "emb_0"].astype(float), saved[~bad, 0], rtol=1e-5)


def test_read_molecules_reports_every_row(molecules_csv):
    path, rows = molecules_csv
    inputs = read_molecules(path, "SMILES")
    assert len(inputs.graphs) == len(rows)
    assert [g is None for g in inputs.graphs] == [s in BAD for s in rows]
