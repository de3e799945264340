"""The paper's teacher: a TorchMD-NET trained by `dnd denoise` (a checkpoint path or `dnd:NAME`).

Its features of an atom are the network's final per-atom representations of the clean conformer
(`Teacher.encode`), as in the paper's eq. 6-7. Targets are used raw by default (the paper's; an
element-centred scaling is one flag away, `--target-norm element`).

Control (`control=True`): an untrained TorchMD-NET of the same configuration, seeded by
`spec.seed`: the same pipeline with no denoising in it. A molecule holding an element the
network has no embedding for (z >= max_z) is reported as an error row, never guessed.

Distillation can also run this teacher live on every batch (no `--cached`), which needs the
network itself: `network()`.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from dnd.data.loader import make_loader
from dnd.models.teacher import Teacher, atom_batch, load_teacher
from dnd.teachers.base import FeatureTeacher, TeacherOutput, TeacherSpec, weights_digest


class DenoisedTeacher(FeatureTeacher):
    kind = "denoised"
    default_norm = "none"

    def __init__(self, spec: TeacherSpec, batch_size: int = 128, device: str | torch.device = "cpu"):
        super().__init__(spec)
        self.batch_size, self.device = batch_size, torch.device(device)
        net = load_teacher(spec.name)
        if spec.control:
            with torch.random.fork_rng(devices=[]):  # the caller's random state is left as it was
                torch.manual_seed(spec.seed)
                control = Teacher(net.config)
            control.featurizer_version = net.featurizer_version
            net = control.freeze()
        self.net = net
        self.atom_dim = net.hidden_dim
        self.atom_names = tuple(f"h{i}" for i in range(net.hidden_dim))
        self._weights = weights_digest(net)  # frozen: hashed once, not per chunk

    def network(self) -> Teacher:
        """The frozen TorchMD-NET (the control's when `spec.control`), for live distillation."""
        return self.net

    def identity(self) -> dict:
        # the checkpoint path is not part of it: a copied checkpoint keeps its features
        return {"kind": self.kind, "config": self.net.config.to_dict(), "weights": self._weights,
                "control": self.spec.control, "seed": self.spec.seed if self.spec.control else None}

    @torch.no_grad()
    def compute(self, records: Sequence) -> list[TeacherOutput]:
        max_z = self.net.config.max_z
        outputs: list[TeacherOutput | None] = [None] * len(records)
        good = []
        for i, r in enumerate(records):
            z = r.z
            if bool(((z < 1) | (z >= max_z)).any()):
                outputs[i] = TeacherOutput(None, error=f"element Z={int(z.max())} beyond the teacher's max_z {max_z}")
            else:
                good.append(i)
        net = self.net.to(self.device)
        start = 0
        for batch in make_loader([records[i] for i in good], self.batch_size):
            batch = batch.to(self.device)
            feats = net.encode(batch).float().cpu().numpy()
            mol = atom_batch(batch).cpu().numpy()
            for k in range(batch.num_graphs):
                outputs[good[start + k]] = TeacherOutput(np.ascontiguousarray(feats[mol == k]))
            start += batch.num_graphs
        return outputs
