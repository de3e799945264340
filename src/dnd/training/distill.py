"""Step 2 of D&D: distill a frozen teacher into a 2D student (`dnd distill`).

`--variant node` (D&D-NODE, eq. 7) matches the student's node states to the teacher's features of
the same atoms; `--variant graph` (D&D-GRAPH, eq. 6) matches molecule vectors (the pooled teacher
features, or the teacher's molecule targets through a linear head); `node+graph` sums both (see
`dnd.objectives.distill`).

Teachers (`dnd.teachers`): a `dnd denoise` checkpoint (the paper's TorchMD-NET), `ani2x` or
`xtb`, each with `--control`. Their features are computed once per corpus into
`dnd.teachers.cache` (resumable chunks, shared between runs), scaled by `TargetNorm` fitted on the
training split; molecules the teacher could not treat or that overlap an evaluation task are left
out and counted in OUT/distill_config.json. The denoiser alone can instead run live on every
batch (no `--cached`); its weights are never copied into the distillation checkpoints (the path
is kept in the hparams), so checkpoints stay the size of the student.
"""

from __future__ import annotations

import copy
import json
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

import numpy as np
from torch import Tensor, nn
from torch.utils.data import Dataset
from torch_geometric.data import Data

from dnd.checks import torch_device
from dnd.data.config import CorpusConfig
from dnd.data.paired import check_corpus_elements
from dnd.errors import UsageError
from dnd.models.checkpoint import to_hparams
from dnd.models.teacher import TEACHER_PREFIX, Teacher
from dnd.objectives.config import DistillObjective
from dnd.objectives.distill import StudentProjection, TeacherTargets, distill_losses, teacher_targets
from dnd.teachers import NAMED_TEACHERS, FeatureTeacher, TeacherSpec, build_teacher
from dnd.teachers.cache import FeatureCache, TargetNorm, ensure_features
from dnd.teachers.denoised import DenoisedTeacher
from dnd.training.config import DistillRunConfig, OptimConfig
from dnd.training.pretrain import StudentPretrainModule, fit_student, prepare_run


class DistillModule(StudentPretrainModule):
    """Student (+ linear projection when widths differ, + a head for molecule targets) trained to
    reproduce teacher features. `teacher` is needed in live mode only; cached batches carry
    their targets."""

    stage = "distill"

    def __init__(self, encoder_name: str, encoder_config: dict, teacher_dim: int, objective: DistillObjective,
                 optim: OptimConfig, teacher_ckpt: str | None = None, teacher: Teacher | None = None,
                 mol_dim: int = 0, teacher_name: str | None = None):
        super().__init__(encoder_name, encoder_config, optim)
        self.save_hyperparameters(to_hparams(encoder_name=encoder_name, encoder_config=encoder_config,
                                             teacher_dim=teacher_dim, objective=objective, optim=optim,
                                             teacher_ckpt=teacher_ckpt, mol_dim=mol_dim, teacher_name=teacher_name))
        self.objective = objective
        self.projection = StudentProjection(self.student.hidden_dim, teacher_dim)
        self.mol_head = nn.Linear(self.student.hidden_dim, mol_dim) if mol_dim and self.objective.variant != "node" else None
        if teacher is not None and teacher.hidden_dim != teacher_dim:
            raise ValueError(f"teacher width {teacher.hidden_dim} != teacher_dim {teacher_dim}")
        self.teacher = teacher.freeze() if teacher is not None else None

    def compute_loss(self, batch) -> dict[str, Tensor]:
        targets = cached_targets(batch)
        if targets is None:
            if self.teacher is None:
                raise RuntimeError("batch carries no cached teacher features and no live teacher was given")
            targets = teacher_targets(self.teacher.encode(batch), batch)
        return distill_losses(self.student.encode(batch), targets, batch, self.objective, self.projection, self.mol_head)

    # The frozen teacher is not part of the run's state: keep its weights out of checkpoints and
    # put the live teacher's back before Lightning restores (strict) from one.
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        state = checkpoint["state_dict"]
        for key in [k for k in state if k.startswith(TEACHER_PREFIX)]:
            del state[key]

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        if self.teacher is not None:
            checkpoint["state_dict"].update({TEACHER_PREFIX + k: v for k, v in self.teacher.state_dict().items()})


class FeatureDataset(Dataset):
    """Records (a subset by corpus `indices`) with their scaled teacher features attached as
    `teacher_node` [n_nodes, d], `teacher_pool` [1, d] and, where the teacher has molecule
    targets, `teacher_mol` [1, k]; PyG batching stacks them row-wise into `TeacherTargets`."""

    def __init__(self, records: Sequence[Data], cache: FeatureCache, indices: Sequence[int], norm: TargetNorm):
        self.records, self.cache, self.indices, self.norm = records, cache, list(indices), norm

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, k: int) -> Data:
        i = self.indices[k]
        r = self.records[i]
        data = copy.copy(r)  # shallow: the shared record is never modified
        data.teacher_node = self.norm.node(self.cache.node(i), r.z[r.atom_is_node])
        data.teacher_pool = self.norm.pooled(self.cache.pooled(i))
        if self.cache.mol_dim:
            data.teacher_mol = self.norm.mol(self.cache.mol(i))
        return data


