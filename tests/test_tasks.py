"""Downstream tasks on the real OGB / MoleculeNet / physprop files: OGB splits honoured exactly,
OGB metadata read from ogb, MoleculeNet-built tasks, curated split and standardisation."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest
import torch

from dnd.data.report import DataFileError, Report
from dnd.data.tasks.base import TaskSpec
from dnd.data.tasks import load_task
from dnd.data.tasks import ogb as ogb_mod
from dnd.data.tasks.curated import _prepare_mp
from dnd.data.tasks.ogb import ogb_metadata

OGB_COUNTS = {"ogbg-molesol": (902, 113, 113), "ogbg-molfreesolv": (513, 64, 65),
              "ogbg-molbace": (1210, 151, 152), "ogbg-molbbbp": (1631, 204, 204)}


def _need(shared_data, rel):
    if not (shared_data / rel).exists():
        pytest.skip(f"real dataset file not present: {shared_data / rel}")
    return shared_data / rel


@pytest.fixture(autouse=True)
def _no_env_root(monkeypatch):
    monkeypatch.delenv("DND_DATA", raising=False)


_LOADED: dict = {}


def _ogb(shared_data, name):
    """Each real OGB task is featurised once per test session (the suite's time budget)."""
    if name not in _LOADED:
        _need(shared_data, f"ogb/{name.replace('-', '_')}")
        _LOADED[name] = load_task(name, root=shared_data / "ogb")
    return _LOADED[name]


# ----------------------------------------------------------------------------- OGB

def test_ogb_metadata_comes_from_ogb(monkeypatch):
    assert ogb_metadata("ogbg-molesol") == {"task_type": "regression", "metric": "rmse",
                                            "num_tasks": 1}
    assert ogb_metadata("ogbg-molbbbp") == {"task_type": "classification", "metric": "rocauc",
                                            "num_tasks": 1}
    assert ogb_metadata("ogbg-moltoxcast")["num_tasks"] == 617
    assert ogb_metadata("ogbg-molsider")["num_tasks"] == 27
    # proof that nothing is hard-coded: an edited OGB table changes the answer
    edited = ogb_mod._master().copy()
    edited.loc["eval metric", "ogbg-molesol"] = "mae"
    monkeypatch.setattr(ogb_mod, "_master", lambda: edited)
    assert ogb_metadata("ogbg-molesol")["metric"] == "mae"
    with pytest.raises(KeyError, match="not an OGB graph property dataset"):
        ogb_metadata("ogbg-molnothing")


@pytest.mark.parametrize("name", list(OGB_COUNTS))
def test_ogb_split_files_honoured_exactly(shared_data, name):
    folder = _need(shared_data, f"ogb/{name.replace('-', '_')}")
    td = _ogb(shared_data, name)
    assert (len(td.train), len(td.valid), len(td.test)) == OGB_COUNTS[name]
    mol = pd.read_csv(folder / "mapping" / "mol.csv.gz")
    label_col = [c for c in mol.columns if c not in ("smiles", "mol_id")][0]
    for part in ("train", "valid", "test"):
        rows = pd.read_csv(folder / "split" / "scaffold" / f"{part}.csv.gz", header=None)[0]
        recs = td.splits[part]
        assert [r.smiles for r in recs] == mol["smiles"].iloc[rows].tolist()
        assert np.allclose(td.labels(part)[:, 0], mol[label_col].iloc[rows].to_numpy())
    meta = ogb_metadata(name)
    assert (td.spec.task_type, td.spec.metric, td.spec.num_tasks) == (
        meta["task_type"], meta["metric"], meta["num_tasks"])
    r = td.train[0]
    assert r.x.dtype == torch.long and r.x.shape[1] == 9 and r.edge_attr.shape[1] == 3
    assert r.y.shape == (1, 1) and r.y.dtype == torch.float32


def test_ogb_regression_standardised_on_train_in_original_units(shared_data):
    _need(shared_data, "ogb/ogbg_molfreesolv")
    td = load_task("ogbg-molfreesolv", root=shared_data)   # data tree root: finds ogb/ itself
    y_train = td.labels("train")[:, 0]
    assert td.spec.standardize
    assert td.spec.mean[0] == pytest.approx(y_train.mean(), abs=1e-5)
    assert td.spec.std[0] == pytest.approx(y_train.std(), abs=1e-5)
    all_y = np.concatenate([td.labels(p)[:, 0] for p in ("train", "valid", "test")])
    assert td.spec.mean[0] != pytest.approx(all_y.mean(), abs=1e-3)   # fitted on train only
    y = torch.from_numpy(td.labels("test"))
    z = td.spec.standardize_y(y)
    assert torch.allclose(td.spec.destandardize_y(z), y, atol=1e-5)
    assert not torch.allclose(z, y)


def test_classification_is_not_standardised(shared_data):
    td = _ogb(shared_data, "ogbg-molbace")
    assert not td.spec.standardize and td.spec.mean is None
    assert set(np.unique(td.labels("train"))) <= {0.0, 1.0}


def test_embedded_esol_loads_without_any_data_root():
    td = load_task("ogbg-molesol")
    assert td.sizes() == {"train": 902, "valid": 113, "test": 113}
    assert "embedded" in td.source["file"]


def test_missing_ogb_task_names_the_files_it_needs(shared_data, tmp_path):
    _need(shared_data, "moleculenet")
    with pytest.raises(DataFileError, match=r"ogbg-moltox21.*tox21\.csv\.gz"):
        load_task("ogbg-moltox21", root=shared_data)
    with pytest.raises(DataFileError, match="ogbg_molhiv/mapping/mol.csv.gz"):
        load_task("ogbg-molhiv", root=tmp_path)


# ----------------------------------------------------------------------------- MoleculeNet CSVs

def test_lipo_built_from_moleculenet_csv(shared_data):
    _need(shared_data, "moleculenet/lipo.csv.gz")
    td = load_task("ogbg-mollipo", root=shared_data)
    assert sum(td.sizes().values()) == 4200
    assert td.sizes() == {"train": 3360, "valid": 420, "test": 420}
    assert (td.spec.task_type, td.spec.metric) == ("regression", "rmse")
    assert td.source["layout"] == "moleculenet-csv"
    train = {r.smiles for r in td.train}
    assert not train & {r.smiles for r in td.test}


def test_clintox_multitask(shared_data):
    _need(shared_data, "moleculenet/clintox.csv.gz")
    td = load_task("ogbg-molclintox", root=shared_data)
    assert sum(td.sizes().values()) == 1477                  # OGB's count
    assert td.spec.num_tasks == 2 and td.spec.target_names == ["FDA_APPROVED", "CT_TOX"]
    assert td.train[0].y.shape == (1, 2)
    [bad] = td.report.entries                                # the dummy-atom '*' molecule
    assert "clintox.csv.gz" in bad.file and bad.record.startswith("row 0 ")
    assert "atomic number 0" in bad.reason


@pytest.mark.slow
@pytest.mark.parametrize("name,rows,tasks", [("ogbg-molhiv", 41127 - 7, 1),
                                             ("ogbg-moltoxcast", 8576, 617),
                                             ("ogbg-molsider", 1427, 27)])
def test_big_moleculenet_tasks(shared_data, tmp_path, name, rows, tasks):
    _need(shared_data, "moleculenet")
    td = load_task(name, root=shared_data, cache_dir=tmp_path)
    assert sum(td.sizes().values()) == rows and td.spec.num_tasks == tasks
    assert td.sizes()["train"] == pytest.approx(0.8 * rows, abs=1)
    again = load_task(name, root=shared_data, cache_dir=tmp_path)
    assert "cache" in again.source and again.sizes() == td.sizes()


# ----------------------------------------------------------------------------- curated sets

@pytest.fixture(scope="module")
def small_bp(shared_data, tmp_path_factory):
    """400 real boiling points as a generic SMILES + value CSV (the 'logp' path loader)."""
    src = _need(shared_data, "physprop/bp_opera.csv.gz")
    path = tmp_path_factory.mktemp("bp") / "bp400.csv"
    pd.read_csv(src).iloc[:400].to_csv(path, index=False)
    return path


def _split_smiles(td):
    return {k: [r.smiles for r in v] for k, v in td.splits.items()}


def test_curated_split_reproducible_from_seed(small_bp):
    a = load_task("logp", path=small_bp, seed=3)
    b = load_task("logp", path=small_bp, seed=3)
    c = load_task("logp", path=small_bp, seed=4)
    assert _split_smiles(a) == _split_smiles(b)
    assert _split_smiles(a)["test"] != _split_smiles(c)["test"]
    assert a.sizes() == {"train": 320, "valid": 40, "test": 40}
    assert (a.spec.metric, a.spec.task_type, a.spec.standardize) == ("mae", "regression", True)
    assert a.spec.mean[0] == pytest.approx(a.labels("train").mean(), abs=1e-4)
    assert a.spec.mean != c.spec.mean                        # refitted on the other train split


@pytest.mark.slow
def test_bp_full_set(shared_data):
    _need(shared_data, "physprop/bp_opera.csv.gz")
    td = load_task("bp", root=shared_data)
    assert sum(td.sizes().values()) == 5433 and td.spec.unit == "°C"
    y = td.labels("train")[:, 0]
    assert td.spec.mean[0] == pytest.approx(y.mean(), abs=1e-3)
    assert td.spec.std[0] == pytest.approx(y.std(), abs=1e-3)


def test_bradley_donotuse_dropped_and_repeats_averaged(shared_data):
    src = _need(shared_data, "physprop/BradleyMeltingPointDataset.csv.gz")
    full = pd.read_csv(src)
    # a real slice (original row numbers kept) with repeats and donotuse rows in it
    twice = full["smiles"][full["smiles"].duplicated()].unique()[:200]
    repeated = full.index[full["smiles"].isin(twice)]
    flagged_rows = full.index[full["donotuse"].notna()][:40]
    df = full.loc[sorted(set(range(800)) | set(repeated) | set(flagged_rows))]
    report = Report()
    out, labels, prov = _prepare_mp(df, src, "smiles", "mpC", report)
    flagged = df["donotuse"].notna()
    assert prov["dropped_donotuse"] == int(flagged.sum()) > 0
    # no compound flagged donotuse-only survives; every output SMILES is unique
    assert out["smiles"].is_unique
    assert prov["rows_merged"] > 0 and prov["compounds_with_repeats"] > 0
    assert len(out) + prov["rows_merged"] + report.n_bad == len(df) - prov["dropped_donotuse"]
    # pick a merged compound and recompute its mean from the raw rows
    k = next(i for i, lab in enumerate(labels) if "repeats averaged" in lab)
    from rdkit import Chem
    canon = out["smiles"].iloc[k]
    raw = df.loc[~flagged]
    same = [v for s, v in zip(raw["smiles"], raw["mpC"])
            if Chem.MolFromSmiles(s) is not None and Chem.MolToSmiles(Chem.MolFromSmiles(s)) == canon]
    assert len(same) > 1 and out["mpC"].iloc[k] == pytest.approx(np.mean(same))


def test_bradley_synthetic_rules(tmp_path):
    path = tmp_path / "BradleyMeltingPointDataset.csv"
    pd.DataFrame({"key": range(6), "name": list("abcdef"),
                  "smiles": ["CCO", "OCC", "c1ccccc1O", "c1ccccc1O", "CCCC", "CCN"],
                  "mpC": [-114.0, -110.0, 40.0, 1000.0, -138.0, -81.0],
                  "donotuse": [None, None, None, "x", None, None]}).to_csv(path, index=False)
    td = load_task("mp", root=tmp_path, seed=0)
    got = {r.smiles: float(r.y) for r in td.train + td.valid + td.test}
    assert got == {"CCO": -112.0, "Oc1ccccc1": 40.0, "CCCC": -138.0, "CCN": -81.0}
    assert td.source["dropped_donotuse"] == 1 and td.source["rows_merged"] == 1


def test_ri_ships_inside_the_package():
    td = load_task("ri")
    n = sum(td.sizes().values())
    assert n > 4000 and td.spec.unit == "n_D"
    y = np.concatenate([td.labels(p) for p in ("train", "valid", "test")])
    assert 1.1 < y.min() and y.max() < 2.0              # perfluorocarbons ~1.17 ... iodides
    import json
    from dnd.data.embedded import embedded_dir
    prov = json.loads((embedded_dir() / "refractive_index.provenance.json").read_text())
    assert prov["counts"]["written"] == n + td.report.n_bad
    assert prov["source_package"] == "chemicals"


# ----------------------------------------------------------------------------- spec round trip

def test_taskspec_dict_round_trip_is_checkpoint_safe(tmp_path):
    spec = TaskSpec("bp", "regression", "mae", 1, ["bp"], True, [np.float64(1.5)], [2.0], "°C")
    d = spec.to_dict()
    torch.save({"hparams": {"task": d}}, tmp_path / "c.pt")
    back = torch.load(tmp_path / "c.pt", weights_only=True)["hparams"]["task"]
    assert TaskSpec.from_dict(back) == spec
    y = np.array([[4.5]])
    assert spec.standardize_y(y)[0, 0] == pytest.approx(1.5)
    assert spec.destandardize_y(spec.standardize_y(y))[0, 0] == pytest.approx(4.5)


def test_gz_source_file_also_reads(tmp_path):
    path = tmp_path / "x.csv.gz"
    with gzip.open(path, "wt") as f:
        f.write("smiles,y\n" + "".join(f"{'C' * (i + 1)},{i}\n" for i in range(12)))
    td = load_task(str(path), split="random")
    assert sum(td.sizes().values()) == 12
