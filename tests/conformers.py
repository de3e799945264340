"""Small paired records built directly with RDKit (ETKDG conformers), following the paired-record
contract, so teacher tests do not depend on the data layer or on files outside the repository."""

from __future__ import annotations

import csv
import gzip

import torch
from rdkit import Chem
from rdkit.Chem import AllChem
from torch_geometric.data import Data

from dnd.data.featurize import mol_to_graph

SMILES = ["CCO", "c1ccccc1O", "CC(=O)N", "CC#N", "OC1CC1", "C1=CC=CN=C1", "CCOC(=O)C", "NC(=O)CO",
          "FC(F)F", "CC(C)C=O", "c1ccoc1", "CN1CCC1"]


def paired_record(smiles: str, seed: int = 0) -> Data:
    heavy = Chem.MolFromSmiles(smiles)
    mol = Chem.AddHs(heavy)  # hydrogens appended after the heavy atoms, which keeps node order
    if AllChem.EmbedMolecule(mol, randomSeed=seed) != 0:
        raise RuntimeError(f"RDKit could not embed {smiles}")
    data = mol_to_graph(heavy)
    data.z = torch.tensor([a.GetAtomicNum() for a in mol.GetAtoms()], dtype=torch.long)
    data.pos = torch.tensor(mol.GetConformer().GetPositions(), dtype=torch.float32)
    data.atom_is_node = data.z > 1
    data.smiles = smiles
    data.mol_id = smiles
    return data


def paired_records(n: int | None = None) -> list[Data]:
    return [paired_record(s, seed=i) for i, s in enumerate(SMILES[:n])]


def random_rotation(generator: torch.Generator, dtype=torch.float64) -> torch.Tensor:
    """Uniform random proper rotation (QR of a Gaussian matrix, signs fixed, det +1)."""
    q, r = torch.linalg.qr(torch.randn(3, 3, generator=generator, dtype=torch.float64))
    q = q * torch.sign(torch.diagonal(r))
    if torch.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q.to(dtype)


def pcqm4mv2_with_hs(path, n: int):
    """(row index, CXSMILES, RDKit molecule with its hydrogens and 3D conformer) for the first
    `n` rows of a PCQM4Mv2 CSV: the raw reference the data layer's parse is checked against."""
    params = Chem.SmilesParserParams()
    params.removeHs = False
    with gzip.open(path, "rt") as f:
        for i, row in zip(range(n), csv.DictReader(f)):
            yield i, row["smiles"], Chem.MolFromSmiles(row["smiles"], params)
