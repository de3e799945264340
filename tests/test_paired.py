"""Paired 2D/3D records: atom correspondence on real QM9, SDF and PCQM4Mv2 data; bad input."""

import ast
import csv
import gzip
import lzma
import math
import re

import numpy as np
import pytest
import torch
from rdkit import Chem
from rdkit.Chem import AllChem

from dnd.data.featurize import smiles_to_graph
from dnd.data.loader import make_loader
from dnd.data.corpus import load_paired
from dnd.data.paired import paired_arrays
from dnd.data.report import BadRecordError, DataFileError, RecordError, Report

QM9 = "qm9/qm9pack_qm9_coords_props.csv.xz"
SDF = "qm9/gdb1k.sdf.gz"
PCQM = "pcqm4mv2/pcqm4mv2-2k.csv.gz"
GDB1K_UNSANITIZABLE = {198, 202, 221, 365, 444, 591, 667, 809, 934}


def assert_corresponds(rec):
    """Contract invariants + geometry: bonded graph atoms 0.9-2.3 Å apart in the conformer."""
    assert rec.x.dtype == torch.long and rec.x.shape[1] == 9
    assert rec.edge_attr.shape == (rec.edge_index.shape[1], 3)
    assert rec.z.dtype == torch.long and rec.pos.dtype == torch.float32
    assert rec.pos.shape == (len(rec.z), 3) and rec.atom_is_node.dtype == torch.bool
    assert rec.num_nodes == len(rec.x) == int(rec.atom_is_node.sum())
    assert torch.equal(rec.z[rec.atom_is_node], rec.x[:, 0] + 1)
    atom_of_node = rec.atom_is_node.nonzero().view(-1)
    src, dst = atom_of_node[rec.edge_index]
    d = (rec.pos[src] - rec.pos[dst]).norm(dim=1)
    assert bool(((d > 0.9) & (d < 2.3)).all()), (rec.mol_id, d.min(), d.max())


def same_graph_up_to_order(rec, smiles):
    """Node and edge feature multisets equal those of the SMILES graph."""
    ref = smiles_to_graph(smiles)
    rows = lambda t: sorted(map(tuple, t.tolist()))  # noqa: E731
    assert rows(rec.x) == rows(ref.x), smiles
    assert rows(rec.edge_attr) == rows(ref.edge_attr), smiles


def test_qm9_records_follow_xyz_order_and_smiles_graph(shared_file):
    path = shared_file(QM9)
    report = Report()
    recs = load_paired("qm9", path, limit=400, report=report, workers=1)
    assert report.n_ok + report.n_bad == 400 and len(recs) == report.n_ok >= 390
    with lzma.open(path, "rt") as f:
        rows = {r["XYZ_file"].removesuffix(".xyz"): r
                for _, r in zip(range(400), csv.DictReader(f))}
    pt = Chem.GetPeriodicTable()
    for rec in recs:
        row = rows[rec.mol_id]
        assert rec.z.tolist() == [pt.GetAtomicNumber(s) for s in ast.literal_eval(row["Elements"])]
        np.testing.assert_allclose(rec.pos.numpy(), np.array(ast.literal_eval(row["XYZ_Ang"])),
                                   atol=1e-5)
        assert rec.y.shape == (1, 15)
        assert math.isclose(rec.y[0, 7].item(), float(row["HOMO_LUMO_gap_au"]), rel_tol=1e-6)
        assert_corresponds(rec)
        same_graph_up_to_order(rec, row["SMILES"])


def test_qm9_parallel_equals_serial(shared_file):
    path = shared_file(QM9)
    a = load_paired("qm9", path, limit=150, workers=1)
    b = load_paired("qm9", path, limit=150, workers=2)
    assert [r.mol_id for r in a] == [r.mol_id for r in b]
    assert all(torch.equal(p.pos, q.pos) and torch.equal(p.x, q.x) for p, q in zip(a, b))


def _sdf_atoms(path):
    """Elements of every SDF record read straight from the atom block text."""
    out, lines = [], gzip.open(path, "rt").read().split("\n")
    i = 0
    while i < len(lines) - 3:
        n = int(lines[i + 3][:3])
        out.append([lines[i + 4 + k][31:34].strip() for k in range(n)])
        while lines[i].strip() != "$$$$":
            i += 1
        i += 1
    return out


def test_sdf_gdb1k_correspondence_and_bad_records(shared_file):
    path = shared_file(SDF)
    report = Report()
    recs = load_paired("sdf", path, report=report)
    assert report.n_ok + report.n_bad == 1000 and len(recs) == report.n_ok
    bad = {int(e.record.split()[1]): e for e in report.entries}
    assert GDB1K_UNSANITIZABLE <= set(bad)
    for i in GDB1K_UNSANITIZABLE:
        assert "sanitization" in bad[i].reason and bad[i].file == str(path)
    # the other rejects are OpenBabel bond orders leaving an atom under-valent (phantom H)
    assert all("without coordinates" in bad[i].reason for i in set(bad) - GDB1K_UNSANITIZABLE)
    assert report.n_bad <= 15
    symbols = _sdf_atoms(path)
    pt = Chem.GetPeriodicTable()
    for rec in recs:
        idx = int(rec.mol_id.split(":")[1])
        assert rec.z.tolist() == [pt.GetAtomicNumber(s) for s in symbols[idx]]
        assert_corresponds(rec)


