"""The scaffold procedure reproduces OGB's shipped split files row for row."""

from __future__ import annotations

import pandas as pd
import pytest

from dnd.data.tasks.random_split import random_split
from dnd.data.tasks.scaffold import scaffold_groups, scaffold_split


@pytest.mark.parametrize("name", ["esol", "freesolv", "bace", "bbbp"])
def test_scaffold_split_reproduces_ogb_files_exactly(shared_data, name):
    folder = shared_data / "ogb" / f"ogbg_mol{name}"
    if not folder.exists():
        pytest.skip(f"real dataset file not present: {folder}")
    smiles = pd.read_csv(folder / "mapping" / "mol.csv.gz")["smiles"].tolist()
    ours = scaffold_split(smiles)
    for part in ("train", "valid", "test"):
        theirs = pd.read_csv(folder / "split" / "scaffold" / f"{part}.csv.gz", header=None)[0]
        assert ours[part] == theirs.tolist()          # same rows, same order


def test_scaffold_groups_order_and_tie_break():
    # two singletons tie on size: the later first row comes first (OGB's reverse sort)
    smiles = ["c1ccccc1C", "C1CCCCC1", "c1ccccc1CC", "CCO", "c1ccncc1"]
    groups = scaffold_groups(smiles)
    assert groups[0] == [0, 2]                        # benzene scaffold, the largest group
    assert groups[1:] == [[4], [3], [1]]


def test_scaffold_split_keeps_groups_whole_and_fills_in_order():
    smiles = ["c1ccccc1" + "C" * i for i in range(8)] + ["C1CCCCC1C", "C1CCNCC1C"]
    split = scaffold_split(smiles)
    assert split["train"] == list(range(8))           # 8 benzenes fit 80% exactly
    assert split["valid"] == [9] and split["test"] == [8]  # tie: later first row goes first


def test_random_split_sizes_and_seed():
    a, b, c = random_split(101, 0), random_split(101, 0), random_split(101, 1)
    assert a == b and a != c
    assert [len(a[k]) for k in ("train", "valid", "test")] == [80, 10, 11]
    assert sorted(a["train"] + a["valid"] + a["test"]) == list(range(101))
