"""SDF files with 3D conformers (QM9's gdb9.sdf, PCQM4Mv2's train SDF, any user SDF; .gz ok), or
a folder of SDF shards (the MOSES conformer corpus) read in name order as one corpus.

The graph is built from the same RDKit molecule that holds the conformer, so the atom order is
shared by construction. Records are split on `$$$$` ourselves (rather than through an
SDMolSupplier) so that each bad record can be reported with its number, line and RDKit's reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from rdkit import Chem

from dnd.data.paired import PairedArrays, conformer_positions, paired_arrays
from dnd.data.report import RecordError
from dnd.data.sources import PairedOptions, open_text


SHARD_SUFFIXES = (".sdf", ".sdf.gz")


@dataclass
class Options(PairedOptions):
    # SDF data fields copied, in this order, into `y` ([1, T] float); empty: no y.
    target_fields: tuple[str, ...] = ()
    # Heavy-atom-only SDFs (OGB's pcqm4m-v2-train.sdf): hydrogens="none" keeps the heavy atoms
    # alone (the paper's teacher); "rdkit" places the missing hydrogens geometrically (RDKit
    # addCoords); "dft" (default) rejects such records, as their H positions
    # would not be the source's geometry.


def read_items(path: Path, limit: int | None, options: Options) -> Iterator[tuple[str, tuple]]:
    stem = path.name.split(".")[0]
    index, start, lines = 0, 1, []
    with open_text(path) as f:
        for lineno, line in enumerate(f, start=1):
            if line.rstrip("\r\n") == "$$$$":
                yield f"record {index} (line {start})", (f"{stem}:{index}", "".join(lines))
                index, start, lines = index + 1, lineno + 1, []
                if limit is not None and index >= limit:
                    return
            else:
                lines.append(line)
    if "".join(lines).strip():
        yield f"record {index} (line {start})", (f"{stem}:{index}", "".join(lines))


def _why_unreadable(block: str) -> str:
    raw = Chem.MolFromMolBlock(block, sanitize=False, removeHs=False)
    if raw is None:
        return "unparsable mol block"
    try:
        Chem.SanitizeMol(raw)
    except Exception as e:  # noqa: BLE001 - RDKit's sanitization exceptions carry the reason
        return f"RDKit sanitization failed: {e}"
    return "RDKit could not read the record"


def build(payload: tuple, label: str, options: Options) -> list[PairedArrays]:
    mol_id, block = payload
    mol = Chem.MolFromMolBlock(block, removeHs=False)  # sanitizes, stereo from 3D
    if mol is None:
        raise RecordError(_why_unreadable(block))
    pos = conformer_positions(mol)
    if mol.GetNumAtoms() > 1 and not pos.any():
        raise RecordError("record has no coordinates (every atom at the origin)")
    if not mol.GetConformer().Is3D():
        raise RecordError("record has 2D coordinates only (no 3D conformer)")
    if options.hydrogens == "rdkit" and any(a.GetTotalNumHs() for a in mol.GetAtoms()):
        mol = Chem.AddHs(mol, addCoords=True)  # appended after the existing atoms
        pos = conformer_positions(mol)
    y = None
    if options.target_fields:
        try:
            y = [float(mol.GetProp(name)) for name in options.target_fields]
        except (KeyError, ValueError) as e:
            raise RecordError(f"target field missing or not a number: {e}") from e
    return [paired_arrays(mol, pos, mol_id=mol_id, y=y, hydrogens=options.hydrogens != "none")]
