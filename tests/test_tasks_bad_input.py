"""Every bad input to a task loader: a message that names the file and the row, the row skipped
and counted (or the run stopped in strict mode), good rows kept."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from dnd.data.report import BadRecordError, DataFileError
from dnd.data.tasks import load_task

GOOD = ["CCO", "CCN", "CCC", "c1ccccc1", "CC(=O)O", "CCCl", "CCBr", "CCOC", "OCCO", "NCCN",
        "c1ccncc1", "CC#N"]


def _csv(tmp_path, lines, name="t.csv"):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def _rows(extra):
    """12 good regression rows plus `extra` rows appended (their data-row index = 12, 13, ...)."""
    return ["smiles,y"] + [f"{s},{i}.5" for i, s in enumerate(GOOD)] + extra


def test_unparsable_smiles_reported_with_file_and_row(tmp_path):
    path = _csv(tmp_path, _rows(["C1CC(,1.0", "c1cccc1,2.0"]))
    td = load_task(str(path), split="random")
    assert sum(td.sizes().values()) == 12 and td.report.n_ok == 12
    first, second = td.report.entries
    assert first.file == str(path) and first.record == "row 12 (line 14)"
    assert "cannot parse SMILES 'C1CC('" in first.reason
    assert second.record == "row 13 (line 15)"
    assert "row 12 (line 14)" in td.report.summary()


@pytest.mark.parametrize("value,reason", [("nan", "no finite label"), ("", "no finite label"),
                                          ("abc", "no finite label"), ("inf", "infinite label"),
                                          ("-inf", "infinite label")])
def test_bad_regression_label_reported(tmp_path, value, reason):
    path = _csv(tmp_path, _rows([f"CCCCO,{value}"]))
    td = load_task(str(path), split="random")
    [entry] = td.report.entries
    assert entry.record == "row 12 (line 14)" and reason in entry.reason and "'y'" in entry.reason
    assert all(np.isfinite(td.labels(p)).all() for p in ("train", "valid", "test"))


def test_multitask_classification_keeps_missing_labels(tmp_path):
    lines = ["smiles,a,b"] + [f"{s},{i % 2},{'' if i % 3 == 0 else (i + 1) % 2}"
                              for i, s in enumerate(GOOD)]
    lines += ["CCCCO,,", "CCCCN,1,inf"]
    td = load_task(str(_csv(tmp_path, lines)), split="scaffold", target_columns="a,b")
    assert td.spec.task_type == "classification" and td.spec.metric == "rocauc"
    assert not td.spec.standardize
    y = np.concatenate([td.labels(p) for p in ("train", "valid", "test")])
    assert len(y) == 12 and np.isnan(y[:, 1]).sum() == 4          # missing labels stay NaN
    reasons = {e.record: e.reason for e in td.report.entries}
    assert "no finite label" in reasons["row 12 (line 14)"]
    assert "infinite label in column 'b'" in reasons["row 13 (line 15)"]


def test_strict_mode_stops_at_first_bad_row(tmp_path):
    path = _csv(tmp_path, _rows(["C1CC(,1.0"]))
    with pytest.raises(BadRecordError, match=r"t\.csv: row 12 \(line 14\): RDKit cannot parse"):
        load_task(str(path), split="random", strict=True)


def test_csv_without_the_column(tmp_path):
    path = _csv(tmp_path, ["SMILES,y", "CCO,1"])
    with pytest.raises(DataFileError, match=r"t\.csv: no column 'smiles' \(columns are: SMILES, y\)"):
        load_task(str(path))
    with pytest.raises(DataFileError, match=r"no column 'logp'"):
        load_task("logp", path=_csv(tmp_path, _rows([])), target_column="logp")


def test_empty_missing_and_header_only_files(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataFileError, match=r"empty\.csv: file is empty"):
        load_task(str(empty))
    gz = tmp_path / "empty.csv.gz"
    with gzip.open(gz, "wt"):
        pass
    with pytest.raises(DataFileError, match=r"empty\.csv\.gz: file is empty"):
        load_task(str(gz))
    with pytest.raises(DataFileError, match=r"nope\.csv: file not found"):
        load_task(str(tmp_path / "nope.csv"))
    with pytest.raises(DataFileError, match=r"header\.csv: file has a header but no data rows"):
        load_task(str(_csv(tmp_path, ["smiles,y"], "header.csv")))
    with pytest.raises(DataFileError, match="bp_opera"):
        load_task("bp", root=tmp_path)                             # no file under root
    with pytest.raises(DataFileError, match=r"gone\.csv: file not found"):
        load_task("logp", path=tmp_path / "gone.csv", cache_dir=tmp_path / "cache")


def test_too_few_usable_rows(tmp_path):
    with pytest.raises(DataFileError, match="only 1 usable rows"):
        load_task(str(_csv(tmp_path, ["smiles,y", "CCO,1", "C1CC(,2"])))


def test_unknown_task_name():
    with pytest.raises(KeyError, match="unknown task 'ogbg-molfoo'"):
        load_task("ogbg-molfoo")
    with pytest.raises(KeyError, match="unknown QM9 target 'u0'"):
        load_task("qm9-u0")


def test_classification_labels_must_be_binary(tmp_path):
    lines = ["smiles,a"] + [f"{s},{i % 2}" for i, s in enumerate(GOOD)] + ["CCCCO,2"]
    with pytest.raises(DataFileError, match=r"classification labels must be 0/1.*2\.0"):
        load_task(str(_csv(tmp_path, lines)), task_type="classification")