def teacher_spec_label(spec: TeacherSpec) -> str:
    return f"{spec.name}{' (control)' if spec.control else ''}"


def cached_targets(batch) -> TeacherTargets | None:
    """The targets `FeatureDataset` attached to a batch, or None for a live-teacher batch."""
    if "teacher_node" not in batch:
        return None
    return TeacherTargets(node=batch.teacher_node, pooled_all=batch.teacher_pool,
                          mol=batch.teacher_mol if "teacher_mol" in batch else None)


def run_distill(cfg: DistillRunConfig, records: Sequence[Data], teacher: TeacherSpec | str | Path,
                out_dir: str | Path, resume: bool = False, corpus: CorpusConfig | None = None,
                exclude: set[int] | None = None, extra: dict | None = None, ani2x_dir: str | None = None) -> Path:
    """Distills `teacher` (a spec, or a denoise checkpoint path) into a fresh student on `records`
    (paired records, selected by `corpus`, which OUT/distill_config.json records) less the corpus
    indices in `exclude` (overlap with evaluation tasks); returns OUT/student.ckpt."""
    spec = teacher if isinstance(teacher, TeacherSpec) else TeacherSpec(name=str(teacher))
    live = spec.name not in NAMED_TEACHERS and not cfg.cached
    built = build_teacher(spec, ani2x_dir, cfg.cache_batch_size, "cpu" if live else torch_device(cfg.trainer.accelerator))
    if live:
        return _distill_live(cfg, records, built, out_dir, resume, corpus, exclude or set(), extra or {})
    return _distill_features(cfg, records, built, out_dir, resume, corpus, exclude or set(), extra or {})


def _distill_live(cfg: DistillRunConfig, records: Sequence[Data], teacher: DenoisedTeacher, out_dir: str | Path,
                  resume: bool, corpus: CorpusConfig | None, exclude: set[int], extra: dict) -> Path:
    """The denoiser run on every batch (no feature cache): targets raw, as in the paper."""
    if (cfg.objective.target_norm or "none") != "none":
        raise UsageError(f"--target-norm {cfg.objective.target_norm}: target scaling is fitted on cached features; "
                         "add --cached (or leave --target-norm out) for a live denoiser")
    records = [r for i, r in enumerate(records) if i not in exclude]
    net = teacher.network()
    check_corpus_elements(records, net.config.max_z)
    spec = teacher.spec
    train, val, name, enc_config = prepare_run(cfg, records, Path(out_dir), "distill",
                                               {"teacher_ckpt": spec.name, "teacher": asdict(spec), **extra}, corpus)
    module = DistillModule(name, enc_config, net.hidden_dim, cfg.objective, cfg.optim,
                           teacher_ckpt=spec.name, teacher=net, teacher_name=teacher_spec_label(spec))
    return fit_student(module, train, val, cfg, Path(out_dir), resume)


def _distill_features(cfg: DistillRunConfig, records: Sequence[Data], teacher: FeatureTeacher, out_dir: str | Path,
                      resume: bool, corpus: CorpusConfig | None, exclude: set[int], extra: dict) -> Path:
    """Any teacher through its feature cache, computed once per corpus (see dnd.teachers.cache)."""
    out, spec = Path(out_dir), teacher.spec
    root = Path(cfg.feature_cache) if cfg.feature_cache else out / "teacher_features"
    cache = ensure_features(teacher, records, root, cfg.cache_dtype)
    failed = set(np.flatnonzero(~cache.ok).tolist())
    keep = [i for i in range(len(records)) if i not in failed and i not in exclude]
    if not keep:
        raise UsageError(f"no molecule of the corpus is left to distill on ({len(failed)} the {spec.name} "
                         f"teacher could not treat, {len(exclude)} overlapping evaluation tasks)")
    print(f"distill: {len(keep)} of {len(records)} molecules ({len(failed)} the {spec.name} teacher could not "
          f"treat, {len(exclude - failed)} more overlapping evaluation tasks; see {cache.path}/meta.json)")
    position = {id(r): i for i, r in enumerate(records)}
    kept = [records[i] for i in keep]
    facts = {"teacher": asdict(spec), "teacher_identity": teacher.identity(), "teacher_features": str(cache.path),
             "corpus_size": len(records), "teacher_failed": len(failed), "overlap_removed": len(exclude - failed),
             **({"teacher_ckpt": spec.name} if teacher.kind == "denoised" else {}), **extra}
    train, val, name, enc_config = prepare_run(cfg, kept, out, "distill", facts, corpus)
    train_idx = [position[id(r)] for r in train]
    val_idx = [position[id(r)] for r in val]
    norm = TargetNorm(cfg.objective.target_norm or teacher.default_norm, cache, records, train_idx)
    (out / "target_norm.json").write_text(json.dumps(norm.summary(), indent=1))
    module = DistillModule(name, enc_config, cache.dim, cfg.objective, cfg.optim,
                           mol_dim=cache.mol_dim, teacher_name=teacher_spec_label(spec))
    return fit_student(module, FeatureDataset(records, cache, train_idx, norm),
                       FeatureDataset(records, cache, val_idx, norm) if val_idx else [], cfg, out, resume)
