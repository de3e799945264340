"""Typed config of the pretraining corpus and the names of its sources. No torch here, so the
command line reads choices and defaults without loading the deep-learning stack."""

from __future__ import annotations

from dataclasses import dataclass

from dnd.config_check import setting

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


# Size limit of featurized molecules (atoms as given); see dnd.data.featurize.atom_limit.
DEFAULT_MAX_ATOMS = 1000


@dataclass
class CorpusConfig:
    """Pretraining corpus: a paired 2D/3D source of the data layer, or the embedded QM9 subset.
    Every stage (denoise, distill, infomax, attention, `dnd run`) selects its molecules with
    `dnd.data.corpus.load_corpus(CorpusConfig)`, so the same values give the same molecules."""

    source: str = setting("embedded", choices=CORPUS_SOURCES,
                          help="3D conformer source; 'embedded' uses the QM9 subset shipped with the package")
    path: str | None = setting(None, help="data file for qm9/sdf/pcqm4mv2/smiles sources (sdf: also a folder of "
                               ".sdf/.sdf.gz shards, read in name order), or the merged records file of "
                               "`dnd data conformers --merge` for --source records")
    limit: int | None = setting(None, help="read at most this many molecules (the first ones in the file)")
    sample: int | None = setting(None, help="then keep a seeded random subset of this many; QM9 is ordered by "
                                 "size, so --limit alone gives small molecules only")
    seed: int = setting(0, help="seed of --sample (on the command line: --seed)")
    # 3DInfomax's pretraining subset is [0, 50000]; finetuning then uses train_offset=50000
    qm9_pool: list[int] | None = setting(None, help="QM9 only: keep the molecules of 3DInfomax's training pool "
                                         "slice START STOP")
    cache_dir: str | None = setting(None, help="featurized-record cache folder")
    hydrogens: str = setting("dft", choices=HYDROGENS, help="conformer atoms the teacher sees: 'none' heavy atoms "
                             "only (the paper's PCQM4Mv2 teacher), 'dft' the source's hydrogens, 'rdkit' also place "
                             "hydrogens a heavy-atom SDF lacks")
    num_conformers: int = setting(1, help="smiles source: RDKit conformers per molecule")
    conformer_seed: int = setting(0, help="smiles source: embedding seed")
    max_atoms: int | None = setting(None, help=f"skip molecules with more atoms than this (default {DEFAULT_MAX_ATOMS})")
