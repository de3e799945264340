"""OGB molecular-graph featurization into PyG `Data`.

Every 2D encoder in the project consumes exactly OGB's features (9 atom, 3 bond, edges in both
directions, bond k -> edges 2k and 2k+1) so that OGB's AtomEncoder/BondEncoder and published
baselines apply unchanged. Each graph also carries chemprop's own features of the same molecule
(`cp_x`: V2 multi-hot atom features, `cp_edge_attr`: bond features, in the same edge order, which
chemprop also uses), made by chemprop's featurizer, so the D-MPNN student sees exactly what
`chemprop train` will give it after export. We call `ogb.utils.features` directly rather than re-implementing it,
and only add what OGB silently papers over: an atom whose element falls into OGB's "misc" bucket
(dummy atoms, query atoms) or a bond stereo label OGB has no slot for (RDKit's atropisomer labels)
is a record the featurizer cannot encode, and we say so with `FeaturizationError` instead of
crashing deep inside OGB or emitting a meaningless index.
"""

from __future__ import annotations

from contextlib import contextmanager
from functools import lru_cache
from typing import Iterator

import numpy as np
import torch
from ogb.utils.features import (allowable_features, atom_to_feature_vector,
                                bond_to_feature_vector)
from rdkit import Chem
from torch_geometric.data import Data

from dnd.data.report import RecordError
from dnd.data.config import DEFAULT_MAX_ATOMS
from dnd.errors import UsageError

# Bump whenever the produced tensors could change for the same input; it keys the on-disk cache.
FEATURIZER_VERSION = "ogb-features-1+chemprop-v2-1"

# Size limit (atoms of the molecule as given, hydrogens included when explicit). The scaffold
# split and the graph transformer grow much faster than linearly with size (measured on a 2-core
# CPU: scaffold key of a 1,000-atom chain 1.3 s, 2,000 atoms 11.5 s; `dnd predict` of a 6,000-atom
# SMILES 70 s and 2.2 GB), and no molecule of the OGB/MoleculeNet sets has more than ~500 heavy
# atoms, so a bigger one is a polymer/protein or a mistake: reported and skipped. The corpus and
# task configs raise it (`max_atoms`, applied with `atom_limit` while they load). DEFAULT_MAX_ATOMS
# lives in dnd.data.config (the CLI shows it).
_max_atoms = DEFAULT_MAX_ATOMS


@contextmanager
def atom_limit(limit: int | None) -> Iterator[None]:
    """Size limit of `mol_to_graph` while the block runs (None: leave it as it is); part of cache
    keys, and inherited by the worker processes the block forks."""
    global _max_atoms
    if limit is not None and int(limit) < 1:
        raise UsageError(f"--max-atoms (max_atoms) must be positive, got {limit}")
    previous = _max_atoms
    _max_atoms = previous if limit is None else int(limit)
    try:
        yield
    finally:
        _max_atoms = previous


def featurizer_key() -> str:
    """What determines the records built from an input: featurizer version and size limit."""
    return FEATURIZER_VERSION if _max_atoms == DEFAULT_MAX_ATOMS else f"{FEATURIZER_VERSION};max_atoms={_max_atoms}"


_MAX_Z = len(allowable_features["possible_atomic_num_list"]) - 1  # 118; index 118 is "misc"
_STEREO_OK = frozenset(allowable_features["possible_bond_stereo_list"])


def atom_list(mol: Chem.Mol) -> list[Chem.Atom]:
    """`list(mol.GetAtoms())`, 2-3x faster: RDKit's GetAtoms/GetBonds sequences run several
    Python-level calls per item, which was a fifth of QM9's per-molecule time (docs/data.md)."""
    return [mol.GetAtomWithIdx(i) for i in range(mol.GetNumAtoms())]


def bond_list(mol: Chem.Mol) -> list[Chem.Bond]:
    """`list(mol.GetBonds())`, fast (see `atom_list`)."""
    return [mol.GetBondWithIdx(i) for i in range(mol.GetNumBonds())]


class FeaturizationError(RecordError):
    """A molecule that cannot be turned into an OGB graph (unparsable, unencodable element...)."""


