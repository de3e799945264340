"""The fast QM9 processing path must give exactly the records it gave before.

`tests/data/qm9_sample.csv.xz` holds 201 rows of the qm9pack CSV (every 654th row, so all sizes up
to 9 heavy atoms), and `qm9_sample_expected.npz` the records `load_paired` made from it at commit
3a549f0, before the fast paths (json/regex parsing instead of ast.literal_eval, index loops
instead of RDKit's GetAtoms/GetBonds sequences). Every array is compared exactly.
"""

import ast
from pathlib import Path

import numpy as np
import pytest

from dnd.data.corpus import load_paired
from dnd.data.report import RecordError, Report
from dnd.data.sources import qm9

DATA = Path(__file__).parent / "data"


def test_qm9_records_equal_those_made_before_the_fast_path():
    report = Report()
    recs = load_paired("qm9", DATA / "qm9_sample.csv.xz", report=report, workers=1)
    want = np.load(DATA / "qm9_sample_expected.npz")
    assert report.n_bad == 0 and len(recs) == len(want["n_nodes"]) == 201

    def cat(field, axis=0):
        return np.concatenate([getattr(r, field).numpy() for r in recs], axis=axis)

    for field in ("x", "edge_attr", "z", "pos", "atom_is_node", "y"):
        got = cat(field)
        assert got.dtype == want[field].dtype and np.array_equal(got, want[field]), field
    assert np.array_equal(cat("edge_index", axis=1), want["edge_index"])
    assert [r.num_nodes for r in recs] == want["n_nodes"].tolist()
    assert [r.edge_index.shape[1] for r in recs] == want["n_edges"].tolist()
    assert [len(r.z) for r in recs] == want["n_atoms"].tolist()
    assert [r.smiles for r in recs] == want["smiles"].tolist()
    assert [r.mol_id for r in recs] == want["mol_id"].tolist()


@pytest.mark.parametrize("text", [
    "['C','H','H']", "[ 'O' , 'H','H' ]", "[[1.5,-2,3e-2],[0,0,1E+1]]", "[[1.,2.,3.]]",
    '["C","N"]', "[[-0.0126981359,1.0858041578,0.0080009958]]", "[]",
])
def test_fast_literal_parsing_gives_literal_eval_values(text):
    got = qm9._literal(text, "XYZ_Ang")
    assert got == ast.literal_eval(text) and repr(got) == repr(ast.literal_eval(text))


@pytest.mark.parametrize("text", ["[[NaN,0,0]]", "[[true,0,0]]", "[[1,2,", "['C',", "null"])
def test_fast_literal_parsing_rejects_what_literal_eval_rejects(text):
    with pytest.raises(RecordError, match="XYZ_Ang: cannot parse"):
        qm9._literal(text, "XYZ_Ang")
