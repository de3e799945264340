"""SMILES-only corpora: conformers generated with RDKit (ETKDGv3 embedding, then MMFF94).

Input is a CSV with a SMILES column or a plain `.smi`-style file (first token of each line).
Each molecule is embedded `num_conformers` times with a fixed seed (so a rerun gives the same
coordinates whatever the worker scheduling), hydrogens added first so the teacher sees them.
Embedding that fails even from random starting coordinates is reported and the molecule skipped.
MMFF refinement is skipped (ETKDG geometry kept) for molecules MMFF94 has no parameters for.

Multi-fragment SMILES (salts, mixtures) keep only their largest fragment (most heavy atoms, the
first on ties): ETKDG + MMFF place the fragments of one molecule object on top of each other
(0.3-0.6 Å apart in our measurements), a geometry the teacher must never learn from. The record's
`smiles` is then the kept fragment's SMILES.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from rdkit import Chem
from rdkit.Chem import AllChem

from dnd.data.featurize import check_encodable, parse_smiles
from dnd.data.paired import PairedArrays, paired_arrays
from dnd.data.report import RecordError
from dnd.data.sources import PairedOptions, csv_rows, open_text


@dataclass
class Options(PairedOptions):
    num_conformers: int = 1
    seed: int = 0
    smiles_column: str = "smiles"   # used when the file is a CSV with a header
    mmff: bool = True
    mmff_max_iters: int = 500
    largest_fragment: bool = True


def _is_csv(path: Path, column: str) -> bool:
    with open_text(path) as f:
        header = f.readline()
    return column in [c.strip() for c in header.strip().split(",")]


def read_items(path: Path, limit: int | None, options: Options) -> Iterator[tuple[str, tuple]]:
    stem = path.name.split(".")[0]
    if _is_csv(path, options.smiles_column):
        for i, row in csv_rows(path, [options.smiles_column], limit):
            yield f"row {i}", (f"{stem}:{i}", row[options.smiles_column].strip())
        return
    with open_text(path) as f:
        for i, line in enumerate(f):
            if limit is not None and i >= limit:
                return
            token = line.split()[0] if line.strip() else ""
            yield f"line {i + 1}", (f"{stem}:{i}", token)


def embed(mol: Chem.Mol, num_conformers: int, seed: int) -> tuple[Chem.Mol, list[int]]:
    """Hydrogen-complete copy of `mol` with ETKDGv3 conformers (random-coordinate retry)."""
    mol_h = Chem.AddHs(mol)
    params = AllChem.ETKDGv3()
    params.randomSeed = seed
    params.numThreads = 1  # parallelism is over molecules
    cids = list(AllChem.EmbedMultipleConfs(mol_h, num_conformers, params))
    if not cids:
        params.useRandomCoords = True
        cids = list(AllChem.EmbedMultipleConfs(mol_h, num_conformers, params))
    if not cids:
        raise RecordError("conformer embedding failed (ETKDGv3, also from random coordinates)")
    return mol_h, cids


def largest_fragment(mol: Chem.Mol) -> Chem.Mol:
    """The fragment with the most heavy atoms (the first one on ties); `mol` itself when whole."""
    frags = Chem.GetMolFrags(mol, asMols=True, sanitizeFrags=True)
    if len(frags) == 1:
        return mol
    return max(frags, key=lambda f: f.GetNumHeavyAtoms())  # max keeps the first of equals


def build(payload: tuple, label: str, options: Options) -> list[PairedArrays]:
    mol_id, smiles = payload
    mol = parse_smiles(smiles)
    if options.largest_fragment:
        whole, mol = mol, largest_fragment(mol)
        if mol is not whole:
            smiles = Chem.MolToSmiles(mol)
    check_encodable(mol)  # fail before spending time on embedding
    mol_h, cids = embed(mol, options.num_conformers, options.seed)
    if options.mmff and AllChem.MMFFHasAllMoleculeParams(mol_h):
        AllChem.MMFFOptimizeMoleculeConfs(mol_h, numThreads=1, maxIters=options.mmff_max_iters)
    return [paired_arrays(mol_h, mol_h.GetConformer(cid).GetPositions(), smiles=smiles,
                          mol_id=f"{mol_id}/conf{k}", hydrogens=options.hydrogens != "none")
            for k, cid in enumerate(cids)]
