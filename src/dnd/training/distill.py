"""Step 2 of D&D: distill a frozen teacher into a 2D student (`dnd distill`).

`--variant node` (D&D-NODE, eq. 7) matches the student's node states to the teacher's features of
the same atoms; `--variant graph` (D&D-GRAPH, eq. 6) matches molecule vectors (the pooled teacher
features, or the teacher's molecule targets through a linear head); `node+graph` sums both (see
`dnd.objectives.distill`).

Teachers (`dnd.teachers`): a `dnd denoise` checkpoint (the paper's TorchMD-NET), `ani2x` or
`xtb`, each with `--control`. The denoiser runs live on every batch or, with `--cached`, once
into `dnd.training.teacher_cache`; its weights are not copied into the distillation checkpoints
(the path is kept in the hparams), so checkpoints stay the size of the student. ANI-2x and xTB
features are always computed once per corpus into `dnd.teachers.cache` (resumable chunks,
shared between runs), scaled by `TargetNorm` fitted on the training split, and molecules the
teacher could not treat or that overlap an evaluation task are left out and counted in
OUT/distill_config.json.
"""

from __future__ import annotations

import copy
import json
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import Dataset
from torch_geometric.data import Data

from dnd.checks import torch_device
from dnd.data.config import CorpusConfig
from dnd.data.paired import check_corpus_elements
from dnd.errors import UsageError
from dnd.models.checkpoint import to_hparams
from dnd.models.teacher import TEACHER_PREFIX, Teacher, load_teacher
from dnd.objectives.config import DistillObjective
from dnd.objectives.distill import StudentProjection, distill_losses, teacher_targets
from dnd.teachers import TeacherSpec, build_teacher, is_feature_teacher
from dnd.teachers.cache import FeatureCache, TargetNorm, ensure_features
from dnd.training.config import DistillRunConfig, OptimConfig
from dnd.training.pretrain import StudentPretrainModule, fit_student, prepare_run
from dnd.training.teacher_cache import CachedTeacherDataset, cached_targets, ensure_teacher_cache


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


def load_denoised(spec: TeacherSpec) -> Teacher:
    """The denoised teacher of checkpoint `spec.name`, or its control: an untrained TorchMD-NET of
    the same configuration (seeded), frozen."""
    teacher = load_teacher(spec.name)
    if not spec.control:
        return teacher
    torch.manual_seed(spec.seed)
    control = Teacher(teacher.config)
    control.featurizer_version = teacher.featurizer_version
    return control.freeze()


def run_distill(cfg: DistillRunConfig, records: Sequence[Data], teacher: TeacherSpec | str | Path,
                out_dir: str | Path, resume: bool = False, corpus: CorpusConfig | None = None,
                exclude: set[int] | None = None, extra: dict | None = None, ani2x_dir: str | None = None) -> Path:
    """Distills `teacher` (a spec, or a denoise checkpoint path) into a fresh student on `records`
    (paired records, selected by `corpus`, which OUT/distill_config.json records) less the corpus
    indices in `exclude` (overlap with evaluation tasks); returns OUT/student.ckpt."""
    spec = teacher if isinstance(teacher, TeacherSpec) else TeacherSpec(name=str(teacher))
    if is_feature_teacher(spec.name):
        return _distill_features(cfg, records, spec, out_dir, resume, corpus, exclude or set(), extra or {}, ani2x_dir)
    if exclude:
        records = [r for i, r in enumerate(records) if i not in exclude]
    out = Path(out_dir)
    net = load_denoised(spec)
    check_corpus_elements(records, net.config.max_z)
    norm = cfg.objective.target_norm or "none"
    if norm != "none":
        raise UsageError(f"--target-norm {norm}: the denoised teacher's targets are used raw (the paper's); "
                         "target scaling applies to ani2x and xtb")
    train, val, name, enc_config = prepare_run(cfg, records, out, "distill",
                                               {"teacher_ckpt": str(spec.name), "teacher": asdict(spec), **(extra or {})},
                                               corpus)
    module = DistillModule(name, enc_config, net.hidden_dim, cfg.objective, cfg.optim,
                           teacher_ckpt=str(spec.name), teacher=None if cfg.cached else net,
                           teacher_name=teacher_spec_label(spec))
    if cfg.cached:
        root = Path(cfg.feature_cache) if cfg.feature_cache else out / "teacher_cache"
        device = torch_device(cfg.trainer.accelerator)

        def cached(split: str, part: list[Data]):
            if not part:
                return []
            cache = ensure_teacher_cache(net, part, root / split, cfg.cache_dtype, cfg.cache_batch_size, device)
            return CachedTeacherDataset(part, cache)

        train_set, val_set = cached("train", train), cached("val", val)
    else:
        train_set, val_set = train, val
    return fit_student(module, train_set, val_set, cfg, out, resume)


def _distill_features(cfg: DistillRunConfig, records: Sequence[Data], spec: TeacherSpec, out_dir: str | Path,
                      resume: bool, corpus: CorpusConfig | None, exclude: set[int], extra: dict,
                      ani2x_dir: str | None) -> Path:
    out = Path(out_dir)
    teacher = build_teacher(spec, ani2x_dir)
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
             **extra}
    train, val, name, enc_config = prepare_run(cfg, kept, out, "distill", facts, corpus)
    train_idx = [position[id(r)] for r in train]
    val_idx = [position[id(r)] for r in val]
    norm = TargetNorm(cfg.objective.target_norm or teacher.default_norm, cache, records, train_idx)
    (out / "target_norm.json").write_text(json.dumps(norm.summary(), indent=1))
    module = DistillModule(name, enc_config, cache.dim, cfg.objective, cfg.optim,
                           mol_dim=cache.mol_dim, teacher_name=teacher_spec_label(spec))
    return fit_student(module, FeatureDataset(records, cache, train_idx, norm),
                       FeatureDataset(records, cache, val_idx, norm) if val_idx else [], cfg, out, resume)
