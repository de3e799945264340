"""SDF pretraining graphs hold no hydrogen nodes: the hydrogens RDKit's RemoveHs keeps by default
because they define a double bond's stereo (imines in gdb1k) stay in the conformer, marked
`atom_is_node` False, and the graph equals the SMILES graph finetuning would build."""

import gzip

import torch
from rdkit import Chem, rdBase

from dnd.data.featurize import smiles_to_graph
from dnd.data.corpus import load_paired

SDF = "qm9/gdb1k.sdf.gz"


def _records_with_kept_hydrogens(path):
    """Record numbers whose RemoveHs (RDKit defaults) result still holds a hydrogen atom."""
    out = set()
    with gzip.open(path, "rb") as f, rdBase.BlockLogs():
        for i, mol in enumerate(Chem.ForwardSDMolSupplier(f, removeHs=False)):
            if mol is not None and any(a.GetAtomicNum() == 1 for a in Chem.RemoveHs(mol).GetAtoms()):
                out.add(i)
    return out


def test_gdb1k_graphs_have_no_hydrogen_nodes(shared_file):
    path = shared_file(SDF)
    kept = _records_with_kept_hydrogens(path)
    assert len(kept) >= 20          # the case exists in the real file (21 of its records)
    recs = load_paired("sdf", path, workers=1)
    by_index = {int(r.mol_id.split(":")[1]): r for r in recs}
    assert kept <= set(by_index)
    for rec in recs:
        assert not bool((rec.x[:, 0] == 0).any()), rec.mol_id            # no H (atomic number 1) node
        assert torch.equal(rec.atom_is_node, rec.z != 1), rec.mol_id      # every H: conformer only
        ref = smiles_to_graph(rec.smiles)
        # column 1, the chiral tag (CW/CCW), is relative to the atom's neighbour order, which a
        # SMILES round trip changes; every other feature must agree
        rows = lambda t: sorted(map(tuple, t[:, [0, *range(2, t.shape[1])]].tolist()))  # noqa: E731
        assert rows(rec.x) == rows(ref.x), rec.mol_id
        assert sorted(map(tuple, rec.edge_attr.tolist())) == sorted(map(tuple, ref.edge_attr.tolist()))
    for i in kept:
        rec = by_index[i]
        assert int((rec.z == 1).sum()) > 0 and rec.num_nodes == int((rec.z != 1).sum())
