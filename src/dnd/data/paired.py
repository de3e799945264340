"""Paired 2D graph + 3D conformer records, the unit of pretraining data.

Distillation compares the 3D teacher and the 2D student atom by atom, so the one thing that must
never go wrong is the correspondence between conformer atoms and graph nodes. Every source
therefore reduces a record to ONE RDKit molecule with explicit hydrogens whose atom order is the
conformer's order (`paired_arrays`); the graph is that molecule with its hydrogens removed, which
keeps heavy atoms in their relative order. That gives the contract's invariant by construction:
the atoms with `atom_is_node` True, in order, are graph nodes 0..n_nodes-1, and
`z[atom_is_node] == x[:, 0] + 1`.

Which conformer atoms the teacher sees is the corpus option `hydrogens`
(`dnd.data.config.HYDROGENS`): "dft" keeps
the hydrogens the source gives (QM9's and PCQM4Mv2's DFT geometries, generated conformers'
hydrogens), "rdkit" additionally places hydrogens a heavy-atom-only SDF lacks (RDKit addCoords),
"none" keeps heavy atoms only, as the paper's teacher on OGB's heavy-atom PCQM4Mv2 SDF (its eq. 2
has the graph's N atoms): then z/pos hold the graph nodes alone and `atom_is_node` is all True.

Per-record work returns plain numpy (`PairedArrays`) so it pickles cheaply out of worker
processes and collates into the cache; `Data` objects are made only at the end.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np
import torch
from rdkit import Chem
from torch_geometric.data import Data

from dnd.data.config import TEACHER_MAX_Z
from dnd.data.featurize import atom_list, bond_list, mol_to_graph
from dnd.data.report import DataFileError, RecordError

_ATOM_TAG = "_dnd_atom"
# Bonded atoms outside this range mean the coordinates do not belong to this atom order.
_MIN_BOND, _MAX_BOND = 0.5, 3.5
_MIN_SEPARATION = 0.1  # Å; closer atoms mean missing (zeroed) or duplicated coordinates




def check_teacher_elements(z: np.ndarray, max_z: int = TEACHER_MAX_Z) -> None:
    """RecordError naming the first atom whose element the teacher cannot embed."""
    bad = np.flatnonzero((z < 1) | (z >= max_z))
    if len(bad):
        k = int(bad[0])
        raise RecordError(f"atom {k} has atomic number {int(z[k])}; the 3D teacher embeds "
                          f"elements 1..{max_z - 1} only")


class PairedArrays(NamedTuple):
    """numpy form of one paired record (see the module docstring for the invariant)."""

    x: np.ndarray             # [n_nodes, 9] int64
    edge_index: np.ndarray    # [2, n_edges] int64
    edge_attr: np.ndarray     # [n_edges, 3] int64
    cp_x: np.ndarray          # [n_nodes, 72] float32, chemprop's atom features
    cp_edge_attr: np.ndarray  # [n_edges, 14] float32, chemprop's bond features
    z: np.ndarray             # [n_atoms] int64
    pos: np.ndarray           # [n_atoms, 3] float32
    atom_is_node: np.ndarray  # [n_atoms] bool
    smiles: str
    mol_id: str
    y: np.ndarray | None      # [T] float32 or None


def _check_geometry(mol_h: Chem.Mol, pos: np.ndarray) -> None:
    if not np.isfinite(pos).all():
        bad = int(np.nonzero(~np.isfinite(pos).all(axis=1))[0][0])
        raise RecordError(f"non-finite coordinate for atom {bad}: {pos[bad].tolist()}")
    n = len(pos)
    if n > 1:
        d = np.linalg.norm(pos[:, None, :] - pos[None, :, :], axis=-1)
        d[np.diag_indices(n)] = np.inf
        i, j = np.unravel_index(np.argmin(d), d.shape)
        if d[i, j] < _MIN_SEPARATION:
            raise RecordError(f"atoms {min(i, j)} and {max(i, j)} are {d[i, j]:.3f} Å apart "
                              "(missing or duplicated coordinates)")
    if mol_h.GetNumBonds():
        ij = np.array([(b.GetBeginAtomIdx(), b.GetEndAtomIdx()) for b in bond_list(mol_h)])
        length = np.linalg.norm(pos[ij[:, 0]] - pos[ij[:, 1]], axis=1)
        off = np.nonzero((length < _MIN_BOND) | (length > _MAX_BOND))[0]
        if len(off):
            a, b = ij[off[0]]
            raise RecordError(f"bond {a}-{b} is {length[off[0]]:.2f} Å long in the conformer "
                              "(coordinates do not match the atom order)")


def _remove_hs_params() -> Chem.RemoveHsParameters:
    """RDKit's RemoveHs defaults, except that hydrogens defining a double bond's stereo go too
    (the stereo moves to a heavy neighbour or, with none, is dropped): RDKit keeps them by default
    (21 of 987 gdb1k records, imines such as H/N=C), and a SMILES graph of the same molecule,
    what finetuning sees, never has them as nodes."""
    params = Chem.RemoveHsParameters()
    params.removeDefiningBondStereo = True
    return params


_REMOVE_HS = _remove_hs_params()


def _remove_hs(mol_h: Chem.Mol, z: np.ndarray) -> tuple[Chem.Mol, np.ndarray]:
    """Heavy-atom molecule and the mask of `mol_h` atoms it keeps (RemoveHs keeps atom order).

    RemoveHs keeps a few hydrogens (H2, isotopic H, H on dummy atoms; see `_remove_hs_params`),
    as a SMILES parser does: then those are graph nodes too, and which ones is read back from
    atom tags.
    """
    try:
        heavy = Chem.RemoveHs(mol_h, _REMOVE_HS)
        mask = z != 1
        if heavy.GetNumAtoms() == int(mask.sum()):
            return heavy, mask
        tagged = Chem.Mol(mol_h)
        for atom in tagged.GetAtoms():
            atom.SetIntProp(_ATOM_TAG, atom.GetIdx())
        heavy = Chem.RemoveHs(tagged, _REMOVE_HS)
    except Exception as e:  # RDKit raises its own exception types on sanitization problems
        raise RecordError(f"cannot remove hydrogens: {e}") from e
    kept = np.fromiter((a.GetIntProp(_ATOM_TAG) for a in heavy.GetAtoms()), np.int64,
                       heavy.GetNumAtoms())
    if np.any(np.diff(kept) <= 0):
        raise RecordError("hydrogen removal reordered atoms")  # would break the invariant
    mask = np.zeros(len(z), dtype=bool)
    mask[kept] = True
    return heavy, mask


def check_corpus_elements(records: Sequence[Data], max_z: int) -> None:
    """Records built before the element check (old caches, hand-made Data) are checked again
    against the teacher's actual `max_z` before any training step."""
    if not records:
        return
    z = torch.cat([rec.z for rec in records])
    if bool(((z < 1) | (z >= max_z)).any()):
        for i, rec in enumerate(records):
            try:
                check_teacher_elements(rec.z.numpy(), max_z)
            except RecordError as err:
                name = getattr(rec, "mol_id", "") or getattr(rec, "smiles", "")
                raise DataFileError(f"corpus record {i} ({name}): {err}; drop it from the corpus "
                                    "(and rebuild its cache)") from None


