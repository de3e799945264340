"""`dnd data task|refractive-index` and the on-disk task cache."""

from __future__ import annotations

import gzip
import json
import os

import pandas as pd
import pytest
import torch

from dnd.cli import main
from dnd.data.tasks import load_task

SMILES = ["CCO", "CCN", "CCC", "c1ccccc1", "CC(=O)O", "CCCl", "CCBr", "CCOC", "OCCO", "NCCN"]


def _csv(tmp_path, values, name="prop.csv"):
    path = tmp_path / name
    pd.DataFrame({"smiles": SMILES, "logp": values}).to_csv(path, index=False)
    return path


def test_cache_reused_and_rebuilt_when_source_changes(tmp_path):
    path = _csv(tmp_path, [float(i) for i in range(10)])
    cache = tmp_path / "cache"
    first = load_task("logp", path=path, cache_dir=cache)
    assert len(list(cache.glob("task-logp-*.pt"))) == 1 and "cache" not in first.source
    again = load_task("logp", path=path, cache_dir=cache)
    assert "cache" in again.source
    for a, b in zip(first.train, again.train):
        assert a.smiles == b.smiles and torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
        assert torch.equal(a.edge_index, b.edge_index) and torch.equal(a.edge_attr, b.edge_attr)
    assert again.spec == first.spec
    _csv(tmp_path, [float(10 * i) for i in range(10)])     # changed source -> rebuilt
    changed = load_task("logp", path=path, cache_dir=cache)
    assert "cache" not in changed.source and changed.spec.mean != first.spec.mean
    assert len(list(cache.glob("task-logp-*.pt"))) == 2
    other_seed = load_task("logp", path=path, cache_dir=cache, seed=1)
    assert "cache" not in other_seed.source                 # options are part of the key


def test_cli_task_prints_splits_and_report(tmp_path, capsys):
    path = tmp_path / "bad.csv"
    pd.DataFrame({"smiles": SMILES + ["C1CC("], "y": list(range(11))}).to_csv(path, index=False)
    assert main(["data", "task", str(path), "--split", "random"]) == 0
    out = capsys.readouterr().out
    assert "splits: train 8, valid 1, test 1 (total 10)" in out
    assert "row 10 (line 12): RDKit cannot parse SMILES 'C1CC('" in out


def test_cli_task_embedded_esol(capsys):
    os.environ.pop("DND_DATA", None)
    assert main(["data", "task", "ogbg-molesol"]) == 0
    out = capsys.readouterr().out
    assert "regression, metric rmse" in out and "train 902, valid 113, test 113" in out


def test_cli_bad_input_is_one_clear_line(tmp_path, capsys):
    path = tmp_path / "p.csv"
    path.write_text("SMILES,y\nCCO,1\n")
    assert main(["data", "task", str(path)]) == 2
    err = capsys.readouterr().err
    assert "p.csv: no column 'smiles'" in err and "Traceback" not in err


@pytest.mark.slow
def test_refractive_index_build_matches_shipped_copy(tmp_path, capsys):
    pytest.importorskip("chemicals")
    out = tmp_path / "ri.csv.gz"
    assert main(["data", "refractive-index", "--out", str(out)]) == 0
    prov = json.loads((tmp_path / "ri.provenance.json").read_text())
    built = pd.read_csv(out)
    assert prov["counts"]["written"] == len(built) > 4000
    assert prov["counts"]["table_rows"] == 4490
    from dnd.data.embedded import embedded_dir
    shipped = json.loads((embedded_dir() / "refractive_index.provenance.json").read_text())
    if shipped["source_package_version"] == prov["source_package_version"]:
        shipped_csv = gzip.decompress((embedded_dir() / "refractive_index.csv.gz").read_bytes())
        assert shipped_csv == gzip.decompress(out.read_bytes())
