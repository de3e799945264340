"""Teachers: who gives the student its targets. One interface (`base.FeatureTeacher`), three kinds:

- a denoised TorchMD-NET (`--teacher CKPT` or `dnd:NAME`): the paper's teacher, in
  `dnd.models.teacher` (trained by `dnd denoise`) and distilled live or from its cache
  (`dnd.training.teacher_cache`);
- `ani2x` (`dnd.teachers.ani2x`): the hidden layers of a pretrained neural potential;
- `xtb` (`dnd.teachers.xtb`): GFN2-xTB charges, energies, bond orders and solvation.

Each has its control one flag away (`--control`). Features of ani2x and xtb are always computed
once per corpus into the chunked cache of `dnd.teachers.cache`.
"""

from __future__ import annotations

from dnd.teachers.base import FeatureTeacher, TeacherSpec

# precomputed-feature teachers: name -> builder module (imported on first use)
FEATURE_TEACHERS = {"ani2x": "dnd.teachers.ani2x", "xtb": "dnd.teachers.xtb"}


def is_feature_teacher(name: str) -> bool:
    return name in FEATURE_TEACHERS


def build_teacher(spec: TeacherSpec, ani2x_dir: str | None = None) -> FeatureTeacher:
    """The feature teacher `spec` names (ani2x or xtb)."""
    if spec.name == "ani2x":
        from dnd.teachers.ani2x import ANI2xTeacher

        return ANI2xTeacher(spec, ani2x_dir)
    if spec.name == "xtb":
        from dnd.teachers.xtb import XTBTeacher

        return XTBTeacher(spec)
    raise ValueError(f"{spec.name!r} is not a feature teacher ({', '.join(FEATURE_TEACHERS)})")


__all__ = ["FEATURE_TEACHERS", "FeatureTeacher", "TeacherSpec", "build_teacher", "is_feature_teacher"]
