"""Bemis-Murcko scaffold split exactly as OGB (via pretrain-gnns) computed its molecule splits.

Molecules are grouped by their Murcko scaffold SMILES with chirality; the groups are ordered by
size, largest first, ties broken by the group's first row index, *larger index first* (the OGB
procedure sorts the (size, first index) pairs in reverse); the groups then fill train up to 80%,
valid up to 90%, and the rest goes to test. A group that would overflow train goes to valid if it
fits there, otherwise to test. Each split is returned in ascending row order, as OGB's split files
list it. `tests/test_tasks_scaffold.py` checks that this reproduces
OGB's shipped esol/freesolv/bace/bbbp split files row for row.
"""

from __future__ import annotations

from typing import Sequence

from rdkit import Chem, rdBase
from rdkit.Chem.Scaffolds import MurckoScaffold


def scaffold_key(smiles: str) -> str:
    """Murcko scaffold SMILES with chirality ('' for acyclic molecules, which share one group)."""
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        raise ValueError(f"RDKit cannot parse SMILES {smiles!r}")
    return MurckoScaffold.MurckoScaffoldSmiles(mol=mol, includeChirality=True)


def scaffold_groups(smiles: Sequence[str]) -> list[list[int]]:
    """Row indices grouped by scaffold, in OGB's order (size desc, then first index desc)."""
    groups: dict[str, list[int]] = {}
    with rdBase.BlockLogs():  # RDKit's chatter about odd hydrogens is not a problem here
        for i, s in enumerate(smiles):
            groups.setdefault(scaffold_key(s), []).append(i)
    return sorted(groups.values(), key=lambda g: (len(g), g[0]), reverse=True)


def scaffold_split(smiles: Sequence[str], frac_train: float = 0.8, frac_valid: float = 0.1
                   ) -> dict[str, list[int]]:
    """{"train", "valid", "test"} -> row indices into `smiles` (every row parsable by RDKit)."""
    if not 0 < frac_train < 1 or not 0 <= frac_valid < 1 or frac_train + frac_valid > 1:
        raise ValueError(f"bad split fractions train={frac_train} valid={frac_valid}")
    n = len(smiles)
    train_cut, valid_cut = frac_train * n, (frac_train + frac_valid) * n
    split: dict[str, list[int]] = {"train": [], "valid": [], "test": []}
    for group in scaffold_groups(smiles):
        if len(split["train"]) + len(group) <= train_cut:
            split["train"].extend(group)
        elif len(split["train"]) + len(split["valid"]) + len(group) <= valid_cut:
            split["valid"].extend(group)
        else:
            split["test"].extend(group)
    return {part: sorted(rows) for part, rows in split.items()}
