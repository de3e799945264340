"""QM9 from the qm9pack CSV (`qm9pack_qm9_coords_props.csv.xz`): DFT geometries + properties.

The file gives each molecule's elements and B3LYP coordinates in xyz order (hydrogens included)
and a GDB SMILES in a different atom order. To get "the SMILES graph with atoms in the conformer's
order" we perceive connectivity from the coordinates (`rdDetermineBonds.DetermineConnectivity`),
then map the hydrogen-complete SMILES molecule onto that connectivity graph (bond orders and
charges ignored) and renumber the SMILES molecule into xyz order. This is the
`AssignBondOrdersFromTemplate` idea, but it keeps the SMILES molecule itself, so bond orders,
aromaticity, charges and stereo tags are exactly the SMILES's. Molecules whose perceived
connectivity does not contain the SMILES graph (the relaxed geometry broke or rearranged a bond)
are reported as bad records.

`y` ([1, 15] float32) holds the raw property columns in file units, in `PROPERTY_COLUMNS` order;
`mol_id` is the xyz file stem (`dsgdb9nsd_000001`), whose number is QM9's molecule index.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
from rdkit import Chem
from rdkit.Chem import rdDetermineBonds

from dnd.data.featurize import atom_list, bond_list, parse_smiles
from dnd.data.paired import PairedArrays, paired_arrays
from dnd.data.report import RecordError
from dnd.data.sources import PairedOptions, csv_rows, finite_float

PROPERTY_COLUMNS = (
    "RotA_GHz", "RotB_GHz", "RotC_GHz", "Dipole_debye", "Polarizability_bohr3", "HOMO_au",
    "LUMO_au", "HOMO_LUMO_gap_au", "R2_bohr2", "ZPVE_au", "InternalEnergy_0K_au",
    "InternalEnergy_298K_au", "Enthalphy_298K_au", "GibbsFreeEnergy_298K_au",
    "Heatcapacity_Cv_cal_mol_K",
)
_COLUMNS = ("XYZ_file", "SMILES", "Elements", "XYZ_Ang")
_PT = Chem.GetPeriodicTable()


@dataclass
class Options(PairedOptions):
    with_properties: bool = True   # y = PROPERTY_COLUMNS (raw units)


def read_items(path: Path, limit: int | None, options: Options) -> Iterator[tuple[str, tuple]]:
    required = _COLUMNS + (PROPERTY_COLUMNS if options.with_properties else ())
    for i, row in csv_rows(path, required, limit):
        mol_id = row["XYZ_file"].removesuffix(".xyz")
        props = tuple(row[c] for c in PROPERTY_COLUMNS) if options.with_properties else None
        yield f"row {i} ({mol_id})", (mol_id, row["SMILES"], row["Elements"], row["XYZ_Ang"], props)


# The file writes Elements as ['C','H',...] and XYZ_Ang as a JSON-valid nested list of numbers.
# ast.literal_eval of the coordinates was the largest single cost per molecule (docs/data.md);
# these fast paths give the same Python values, and any text they do not accept goes to
# literal_eval as before (same values, same errors).
_SYMBOL_LIST = re.compile(r"\[\s*'[A-Za-z]{1,3}'(?:\s*,\s*'[A-Za-z]{1,3}')*\s*\]")
_SYMBOL = re.compile(r"'([A-Za-z]{1,3})'")
_NUMBER_LISTS = re.compile(r"[\[\]\s,0-9.eE+-]*")  # no names: json's NaN/true/null never parse


def _literal(text: str, column: str):
    if _SYMBOL_LIST.fullmatch(text):
        return _SYMBOL.findall(text)
    if _NUMBER_LISTS.fullmatch(text):
        try:
            return json.loads(text)
        except ValueError:  # e.g. "1." is Python but not JSON
            pass
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError) as e:
        raise RecordError(f"{column}: cannot parse {text[:60]!r}") from e


def _connectivity(z: list[int], pos: np.ndarray) -> Chem.Mol:
    """Single-bonded, chargeless molecule in xyz order with bonds perceived from distances."""
    mol = Chem.RWMol()
    for zi in z:
        mol.AddAtom(Chem.Atom(zi))
    conf = Chem.Conformer(len(z))
    conf.SetPositions(pos)
    mol.AddConformer(conf, assignId=True)
    rdDetermineBonds.DetermineConnectivity(mol)
    mol.UpdatePropertyCache(strict=False)
    return mol.GetMol()


def _skeleton(mol_h: Chem.Mol) -> Chem.Mol:
    """Copy of `mol_h` reduced to elements and connectivity (what coordinates can tell)."""
    q = Chem.RWMol(mol_h)
    for atom in atom_list(q):
        atom.SetFormalCharge(0)
        atom.SetIsAromatic(False)
        atom.SetNumRadicalElectrons(0)
        atom.SetChiralTag(Chem.ChiralType.CHI_UNSPECIFIED)
    for bond in bond_list(q):
        bond.SetBondType(Chem.BondType.SINGLE)
        bond.SetIsAromatic(False)
    q.UpdatePropertyCache(strict=False)
    return q.GetMol()


def _formula(z) -> str:
    counts = {}
    for zi in z:
        counts[_PT.GetElementSymbol(zi)] = counts.get(_PT.GetElementSymbol(zi), 0) + 1
    return "".join(f"{s}{n if n > 1 else ''}" for s, n in sorted(counts.items()))


def smiles_in_xyz_order(smiles: str, z: list[int], pos: np.ndarray) -> Chem.Mol:
    """The SMILES molecule with explicit H, renumbered so atom i is xyz atom i."""
    template = Chem.AddHs(parse_smiles(smiles))
    if template.GetNumAtoms() != len(z):
        raise RecordError(f"SMILES has {template.GetNumAtoms()} atoms with hydrogens, "
                          f"the conformer {len(z)}")
    smiles_z = sorted(a.GetAtomicNum() for a in atom_list(template))
    if smiles_z != sorted(z):
        raise RecordError(f"conformer elements {_formula(z)} differ from the SMILES's "
                          f"{_formula(smiles_z)}")
    geometric = _connectivity(z, pos)
    # Subgraph, not equality: strained cages (bicyclo[1.1.1]) put non-bonded atoms within the
    # covalent-radius cutoff, adding contacts the SMILES rightly lacks.
    match = geometric.GetSubstructMatch(_skeleton(template))
    if len(match) != len(z):
        raise RecordError(f"SMILES graph ({template.GetNumBonds()} bonds) is not contained in "
                          f"the connectivity perceived from coordinates "
                          f"({geometric.GetNumBonds()} bonds)")
    order = [0] * len(z)
    for t, g in enumerate(match):
        order[g] = t
    return Chem.RenumberAtoms(template, order)


def parse(payload: tuple) -> tuple[Chem.Mol, np.ndarray, list[int], list[float] | None]:
    """(molecule with H in xyz order, positions [n, 3], atomic numbers, properties or None)."""
    mol_id, smiles, elements, xyz, props = payload
    symbols = _literal(elements, "Elements")
    pos = np.asarray(_literal(xyz, "XYZ_Ang"), dtype=np.float64)
    if pos.ndim != 2 or pos.shape != (len(symbols), 3):
        raise RecordError(f"XYZ_Ang has shape {pos.shape}, Elements lists {len(symbols)} atoms")
    try:
        z = [_PT.GetAtomicNumber(s) for s in symbols]
    except RuntimeError as e:
        raise RecordError(f"Elements: unknown element in {symbols}") from e
    if not np.isfinite(pos).all():
        raise RecordError("XYZ_Ang: non-finite coordinate")
    mol_h = smiles_in_xyz_order(smiles, z, pos)
    y = [finite_float(v, c) for v, c in zip(props, PROPERTY_COLUMNS)] if props is not None else None
    return mol_h, pos, z, y


def build(payload: tuple, label: str, options: Options) -> list[PairedArrays]:
    mol_h, pos, z, y = parse(payload)
    return [paired_arrays(mol_h, pos, z=z, smiles=payload[1], mol_id=payload[0], y=y,
                          hydrogens=options.hydrogens != "none")]