def test_sdf_strict_mode_raises_at_first_bad_record(shared_file):
    with pytest.raises(BadRecordError, match="record 47"):
        load_paired("sdf", shared_file(SDF), strict=True)


def test_pcqm4mv2_correspondence_and_gap(shared_file):
    path = shared_file(PCQM)
    report = Report()
    recs = load_paired("pcqm4mv2", path, limit=300, report=report, workers=1)
    assert report.n_bad == 0 and len(recs) == 300
    with gzip.open(path, "rt") as f:
        rows = [r for _, r in zip(range(300), csv.DictReader(f))]
    params = Chem.SmilesParserParams()
    params.removeHs = False
    for rec, row in zip(recs, rows):
        mol = Chem.MolFromSmiles(row["smiles"], params)
        assert rec.z.tolist() == [a.GetAtomicNum() for a in mol.GetAtoms()]
        np.testing.assert_allclose(rec.pos.numpy(), mol.GetConformer().GetPositions(), atol=1e-4)
        assert math.isclose(rec.y.item(), float(row["homo"]), rel_tol=1e-6)
        assert_corresponds(rec)
    # idx 0 is a radical in PCQM4Mv2 (O=C1[N]c2ccncc2[CH][C@@H]1c1ccc(cc1)C)
    pcqm_idx0 = "O=C1[N]c2ccncc2[CH][C@@H]1c1ccc(cc1)C"
    assert Chem.CanonSmiles(recs[0].smiles) == Chem.CanonSmiles(pcqm_idx0)


def test_smiles_conformers_seeded_k_per_molecule(tmp_path):
    path = tmp_path / "mols.smi"
    path.write_text("CCO\nc1ccccc1C(=O)O\nC1CC\nN[C@@H](C)C(=O)O\n")
    report = Report()
    recs = load_paired("smiles", path, report=report, num_conformers=2, seed=7, workers=1)
    assert len(recs) == 6 and report.n_ok == 3 and report.n_bad == 1
    assert report.entries[0].record == "line 3" and "parse" in report.entries[0].reason
    for rec in recs:
        assert_corresponds(rec)
        assert int((rec.z == 1).sum()) > 0  # hydrogens are conformer atoms
    again = load_paired("smiles", path, num_conformers=2, seed=7, workers=2)
    assert all(torch.equal(a.pos, b.pos) for a, b in zip(recs, again))
    assert not torch.equal(recs[2].pos, recs[3].pos)  # two different conformers


def test_paired_records_batch_with_aligned_atoms():
    recs = [paired_from_smiles(s) for s in ("CCO", "c1ccncc1")]
    batch = next(iter(make_loader(recs, batch_size=2)))
    assert torch.equal(batch.z[batch.atom_is_node], batch.x[:, 0] + 1)
    assert torch.equal(batch.z_batch[batch.atom_is_node], batch.batch)


def paired_from_smiles(smiles):
    from dnd.data.paired import to_data
    mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
    AllChem.EmbedMolecule(mol, randomSeed=0)
    return to_data(paired_arrays(mol, mol.GetConformer().GetPositions(), smiles=smiles))


# ----------------------------------------------------------------------------- bad input

def _ethanol():
    mol = Chem.AddHs(Chem.MolFromSmiles("CCO"))
    AllChem.EmbedMolecule(mol, randomSeed=0)
    return mol, mol.GetConformer().GetPositions()


def test_conformer_atom_count_or_elements_disagree():
    mol, pos = _ethanol()
    with pytest.raises(RecordError, match="conformer has 8 atoms but the graph has 9"):
        paired_arrays(mol, pos[:-1])
    z = [a.GetAtomicNum() for a in mol.GetAtoms()]
    z[2] = 7
    with pytest.raises(RecordError, match="element mismatch at atom 2"):
        paired_arrays(mol, pos, z=z)


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_coordinate(value):
    mol, pos = _ethanol()
    pos[4, 1] = value
    with pytest.raises(RecordError, match="non-finite coordinate for atom 4"):
        paired_arrays(mol, pos)


def test_permuted_coordinates_are_caught():
    mol, pos = _ethanol()
    with pytest.raises(RecordError, match="bond .* long"):
        paired_arrays(mol, pos[::-1].copy())


def _write_sdf(path, mols):
    with Chem.SDWriter(str(path)) as w:
        for m in mols:
            w.write(m)


