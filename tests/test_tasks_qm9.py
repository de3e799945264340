"""QM9 tasks: 3DInfomax's split protocol and units, on a real slice of the qm9pack file."""

from __future__ import annotations

import lzma

import numpy as np
import pandas as pd
import pytest

from dnd.data.tasks import load_task
from dnd.data.tasks.qm9 import HARTREE_TO_MEV, QM9_TARGETS, qm9_split


def test_split_protocol_matches_3dinfomax():
    n = 130_831
    s = qm9_split(n)
    assert [len(s[k]) for k in ("train", "valid", "test")] == [50_000, 17_748, 13_083]
    perm = np.random.RandomState(123).permutation(n)     # 3DInfomax: get_random_indices(n, 123)
    assert s["train"] == perm[:50_000].tolist()
    assert s["test"] == perm[100_000:113_083].tolist()
    assert s["valid"] == perm[113_083:].tolist()
    later = qm9_split(n, train_offset=50_000)               # after pretraining on the first 50k
    assert not set(later["train"]) & set(s["train"]) and later["test"] == s["test"]
    with pytest.raises(ValueError, match="outside"):
        qm9_split(n, train_size=60_000, train_offset=50_000)


def test_valid_size_keeps_a_seeded_part_of_the_validation_set():
    n = 130_831
    full, part = qm9_split(n), qm9_split(n, valid_size=2_000)
    assert len(part["valid"]) == 2_000 and len(set(part["valid"])) == 2_000
    assert set(part["valid"]) < set(full["valid"])
    assert part["test"] == full["test"] and part["train"] == full["train"]
    assert part["valid"] == qm9_split(n, valid_size=2_000)["valid"]
    with pytest.raises(ValueError, match="valid_size"):
        qm9_split(n, valid_size=20_000)


def test_hartree_to_mev():
    assert HARTREE_TO_MEV == pytest.approx(27211.386, abs=1e-3)
    assert set(QM9_TARGETS) == {"mu", "alpha", "homo", "lumo", "gap", "r2", "zpve", "cv"}


@pytest.fixture(scope="module")
def qm9_slice(shared_data, tmp_path_factory):
    src = shared_data / "qm9" / "qm9pack_qm9_coords_props.csv.xz"
    if not src.exists():
        pytest.skip(f"real dataset file not present: {src}")
    with lzma.open(src, "rt") as f:
        df = pd.read_csv(f, nrows=300)
    root = tmp_path_factory.mktemp("qm9")
    df.iloc[::-1].to_csv(root / "qm9_coords_props.csv", index=False)   # order must not matter
    return root, df


@pytest.mark.parametrize("target", ["gap", "zpve", "mu", "cv"])
def test_qm9_units_follow_3dinfomax(qm9_slice, target):
    root, df = qm9_slice
    td = load_task(f"qm9-{target}", root=root, train_size=300)
    assert td.sizes() == {"train": 300, "valid": 0, "test": 0}
    assert td.spec.metric == "mae" and td.spec.standardize
    col, factor = QM9_TARGETS[target].column, QM9_TARGETS[target].factor
    expected = dict(zip(df["SMILES"], df[col] * factor))
    for r in td.train[:50]:
        assert float(r.y) == pytest.approx(expected[r.smiles], rel=1e-6)
    if target == "gap":                                      # methane: 0.5048 Ha
        methane = next(r for r in td.train if r.smiles == "C")
        assert float(methane.y) == pytest.approx(13736.3, abs=0.1)
        assert td.spec.unit == "meV"


@pytest.mark.slow
def test_full_qm9_task(shared_data, tmp_path):
    if not (shared_data / "qm9" / "qm9pack_qm9_coords_props.csv.xz").exists():
        pytest.skip("qm9pack file absent")
    td = load_task("qm9-homo", root=shared_data, cache_dir=tmp_path)
    assert td.sizes() == {"train": 50_000, "valid": 17_748, "test": 13_083}
    assert td.report.n_bad == 0
    again = load_task("qm9-homo", root=shared_data, cache_dir=tmp_path)
    assert "cache" in again.source and [r.smiles for r in again.test] == [r.smiles for r in td.test]
