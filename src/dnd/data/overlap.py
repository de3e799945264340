"""Overlap between a pretraining corpus and the downstream tasks a foundation is evaluated on.

A molecule seen in pretraining and again in a task's test split inflates that task's score, so a
corpus is checked against every task it will be evaluated on and the overlapping molecules are
removed, with the count reported per task and split. The key is a molecule's identity up to
what a 2D student cannot see or a dataset may write differently: canonical SMILES of the largest
fragment (salts and solvents dropped), stereochemistry removed.
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

from rdkit import Chem, RDLogger
from rdkit.Chem.MolStandardize import rdMolStandardize


def overlap_key(smiles: str) -> str | None:
    """Canonical SMILES of the largest fragment without stereo; None if RDKit cannot parse it."""
    RDLogger.DisableLog("rdApp.*")
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        return None
    mol = rdMolStandardize.LargestFragmentChooser().choose(mol)
    Chem.RemoveStereochemistry(mol)
    return Chem.MolToSmiles(mol, isomericSmiles=False)


def find_overlap(corpus_smiles: Sequence[str], tasks: Mapping[str, Mapping[str, Iterable[str]]]
                 ) -> tuple[set[int], dict[str, dict[str, int]]]:
    """(indices of corpus molecules found in any task split, {task: {split: count}}): counts are
    of task molecules (per split) whose key is in the corpus."""
    keys = [overlap_key(s) for s in corpus_smiles]
    where: dict[str, list[int]] = {}
    for i, k in enumerate(keys):
        if k is not None:
            where.setdefault(k, []).append(i)
    drop: set[int] = set()
    counts: dict[str, dict[str, int]] = {}
    for task, splits in tasks.items():
        counts[task] = {}
        for split, smiles in splits.items():
            hits = [where[k] for k in map(overlap_key, smiles) if k in where]
            counts[task][split] = len(hits)
            drop.update(i for h in hits for i in h)
    return drop, counts


def task_smiles(names: Sequence[str], root: str | None, cache_dir: str | None = None) -> dict[str, dict[str, list[str]]]:
    """SMILES of every split of the named tasks (as `dnd.data.tasks.load_task` builds them)."""
    from dnd.data.tasks import load_task

    out = {}
    for name in names:
        task = load_task(name, root=root, cache_dir=cache_dir)
        out[name] = {split: [r.smiles for r in recs] for split, recs in task.splits.items()}
    return out
