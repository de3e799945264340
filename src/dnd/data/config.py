"""Typed config of the pretraining corpus and the names of its sources. No torch here, so the
command line reads choices and defaults without loading the deep-learning stack."""

from __future__ import annotations

from dataclasses import dataclass

# 3D files `dnd.data.corpus.load_paired` reads: name -> its reader module (the interface is in
# `dnd.data.sources`; imported on first use, so the names cost no import) ...
PAIRED_SOURCES: dict[str, str] = {
    "qm9": "dnd.data.sources.qm9",
    "sdf": "dnd.data.sources.sdf",
    "pcqm4mv2": "dnd.data.sources.pcqm4mv2",
    "smiles": "dnd.data.sources.conformers",
}
# ... and the corpora a stage can pretrain on: those, the QM9 subset shipped in the package, or
# a merged records file of `dnd data conformers --merge` (`dnd.data.conformer_corpus`).
CORPUS_SOURCES = (*PAIRED_SOURCES, "embedded", "records")
# conformer atoms the teacher sees (dnd.data.paired): "none" heavy atoms only (the paper's
# PCQM4Mv2 teacher: OGB's SDF has no hydrogens), "dft" the source's hydrogens, "rdkit" also
# places hydrogens a heavy-atom SDF lacks
HYDROGENS = ("none", "dft", "rdkit")


def check_hydrogens(hydrogens: str) -> str:
    """`hydrogens` if it is one of `HYDROGENS`; ValueError naming the choices otherwise."""
    if hydrogens not in HYDROGENS:
        raise ValueError(f"unknown hydrogens setting {hydrogens!r}; choose from {', '.join(HYDROGENS)}")
    return hydrogens


# The 3D teacher's element embedding covers atomic numbers below this (torchmd-net's max_z; the
# default of `TeacherConfig.max_z`). Records with heavier elements are rejected when built, not
# when a denoising run meets them hours later.
TEACHER_MAX_Z = 100


# Size limit of featurized molecules (atoms as given); see dnd.data.featurize.set_max_atoms.
DEFAULT_MAX_ATOMS = 1000


@dataclass
class CorpusConfig:
    """Pretraining corpus: a paired 2D/3D source of the data layer, or the embedded QM9 subset.
    Every stage (denoise, distill, infomax, attention, `dnd run`) selects its molecules with
    `dnd.data.corpus.load_corpus(CorpusConfig)`, so the same values give the same molecules."""

    source: str = "embedded"
    path: str | None = None
    limit: int | None = None          # read at most this many records of the file, in file order
    sample: int | None = None         # then keep a seeded random subset of this size
    seed: int = 0
    # QM9 only: keep the molecules of 3DInfomax's training pool slice [start, stop) (its
    # pretraining subset is [0, 50000]; finetuning then uses train_offset=50000)
    qm9_pool: list[int] | None = None
    cache_dir: str | None = None
    hydrogens: str = "dft"            # conformer atoms the teacher sees (HYDROGENS)
    num_conformers: int = 1           # smiles source: RDKit conformers per molecule
    conformer_seed: int = 0           # smiles source: embedding seed