def paired_arrays(mol_h: Chem.Mol, pos: np.ndarray, z: Sequence[int] | None = None,
                  smiles: str | None = None, mol_id: str = "",
                  y: Sequence[float] | None = None, hydrogens: bool = True) -> PairedArrays:
    """Validate and featurize one molecule whose atom i sits at `pos[i]`.

    hydrogens=True: `mol_h` must carry every hydrogen as an atom (a conformer without hydrogen
    coordinates is rejected: the teacher needs them). hydrogens=False (corpus `hydrogens: none`):
    hydrogens may be implicit, and the record keeps the heavy atoms only (`heavy_atoms_only`).
    `z`, when the source lists elements separately from the graph (QM9's xyz), is checked against
    the graph's elements. Raises RecordError with the reason.
    """
    n = mol_h.GetNumAtoms()
    pos = np.asarray(pos, dtype=np.float64)
    if pos.ndim != 2 or pos.shape[1] != 3:
        raise RecordError(f"coordinates have shape {tuple(pos.shape)}, expected ({n}, 3)")
    if len(pos) != n:
        raise RecordError(f"conformer has {len(pos)} atoms but the graph has {n} "
                          "(with hydrogens)")
    atoms = atom_list(mol_h)
    graph_z = np.fromiter((a.GetAtomicNum() for a in atoms), np.int64, n)
    check_teacher_elements(graph_z)
    if z is not None:
        z = np.asarray(z, dtype=np.int64)
        if len(z) != n:
            raise RecordError(f"conformer lists {len(z)} elements but the graph has {n} atoms")
        diff = np.nonzero(z != graph_z)[0]
        if len(diff):
            k = int(diff[0])
            raise RecordError(f"element mismatch at atom {k}: conformer has Z={z[k]}, "
                              f"graph has Z={graph_z[k]}")
    for atom in atoms if hydrogens else ():
        if atom.GetTotalNumHs():
            raise RecordError(
                f"atom {atom.GetIdx()} ({atom.GetSymbol()}) has {atom.GetTotalNumHs()} hydrogen(s) "
                "without coordinates (hydrogens missing from the conformer, or bond orders "
                "leave the atom under-valent)")
    _check_geometry(mol_h, pos)
    heavy, mask = _remove_hs(mol_h, graph_z)
    graph = mol_to_graph(heavy)
    rec = PairedArrays(
        x=graph.x.numpy(), edge_index=graph.edge_index.numpy(), edge_attr=graph.edge_attr.numpy(),
        cp_x=graph.cp_x.numpy(), cp_edge_attr=graph.cp_edge_attr.numpy(),
        z=graph_z, pos=pos.astype(np.float32), atom_is_node=mask,
        smiles=smiles if smiles is not None else Chem.MolToSmiles(heavy), mol_id=mol_id,
        y=None if y is None else np.asarray(y, dtype=np.float32).reshape(-1))
    return rec if hydrogens else heavy_atoms_only(rec)