def test_sdf_bad_records_are_reported(tmp_path):
    good, _ = _ethanol()
    no_coords = Chem.AddHs(Chem.MolFromSmiles("CCN"))                 # all-zero coordinates
    no_coords.AddConformer(Chem.Conformer(no_coords.GetNumAtoms()))
    flat = Chem.AddHs(Chem.MolFromSmiles("CCC"))
    AllChem.Compute2DCoords(flat)                                       # 2D depiction only
    dummy = Chem.AddHs(Chem.MolFromSmiles("*CO"))
    AllChem.EmbedMolecule(dummy, randomSeed=0)                          # element OGB cannot encode
    path = tmp_path / "mixed.sdf"
    _write_sdf(path, [good, no_coords, flat, dummy, good])
    report = Report()
    recs = load_paired("sdf", path, report=report, workers=1)
    assert len(recs) == 2 and report.n_bad == 3
    reasons = {e.record.split()[1]: e.reason for e in report.entries}
    assert "no coordinates" in reasons["1"]
    assert "2D" in reasons["2"]
    assert "atomic number 0" in reasons["3"]
    assert all(e.file == str(path) for e in report.entries)
    with pytest.raises(BadRecordError, match=r"mixed.sdf: record 1 \(line \d+\): record has no"):
        load_paired("sdf", path, strict=True, workers=1)


def test_sdf_without_hydrogens_rejected_or_completed(tmp_path):
    mol, _ = _ethanol()
    heavy = Chem.RemoveHs(mol)
    path = tmp_path / "heavy.sdf"
    _write_sdf(path, [heavy])
    report = Report()
    assert load_paired("sdf", path, report=report, workers=1) == []
    assert "hydrogen(s) without coordinates" in report.entries[0].reason
    (rec,) = load_paired("sdf", path, hydrogens="rdkit", workers=1)
    assert rec.z.tolist() == [6, 6, 8] + [1] * 6
    assert_corresponds(rec)


def test_qm9_row_whose_elements_disagree_with_smiles(tmp_path, shared_file):
    src = shared_file(QM9)
    with lzma.open(src, "rt") as f:
        reader = csv.DictReader(f)
        rows = [next(reader) for _ in range(3)]
        header = reader.fieldnames
    rows[1]["Elements"] = str(["O"] + ast.literal_eval(rows[1]["Elements"])[1:])  # N -> O
    rows[2]["XYZ_Ang"] = re.sub(r"^\[\[[^,]+", "[[1e999", rows[2]["XYZ_Ang"])  # inf
    path = tmp_path / "qm9.csv"
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, header)
        w.writeheader()
        w.writerows(rows)
    report = Report()
    recs = load_paired("qm9", path, report=report, workers=1)
    assert len(recs) == 1 and report.n_bad == 2
    assert "row 1" in report.entries[0].record and report.entries[1].record.startswith("row 2")
    assert "conformer elements H3O differ from the SMILES's H3N" in report.entries[0].reason
    assert "non-finite" in report.entries[1].reason


@pytest.mark.parametrize("source", ["qm9", "sdf", "pcqm4mv2", "smiles"])
def test_missing_and_empty_files(tmp_path, source):
    with pytest.raises(DataFileError, match="not found"):
        load_paired(source, tmp_path / "nope.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataFileError, match="empty"):
        load_paired(source, empty)


def test_csv_without_named_column(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("name,value\na,1\n")
    with pytest.raises(DataFileError, match="missing column"):
        load_paired("pcqm4mv2", path)


def test_unknown_source_and_option():
    with pytest.raises(ValueError, match="unknown paired source"):
        load_paired("xyz", "f")
    with pytest.raises(TypeError):
        load_paired("sdf", "f", no_such_option=1)


def test_sdf_folder_of_shards_is_one_corpus_in_name_order(tmp_path, shared_file):
    """A folder of SDF shards reads as the concatenation of its .sdf/.sdf.gz files by name, with
    `limit` counting records over all of them; each bad record names its own shard; a folder
    without shards, or for a one-file source, is one clear error."""
    source = shared_file("qm9/gdb1k.sdf.gz")
    whole = load_paired("sdf", source, limit=9, workers=1)
    blocks = gzip.open(source, "rt").read().split("$$$$\n")[:9]
    folder = tmp_path / "shards"
    folder.mkdir()
    (folder / "part-1.sdf").write_text("$$$$\n".join(blocks[4:]) + "$$$$\n")
    with gzip.open(folder / "part-0.sdf.gz", "wt") as f:
        f.write("$$$$\n".join(blocks[:4]) + "$$$$\nnot a molecule\n$$$$\n")
    (folder / "README.md").write_text("ignored")
    report = Report()
    shards = load_paired("sdf", folder, report=report, workers=1)
    assert [r.mol_id for r in shards] == [f"part-0:{i}" for i in range(4)] + [f"part-1:{i}" for i in range(5)]
    for a, b in zip(shards, whole):
        assert torch.equal(a.z, b.z) and torch.equal(a.pos, b.pos) and torch.equal(a.x, b.x)
    assert report.n_bad == 1 and report.entries[0].file.endswith("part-0.sdf.gz")
    assert len(load_paired("sdf", folder, limit=6, workers=1)) == 5  # 4 good + 1 bad of part-0, then 1
    with pytest.raises(DataFileError, match="no .sdf or .sdf.gz files"):
        load_paired("sdf", tmp_path)
    with pytest.raises(DataFileError, match="reads one file"):
        load_paired("qm9", folder)
