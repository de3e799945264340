"""The sharded, resumable conformer corpus and the MOSES download path (on local files)."""

from __future__ import annotations

import gzip
import hashlib
import zipfile

import pytest
import torch

from dnd.data import conformer_corpus as cc
from dnd.data.report import DataFileError

SMILES = ["CCO", "c1ccccc1O", "CC(=O)[O-].[Na+]", "not-a-smiles", "CCN(CC)CC", "O=C(O)c1ccccc1",
          "CC#N", "C1CCOC1", "CC(C)Cc1ccc(cc1)C(C)C(=O)O", "*C", "Clc1ccccc1"]


@pytest.fixture
def smiles_csv(tmp_path):
    path = tmp_path / "mols.csv.gz"
    with gzip.open(path, "wt") as f:
        f.write("SMILES\n" + "\n".join(SMILES) + "\n")
    return path


def _cfg(path, **kw):
    return cc.BuildConfig(smiles_file=str(path), chunk_size=3, **kw)


def _run(*args):
    from dnd.cli import main
    return main([str(a) for a in args])


def test_shards_cover_every_chunk_once_and_merge_equals_one_build(smiles_csv, tmp_path):
    one = tmp_path / "one"
    cc.build_shard(_cfg(smiles_csv), one, workers=1)
    arr = tmp_path / "array"
    built = [cc.build_shard(_cfg(smiles_csv), arr, (i, 3), workers=1)["chunks_built"] for i in range(3)]
    assert built == [2, 1, 1]  # 4 chunks of 3 rows: k mod 3
    a = cc.load_records_file(cc.merge(one))
    b = cc.load_records_file(cc.merge(arr))
    assert [r.mol_id for r in a] == [r.mol_id for r in b]
    assert len(a) == len(SMILES) - 2  # the unparsable SMILES and the dummy atom: reported
    for x, y in zip(a, b):
        assert torch.equal(x.pos, y.pos) and torch.equal(x.cp_x, y.cp_x)
    report = cc.cache.load(one / "records.pt")[1]
    assert report.n_bad == 2 and any("not-a-smiles" in str(e) for e in report.entries)
    assert [r.smiles for r in a][2] == "CC(=O)[O-]"  # salts keep their largest fragment


def test_resume_skips_finished_chunks_and_partial_merge_names_the_gap(smiles_csv, tmp_path):
    out = tmp_path / "b"
    cc.build_shard(_cfg(smiles_csv), out, (0, 2), workers=1)
    with pytest.raises(DataFileError, match=r"chunks \[1, 3\] are not built"):
        cc.merge(out)
    first = cc.merge(out, tmp_path / "first.pt", first=1)
    assert len(cc.load_records_file(first)) == 3
    again = cc.build_shard(_cfg(smiles_csv), out, (0, 2), workers=1)
    assert again["chunks_built"] == 0 and again["chunks_skipped"] == 2
    (out / "chunks" / "chunk-00000.pt").write_bytes(b"truncated")  # a killed write: rebuilt
    assert cc.build_shard(_cfg(smiles_csv), out, (0, 2), workers=1)["chunks_built"] == 1
    with pytest.raises(DataFileError, match="other options"):
        cc.build_shard(_cfg(smiles_csv, seed=1), out, (1, 2), workers=1)


def test_conformers_command_builds_merges_and_reports_speed(smiles_csv, tmp_path, capsys):
    out = tmp_path / "cli"
    assert _run("data", "conformers", smiles_csv, "--out", out, "--chunk-size", 4, "--workers", 1,
                "--merge") == 0
    text = capsys.readouterr().out
    assert "merged 9 molecules" in text and "failure rate 18.18%" in text
    assert _run("data", "conformers", smiles_csv, "--out", out, "--shard", "3/2") == 2
    assert "need 0 <= I < N" in capsys.readouterr().err
    assert _run("data", "conformers", tmp_path / "missing.csv", "--out", tmp_path / "m") == 2
    assert "file not found" in capsys.readouterr().err
    assert _run("data", "conformers", smiles_csv, "--out", tmp_path / "z", "--chunk-size", 0) == 2
    assert "--chunk-size must be at least 1" in capsys.readouterr().err
    assert not (tmp_path / "z").exists()
    with pytest.raises(DataFileError, match="not a records file"):
        cc.load_records_file(smiles_csv)  # a user's wrong file is an error, never "re-processed"


def _wheel(path, csv_bytes):
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(cc.MOSES_MEMBER, csv_bytes)
    return path


def test_fetch_moses_from_a_wheel_checks_the_checksum(tmp_path, capsys):
    data = gzip.compress(b"SMILES,SPLIT\nCCO,train\n")
    wheel = _wheel(tmp_path / "molsets-0.3.1-py3-none-any.whl", data)
    dest = cc.fetch_moses(tmp_path / "moses.csv.gz", wheel, hashlib.sha256(data).hexdigest())
    assert dest.read_bytes() == data
    # the real checksum: this fake file is refused, by the library and by the command
    with pytest.raises(DataFileError, match="sha256"):
        cc.fetch_moses(tmp_path / "other.csv.gz", wheel)
    assert _run("data", "moses", "--out", tmp_path / "x.csv.gz", "--wheel", wheel) == 2
    assert "expected 786f0313" in capsys.readouterr().err
    assert not (tmp_path / "x.csv.gz").exists()
    (tmp_path / "bad.whl").write_bytes(b"not a zip")
    assert _run("data", "moses", "--out", tmp_path / "y.csv.gz", "--wheel", tmp_path / "bad.whl") == 2
    assert "not a molsets wheel" in capsys.readouterr().err


def test_parse_shard():
    assert cc.parse_shard("3/16") == (3, 16)
    for bad in ("3", "a/b", "2/2", "-1/4"):
        with pytest.raises(ValueError, match="--shard"):
            cc.parse_shard(bad)