def heavy_atoms_only(rec: PairedArrays) -> PairedArrays:
    """The record with its conformer cut to the graph's atoms (corpus `hydrogens: none`)."""
    keep = rec.atom_is_node
    return rec._replace(z=rec.z[keep], pos=rec.pos[keep], atom_is_node=np.ones(int(keep.sum()), bool))


def conformer_positions(mol: Chem.Mol, conf_id: int = -1) -> np.ndarray:
    """[n_atoms, 3] coordinates of one conformer; RecordError when the molecule has none."""
    if mol.GetNumConformers() == 0:
        raise RecordError("record has no coordinates (no conformer)")
    return mol.GetConformer(conf_id).GetPositions()


def make_data(**fields) -> Data:
    """`Data(**fields)` without per-attribute validation: 4x faster, which is what makes a cached
    QM9 (130k records) load in seconds. Equality with `Data(**fields)` is covered by a test."""
    data = Data()
    data._store._mapping.update(fields)
    return data


def to_data(rec: PairedArrays) -> Data:
    """One paired record as a PyG Data (the contract's field names and dtypes)."""
    fields = dict(x=torch.from_numpy(rec.x), edge_index=torch.from_numpy(rec.edge_index),
                  edge_attr=torch.from_numpy(rec.edge_attr), cp_x=torch.from_numpy(rec.cp_x),
                  cp_edge_attr=torch.from_numpy(rec.cp_edge_attr), z=torch.from_numpy(rec.z),
                  pos=torch.from_numpy(rec.pos), atom_is_node=torch.from_numpy(rec.atom_is_node),
                  num_nodes=len(rec.x), smiles=rec.smiles, mol_id=rec.mol_id)
    if rec.y is not None:
        fields["y"] = torch.from_numpy(rec.y).view(1, -1)
    return make_data(**fields)
