"""Teachers: who gives the student its targets. One interface (`base.FeatureTeacher`), three kinds,
a file each:

- `denoised` (`--teacher CKPT` or `dnd:NAME`): the paper's TorchMD-NET trained by `dnd denoise`;
- `ani2x`: the hidden layers of a pretrained neural potential;
- `xtb`: GFN2-xTB charges, energies, bond orders and solvation.

Each has its control one flag away (`--control`). Features are computed once per corpus into the
chunked cache of `dnd.teachers.cache`; only the denoiser can also run live on every batch.
"""

from __future__ import annotations

from dnd.teachers.base import FeatureTeacher, TeacherSpec

# teachers named by a word; any other --teacher is a `dnd denoise` checkpoint (path or dnd:NAME)
NAMED_TEACHERS = ("ani2x", "xtb")


def build_teacher(spec: TeacherSpec, ani2x_dir: str | None = None, batch_size: int = 128,
                  device: str = "cpu") -> FeatureTeacher:
    """The teacher `spec` names; `ani2x_dir` is ANI-2x's parameter folder, `batch_size` and
    `device` the denoiser's forward passes."""
    if spec.name == "ani2x":
        from dnd.teachers.ani2x import ANI2xTeacher

        return ANI2xTeacher(spec, ani2x_dir)
    if spec.name == "xtb":
        from dnd.teachers.xtb import XTBTeacher

        return XTBTeacher(spec)
    from dnd.teachers.denoised import DenoisedTeacher

    return DenoisedTeacher(spec, batch_size, device)


__all__ = ["NAMED_TEACHERS", "FeatureTeacher", "TeacherSpec", "build_teacher"]
