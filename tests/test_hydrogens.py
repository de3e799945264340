"""Which conformer atoms the teacher sees (corpus option `hydrogens`), from every route that sets
it: the paper's PCQM4Mv2 config on a heavy-atom SDF like OGB's, the data layer per source, and the
denoise/distill/infomax command-line corpus options."""

import argparse
from pathlib import Path

import numpy as np
import pytest
import torch
from rdkit import Chem
from rdkit.Chem import AllChem

from dnd.cli.common import add_corpus_arguments, corpus_config_from_args
from dnd.data.corpus import load_corpus, load_paired
from dnd.data.embedded import qm9_paired
from dnd.experiment.config import load_config

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
SMILES = ["CCO", "c1ccccc1O", "CC(=O)N"]


def _conformers(smiles):
    """Hydrogen-complete molecules with one ETKDG conformer each (seeded)."""
    mols = []
    for s in smiles:
        mol = Chem.AddHs(Chem.MolFromSmiles(s))
        AllChem.EmbedMolecule(mol, randomSeed=0)
        mols.append(mol)
    return mols


def _write_heavy_sdf(path: Path, smiles=SMILES):
    """An SDF as OGB ships PCQM4Mv2's: heavy atoms with 3D coordinates, no hydrogen atoms.
    Returns the heavy atoms' coordinates per record."""
    path.parent.mkdir(parents=True, exist_ok=True)
    coords = []
    with Chem.SDWriter(str(path)) as w:
        for mol in _conformers(smiles):
            heavy = Chem.RemoveHs(mol)
            coords.append(heavy.GetConformer().GetPositions())
            w.write(heavy)
    return coords


def _assert_heavy_only(rec, pos=None):
    assert bool(rec.atom_is_node.all()) and len(rec.z) == rec.num_nodes
    assert torch.equal(rec.z, rec.x[:, 0] + 1) and int((rec.z == 1).sum()) == 0
    if pos is not None:
        np.testing.assert_allclose(rec.pos.numpy(), pos, atol=1e-4)


def test_paper_pcqm4mv2_config_loads_a_heavy_atom_sdf(tmp_path, monkeypatch):
    """The paper's protocol reads OGB's heavy-atom SDF; its teacher sees the heavy atoms."""
    monkeypatch.setenv("DND_DATA", str(tmp_path))
    cfg = load_config(CONFIGS / "paper-pcqm4mv2.yaml")
    coords = _write_heavy_sdf(Path(cfg.corpus.path))
    records = load_corpus(cfg.corpus)
    assert len(records) == len(SMILES)
    for rec, pos, smiles in zip(records, coords, SMILES):
        _assert_heavy_only(rec, pos)
        assert Chem.CanonSmiles(rec.smiles) == Chem.CanonSmiles(smiles)


@pytest.mark.parametrize("hydrogens", ["none", "rdkit"])
def test_heavy_atom_sdf_none_keeps_heavy_atoms_rdkit_places_hydrogens(tmp_path, hydrogens):
    path = tmp_path / "heavy.sdf"
    coords = _write_heavy_sdf(path)
    assert load_paired("sdf", path, workers=1) == []            # "dft": no hydrogen coordinates
    records = load_paired("sdf", path, hydrogens=hydrogens, workers=1)
    assert len(records) == len(SMILES)
    for rec, pos in zip(records, coords):
        if hydrogens == "none":
            _assert_heavy_only(rec, pos)
        else:
            n = rec.num_nodes
            assert rec.atom_is_node[:n].all() and not rec.atom_is_node[n:].any()
            assert (rec.z[n:] == 1).all() and len(rec.z) > n
            np.testing.assert_allclose(rec.pos[:n].numpy(), pos, atol=1e-4)


def test_none_drops_the_sources_hydrogens_and_keeps_the_graph(tmp_path):
    """Same graphs with and without hydrogens; the heavy atoms keep their DFT/ETKDG coordinates."""
    path = tmp_path / "h.sdf"
    with Chem.SDWriter(str(path)) as w:
        for mol in _conformers(SMILES):
            w.write(mol)
    full = load_paired("sdf", path, workers=1)
    heavy = load_paired("sdf", path, hydrogens="none", workers=1)
    for a, b in zip(full, heavy):
        _assert_heavy_only(b)
        assert torch.equal(a.x, b.x) and torch.equal(a.edge_index, b.edge_index)
        assert torch.equal(a.pos[a.atom_is_node], b.pos) and bool((a.z == 1).any())
    embedded = qm9_paired(limit=20, hydrogens="none")
    for a, b in zip(qm9_paired(limit=20), embedded):
        _assert_heavy_only(b)
        assert torch.equal(a.pos[a.atom_is_node], b.pos)


def test_unknown_hydrogens_setting_is_named(tmp_path):
    path = tmp_path / "heavy.sdf"
    _write_heavy_sdf(path)
    with pytest.raises(ValueError, match="unknown hydrogens setting 'some'.*none, dft, rdkit"):
        load_paired("sdf", path, hydrogens="some", workers=1)


def records_from_args(args):
    return load_corpus(corpus_config_from_args(args, args.seed))


def _corpus_args(argv):
    parser = argparse.ArgumentParser()
    add_corpus_arguments(parser)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def test_command_line_corpus_options_reach_the_sources(tmp_path):
    path = tmp_path / "heavy.sdf"
    coords = _write_heavy_sdf(path)
    records = records_from_args(_corpus_args(["--source", "sdf", "--path", str(path), "--hydrogens", "none"]))
    for rec, pos in zip(records, coords):
        _assert_heavy_only(rec, pos)
    smi = tmp_path / "mols.smi"
    smi.write_text("CCO\nCCN\n")
    base = ["--source", "smiles", "--path", str(smi), "--num-conformers", "2"]
    two = records_from_args(_corpus_args(base + ["--conformer-seed", "1"]))
    assert [r.mol_id for r in two] == ["mols:0/conf0", "mols:0/conf1", "mols:1/conf0", "mols:1/conf1"]
    other = records_from_args(_corpus_args(base + ["--conformer-seed", "2"]))
    assert not torch.allclose(two[0].pos, other[0].pos)      # the seed reaches the embedding
    with pytest.raises(ValueError, match="smiles source only"):
        records_from_args(_corpus_args(["--source", "sdf", "--path", str(path), "--num-conformers", "3"]))


def test_data_paired_command_takes_hydrogens(tmp_path, capsys):
    from dnd.cli import main

    path = tmp_path / "heavy.sdf"
    _write_heavy_sdf(path)
    assert main(["data", "paired", "sdf", str(path), "--workers", "1"]) == 0
    assert "sdf " + str(path) + ": 0 paired records" in capsys.readouterr().out
    assert main(["data", "paired", "sdf", str(path), "--workers", "1", "--hydrogens", "none"]) == 0
    assert f": {len(SMILES)} paired records" in capsys.readouterr().out
