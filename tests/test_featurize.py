"""OGB featurization: identical to ogb.utils.smiles2graph on real molecules; clear errors."""

import csv
import gzip

import numpy as np
import pytest
import torch
from ogb.utils import smiles2graph
from torch_geometric.data import Data

from dnd.data.featurize import (FEATURIZER_VERSION, FeaturizationError, mol_to_graph,
                                smiles_to_graph)
from dnd.data.paired import make_data
from dnd.data.report import RecordError


def _smiles(path):
    with gzip.open(path, "rt") as f:
        return [row["smiles"] for row in csv.DictReader(f)]


@pytest.mark.parametrize("dataset", ["ogbg_molesol", "ogbg_molbbbp"])
def test_equals_ogb_smiles2graph_on_real_molecules(shared_file, dataset):
    smiles = _smiles(shared_file(f"ogb/{dataset}/mapping/mol.csv.gz"))
    assert len(smiles) > 1000
    for s in smiles:
        ours, ref = smiles_to_graph(s), smiles2graph(s)
        assert ours.x.dtype == torch.long and ours.edge_attr.dtype == torch.long
        np.testing.assert_array_equal(ours.x.numpy(), ref["node_feat"], err_msg=s)
        np.testing.assert_array_equal(ours.edge_index.numpy(), ref["edge_index"], err_msg=s)
        np.testing.assert_array_equal(ours.edge_attr.numpy(), ref["edge_feat"], err_msg=s)
        assert ours.num_nodes == ref["num_nodes"] and ours.smiles == s


def test_molecule_without_bonds_has_empty_edge_tensors():
    g = smiles_to_graph("[Na+].[Cl-]")
    assert g.num_nodes == 2
    assert tuple(g.edge_index.shape) == (2, 0) and tuple(g.edge_attr.shape) == (0, 3)


@pytest.mark.parametrize("bad", ["C1CC", "not a smiles", "", "C(C)(C)(C)(C)C"])
def test_unparsable_smiles_raises_featurization_error(bad):
    with pytest.raises(FeaturizationError):
        smiles_to_graph(bad)


def test_element_ogb_cannot_encode_raises():
    with pytest.raises(FeaturizationError, match="atomic number 0"):
        smiles_to_graph("*CCO")
    assert issubclass(FeaturizationError, RecordError)  # loaders report it as a bad record


def test_none_molecule_raises():
    with pytest.raises(FeaturizationError):
        mol_to_graph(None)


def test_version_is_a_nonempty_string():
    assert isinstance(FEATURIZER_VERSION, str) and FEATURIZER_VERSION


def test_make_data_equals_data_constructor():
    fields = dict(x=torch.zeros(3, 9, dtype=torch.long), z=torch.ones(5, dtype=torch.long),
                  num_nodes=3, smiles="CCC", mol_id="m")
    fast, ref = make_data(**fields), Data(**fields)
    assert fast.keys() == ref.keys() and fast.num_nodes == ref.num_nodes == 3
    assert fast.smiles == "CCC" and torch.equal(fast.z, ref.z)