def check_encodable(mol: Chem.Mol) -> None:
    """Raise FeaturizationError if OGB's feature vocabulary cannot represent `mol`."""
    for atom in atom_list(mol):
        z = atom.GetAtomicNum()
        if not 1 <= z <= _MAX_Z:
            raise FeaturizationError(
                f"atom {atom.GetIdx()} has atomic number {z} ({atom.GetSymbol()!r}); "
                f"OGB encodes only elements 1..{_MAX_Z}")
    for bond in bond_list(mol):
        stereo = str(bond.GetStereo())
        if stereo not in _STEREO_OK:
            raise FeaturizationError(
                f"bond {bond.GetBeginAtomIdx()}-{bond.GetEndAtomIdx()} has stereo {stereo}, "
                "which OGB's bond features cannot encode")


@lru_cache(maxsize=1)
def _chemprop_featurizer():
    # chemprop's CLI default (`--multi-hot-atom-featurizer-mode V2`); imported lazily because
    # chemprop's package import pulls in Lightning
    from chemprop.featurizers import MultiHotAtomFeaturizer, SimpleMoleculeMolGraphFeaturizer
    return SimpleMoleculeMolGraphFeaturizer(atom_featurizer=MultiHotAtomFeaturizer.v2())


def chemprop_features(mol: Chem.Mol) -> tuple[np.ndarray, np.ndarray]:
    """chemprop's atom features [n, 72] and bond features [2*n_bonds, 14] (float32) of `mol`.

    chemprop lists bond k as directed edges 2k (begin -> end) and 2k+1 (end -> begin), exactly
    OGB's order, so one `edge_index` serves both feature sets (a test checks it)."""
    graph = _chemprop_featurizer()(mol)
    return graph.V.astype(np.float32), np.asarray(graph.E, dtype=np.float32)


def mol_to_graph(mol: Chem.Mol) -> Data:
    """OGB graph of `mol` exactly as it is (no H removal: callers pass the heavy-atom molecule).

    Returns Data(x [n, 9] long, edge_index [2, 2*n_bonds] long, edge_attr [2*n_bonds, 3] long,
    cp_x [n, 72] float, cp_edge_attr [2*n_bonds, 14] float, num_nodes=n). Node i is RDKit atom
    i, which is what keeps 2D and 3D atoms aligned.
    """
    if mol is None:
        raise FeaturizationError("no molecule (RDKit returned None)")
    if mol.GetNumAtoms() == 0:
        raise FeaturizationError("molecule has no atoms")
    if mol.GetNumAtoms() > _max_atoms:
        raise FeaturizationError(f"molecule has {mol.GetNumAtoms()} atoms, more than the limit of "
                                 f"{_max_atoms} (raise it with --max-atoms)")
    check_encodable(mol)
    x = np.asarray([atom_to_feature_vector(a) for a in atom_list(mol)], dtype=np.int64)
    n_bonds = mol.GetNumBonds()
    edge_index = np.empty((2, 2 * n_bonds), dtype=np.int64)
    edge_attr = np.empty((2 * n_bonds, 3), dtype=np.int64)
    for k, bond in enumerate(bond_list(mol)):
        i, j = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
        edge_index[:, 2 * k] = (i, j)
        edge_index[:, 2 * k + 1] = (j, i)
        edge_attr[2 * k] = edge_attr[2 * k + 1] = bond_to_feature_vector(bond)
    cp_x, cp_edge_attr = chemprop_features(mol)
    return Data(x=torch.from_numpy(x), edge_index=torch.from_numpy(edge_index),
                edge_attr=torch.from_numpy(edge_attr), cp_x=torch.from_numpy(cp_x),
                cp_edge_attr=torch.from_numpy(cp_edge_attr), num_nodes=len(x))


def parse_smiles(smiles: str) -> Chem.Mol:
    """RDKit molecule from SMILES with default sanitization (as OGB's smiles2graph does)."""
    if not isinstance(smiles, str) or not smiles.strip():
        raise FeaturizationError(f"empty SMILES {smiles!r}")
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        raise FeaturizationError(f"RDKit cannot parse SMILES {smiles!r}")
    return mol


def smiles_to_graph(smiles: str) -> Data:
    """OGB graph of a SMILES string, identical to `ogb.utils.smiles2graph`, plus `smiles`."""
    data = mol_to_graph(parse_smiles(smiles))
    data.smiles = smiles
    return data
