"""PCQM4Mv2 as CXSMILES carrying DFT coordinates (graphium's pcqm4mv2-2k.csv layout).

Each SMILES lists every hydrogen as an atom and the coordinates in its `|(x,y,z;...)|` extension,
so parsing with hydrogens kept gives one molecule with a matching conformer. The `homo` column
of that file is in fact the HOMO-LUMO gap in eV; it becomes `y` ([1, 1]).

PCQM4Mv2 contains radicals (its SMILES for idx 0 is `O=C1[N]c2ccncc2[CH][C@@H]1...`). The
CXSMILES writes every hydrogen as an atom but lost the radical flags, so RDKit's implicit-H
filling would invent hydrogens the DFT geometry does not have. Since all hydrogens are explicit,
an atom's missing valence is unpaired electrons: `radicals_from_valence` (default) restores them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from rdkit import Chem

from dnd.data.paired import PairedArrays, conformer_positions, paired_arrays
from dnd.data.report import RecordError
from dnd.data.sources import PairedOptions, csv_rows, finite_float


@dataclass
class Options(PairedOptions):
    smiles_column: str = "smiles"
    target_column: str | None = "homo"   # HOMO-LUMO gap (eV); None: no y
    radicals_from_valence: bool = True    # see module docstring


def read_items(path: Path, limit: int | None, options: Options) -> Iterator[tuple[str, tuple]]:
    stem = path.name.split(".")[0]
    cols = [options.smiles_column] + ([options.target_column] if options.target_column else [])
    for i, row in csv_rows(path, cols, limit):
        target = row[options.target_column] if options.target_column else None
        yield f"row {i}", (f"{stem}:{i}", row[options.smiles_column], target)


def _restore_radicals(mol: Chem.Mol) -> Chem.Mol:
    """Turn implicit hydrogens (absent from the geometry) into radical electrons."""
    rw = Chem.RWMol(mol)
    changed = False
    for atom in rw.GetAtoms():
        missing = atom.GetTotalNumHs()  # hydrogens that are not atoms, hence have no position
        if missing:
            atom.SetNumRadicalElectrons(atom.GetNumRadicalElectrons() + missing)
            atom.SetNumExplicitHs(0)
            atom.SetNoImplicit(True)
            changed = True
    if not changed:
        return mol
    try:
        Chem.SanitizeMol(rw)
    except Exception as e:  # noqa: BLE001 - RDKit sanitization errors carry the reason
        raise RecordError(f"cannot sanitize after restoring radicals: {e}") from e
    return rw.GetMol()


def build(payload: tuple, label: str, options: Options) -> list[PairedArrays]:
    mol_id, cxsmiles, target = payload
    params = Chem.SmilesParserParams()
    params.removeHs = False
    mol = Chem.MolFromSmiles(cxsmiles, params)
    if mol is None:
        raise RecordError(f"RDKit cannot parse SMILES {cxsmiles[:80]!r}")
    pos = conformer_positions(mol)
    if options.radicals_from_valence:
        mol = _restore_radicals(mol)
    y = None if target is None else [finite_float(target, options.target_column)]
    return [paired_arrays(mol, pos, mol_id=mol_id, y=y, hydrogens=options.hydrogens != "none")]
