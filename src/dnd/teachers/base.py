"""The interface every teacher implements, whatever computes its features.

Distillation needs, per molecule of the corpus, features of the conformer's atoms and (for
teachers that have them) a vector of molecule-level targets. A teacher is therefore a function
from paired records (`z`, `pos`, `atom_is_node`, the graph's formal charges) to `TeacherOutput`s;
the feature cache (`dnd.teachers.cache`) runs it once over a corpus in resumable chunks, and the
distillation objectives read the cache. A molecule the teacher cannot treat (an element ANI-2x
does not cover, an SCF that does not converge) is a `TeacherOutput` with `error` set: the cache
records it, distillation leaves it out and says how many, and nothing is guessed for it.

Every teacher has a control one flag away (`control=True`): the same pipeline with the
knowledge taken out (an untrained network, or targets permuted across molecules), because a
claim that a teacher transfers knowledge is only made against its control.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from typing import NamedTuple, Sequence

import numpy as np

CACHE_DTYPES = ("float32", "float16")  # storage types of every teacher-feature cache


class TeacherOutput(NamedTuple):
    """One molecule's teacher features: `atom` [n_conformer_atoms, atom_dim] float32 in the
    conformer's atom order, `mol` [mol_dim] float32 or None; or `error` (then both are None)."""

    atom: np.ndarray | None
    mol: np.ndarray | None = None
    error: str | None = None


@dataclass
class TeacherSpec:
    """How a teacher is named on the command line and in YAML (`--teacher`, `--control`, ...).

    name: `ani2x`, `xtb`, a `dnd denoise` checkpoint path, or `dnd:NAME` (a shipped teacher).
    control: the teacher's control instead of the teacher (see the module docstring).
    member: ANI-2x ensemble member 0-7, or None for the mean over the 8 members.
    layer: ANI-2x hidden layer whose activations are the features (-1: the last hidden layer).
    seed: initialisation of the untrained / re-initialised controls and the permutation.
    """

    name: str = "ani2x"
    control: bool = False
    member: int | None = 0
    layer: int = -1
    seed: int = 0


def digest(obj) -> str:
    """sha256 of a JSON-able object (sorted keys): the identity of a teacher's settings."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def weights_digest(*modules) -> str:
    """sha256 of the modules' parameters and buffers (by name, module after module): equal
    digests, equal networks."""
    h = hashlib.sha256()
    for module in modules:
        for name, tensor in sorted(module.state_dict().items()):
            h.update(name.encode())
            h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


class FeatureTeacher(ABC):
    """A frozen teacher: records in, per-atom (and per-molecule) features out."""

    kind: str = ""
    atom_dim: int = 0
    mol_dim: int = 0
    # Per-atom targets are centred per element and scaled before distillation by default (see
    # dnd.objectives.distill.TargetNorm); the denoiser keeps the paper's raw targets.
    default_norm: str = "element"
    atom_names: tuple[str, ...] = ()
    mol_names: tuple[str, ...] = ()

    def __init__(self, spec: TeacherSpec):
        self.spec = spec

    @abstractmethod
    def identity(self) -> dict:
        """Everything that determines the features (kind, settings, versions, weights digest):
        its digest names the feature cache, so equal identities must give equal features."""

    def fingerprint(self) -> str:
        return digest(self.identity())

    @abstractmethod
    def compute(self, records: Sequence) -> list[TeacherOutput]:
        """Features of each record, in order (one output per record, errors included)."""

    @property
    def permutes_targets(self) -> bool:
        """True when the control is made by permuting this teacher's targets across molecules
        after they are computed (xTB) rather than by a different network (ANI-2x, denoiser)."""
        return False

    def describe(self) -> str:
        what = f"{self.kind} ({'control' if self.spec.control else 'teacher'})"
        return f"{what}: {self.atom_dim} atom features" + (f", {self.mol_dim} molecule targets" if self.mol_dim else "")


def formal_charge(record) -> int:
    """Total charge of a paired record: the sum of its graph atoms' formal charges (OGB's atom
    feature 3 is the formal charge + 5; hydrogens carry none in RDKit-built records)."""
    return int((record.x[:, 3] - 5).sum())


def spec_dict(spec: TeacherSpec) -> dict:
    return asdict(spec)
