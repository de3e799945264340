"""Small datasets shipped inside the package, for the quickstart and for users without downloads.

- `qm9_paired()`: a few thousand QM9 molecules with their DFT conformers as paired records, from
  `embedded/qm9_subset.npz` (made by `scripts/make_embedded.py` from the qm9pack CSV). Each
  molecule is stored as a hydrogen-explicit SMILES whose atom order IS the coordinate order (the
  atom mapping was solved once, at build time, exactly as `dnd.data.sources.qm9` does), so
  loading is parsing plus featurization, with no bond perception or graph matching.
- `ogb_root()` / `EMBEDDED_TASK`: an OGB-layout folder holding `ogbg_molesol/`, loadable with
  `dnd.data.tasks.load_task(EMBEDDED_TASK, root=ogb_root())`.
Provenance and licences: `embedded/SOURCES.md`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
from rdkit import Chem, rdBase
from torch_geometric.data import Data

from dnd.data.config import check_hydrogens
from dnd.data.paired import PairedArrays, heavy_atoms_only, paired_arrays, to_data

EMBEDDED_TASK = "ogbg-molesol"
QM9_FILE = "qm9_subset.npz"


def embedded_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "embedded"


def ogb_root() -> Path:
    """Folder with OGB-layout datasets shipped in the package (contains `ogbg_molesol/`)."""
    return embedded_dir()


def write_qm9_subset(path: Path, records: list[tuple[Chem.Mol, np.ndarray, str, str, list[float]]],
                     property_columns: tuple[str, ...]) -> None:
    """Store (mol with H in coordinate order, positions, QM9 SMILES, mol_id, properties) tuples.

    Positions are permuted into the atom order of the molecule's H-explicit canonical SMILES, so
    parsing that SMILES with hydrogens kept gives atoms in coordinate order again.
    """
    smiles_h, pos, z, n_atoms = [], [], [], []
    for mol_h, xyz, *_ in records:
        text = Chem.MolToSmiles(mol_h)
        order = list(mol_h.GetPropsAsDict(True, True)["_smilesAtomOutputOrder"])
        smiles_h.append(text)
        pos.append(np.asarray(xyz, dtype=np.float32)[order])
        z.append(np.array([mol_h.GetAtomWithIdx(i).GetAtomicNum() for i in order], np.uint8))
        n_atoms.append(len(order))
    np.savez_compressed(
        path, smiles_h=np.array(smiles_h), pos=np.concatenate(pos), z=np.concatenate(z),
        n_atoms=np.array(n_atoms, np.int16), smiles=np.array([r[2] for r in records]),
        mol_id=np.array([r[3] for r in records]),
        y=np.array([r[4] for r in records], np.float32), y_columns=np.array(property_columns))


def read_qm9_subset(path: Path, limit: int | None = None) -> list[PairedArrays]:
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    if limit is not None:
        arrays["smiles_h"] = arrays["smiles_h"][:limit]
    params = Chem.SmilesParserParams()
    params.removeHs = False
    offsets = np.concatenate([[0], np.cumsum(arrays["n_atoms"].astype(np.int64))])
    out = []
    with rdBase.BlockLogs():
        for i, text in enumerate(arrays["smiles_h"]):
            a, b = offsets[i], offsets[i + 1]
            mol_h = Chem.MolFromSmiles(str(text), params)
            out.append(paired_arrays(mol_h, arrays["pos"][a:b], z=arrays["z"][a:b],
                                     smiles=str(arrays["smiles"][i]),
                                     mol_id=str(arrays["mol_id"][i]), y=arrays["y"][i]))
    return out


@lru_cache(maxsize=1)
def _qm9_cached() -> tuple[PairedArrays, ...]:
    return tuple(read_qm9_subset(embedded_dir() / QM9_FILE))


def qm9_property_columns() -> list[str]:
    """Names of the columns of `y` in `qm9_paired()` records (raw QM9 units)."""
    with np.load(embedded_dir() / QM9_FILE, allow_pickle=False) as f:
        return [str(c) for c in f["y_columns"]]


def qm9_paired(limit: int | None = None, hydrogens: str = "dft") -> list[Data]:
    """Embedded QM9 subset as paired records (y: [1, 15] raw properties, see
    `qm9_property_columns()`). The full set is parsed once per process. hydrogens="none": the
    conformers keep heavy atoms only ("dft" and "rdkit": all of QM9's DFT atoms)."""
    records = _qm9_cached() if limit is None else read_qm9_subset(embedded_dir() / QM9_FILE, limit)
    if check_hydrogens(hydrogens) == "none":
        records = [heavy_atoms_only(r) for r in records]
    return [to_data(r) for r in records]
