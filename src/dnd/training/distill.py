"""Step 2 of D&D: distill the frozen 3D teacher into a 2D student (`dnd distill`).

`--variant node` (D&D-NODE, eq. 7) matches the student's node states to the teacher's states of the
same atoms; `--variant graph` (D&D-GRAPH, eq. 6) matches their mean-pooled molecule vectors (see
`dnd.objectives.distill` for the loss and the `--teacher-pool` choice).

The teacher comes from a `dnd denoise` checkpoint via `load_teacher`, frozen: eval mode, no
gradients, and `train()` calls from Lightning cannot unfreeze it. Its weights are not copied into
the distillation checkpoints (the path is kept in the hparams instead), so checkpoints stay the
size of the student.

Two modes give the same loss on the same batch:
* live: the teacher runs on every batch;
* `--cached`: the teacher runs once over the corpus and its features are written to a
  memory-mapped cache (`dnd.training.teacher_cache`); training then reads them and never runs
  the 3D model. The cache is keyed by teacher weights and corpus, and rebuilt when either changes.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import torch
from torch import Tensor
from torch_geometric.data import Data

from dnd.data.paired import check_corpus_elements
from dnd.models.teacher import TEACHER_PREFIX, Teacher, load_teacher
from dnd.objectives.distill import (TEACHER_POOLS, VARIANTS, DistillConfig, StudentProjection,
                                    distill_loss, teacher_targets)
from dnd.training.pretrain import (PretrainConfig, StudentPretrainModule, add_pretrain_arguments, fit_student,
                                   prepare_run, pretrain_config_from_args, records_from_args)
from dnd.training.teacher_cache import DTYPES, CachedTeacherDataset, cached_targets, ensure_teacher_cache
from dnd.training.trainer import check_run_options


@dataclass
class DistillRunConfig(PretrainConfig):
    objective: DistillConfig = field(default_factory=DistillConfig)
    cached: bool = False
    feature_cache: str | None = None   # cache folder; None: OUT/teacher_cache
    cache_dtype: str = "float32"
    cache_batch_size: int = 128


class DistillModule(StudentPretrainModule):
    """Student (+ linear projection when widths differ) trained to reproduce teacher features.

    `teacher` is needed in live mode only; cached batches carry their targets.
    """

    stage = "distill"

    def __init__(self, encoder_name: str, encoder_config: dict, teacher_dim: int, objective: dict,
                 optim: dict, teacher_ckpt: str | None = None, teacher: Teacher | None = None):
        super().__init__(encoder_name, encoder_config, optim)
        self.save_hyperparameters(ignore=["teacher"])
        self.objective = DistillConfig(**objective)
        self.projection = StudentProjection(self.student.hidden_dim, teacher_dim)
        if teacher is not None and teacher.hidden_dim != teacher_dim:
            raise ValueError(f"teacher width {teacher.hidden_dim} != teacher_dim {teacher_dim}")
        self.teacher = teacher.freeze() if teacher is not None else None

    def compute_loss(self, batch) -> dict[str, Tensor]:
        targets = cached_targets(batch)
        if targets is None:
            if self.teacher is None:
                raise RuntimeError("batch carries no cached teacher features and no live teacher was given")
            targets = teacher_targets(self.teacher.encode(batch), batch)
        nodes = self.projection(self.student.encode(batch))
        return {"loss": distill_loss(nodes, targets, batch, self.objective)}

    # The frozen teacher is not part of the run's state: keep its weights out of checkpoints and
    # put the live teacher's back before Lightning restores (strict) from one.
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        state = checkpoint["state_dict"]
        for key in [k for k in state if k.startswith(TEACHER_PREFIX)]:
            del state[key]

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        if self.teacher is not None:
            checkpoint["state_dict"].update({TEACHER_PREFIX + k: v for k, v in self.teacher.state_dict().items()})


def run_distill(cfg: DistillRunConfig, records: Sequence[Data], teacher_ckpt: str | Path,
                out_dir: str | Path, resume: bool = False) -> Path:
    """Distills the teacher of `teacher_ckpt` into a fresh student on `records` (paired records);
    returns OUT/student.ckpt."""
    out = Path(out_dir)
    teacher = load_teacher(teacher_ckpt)
    check_corpus_elements(records, teacher.config.max_z)
    train, val, name, enc_config = prepare_run(cfg, records, out, "distill", {"teacher_ckpt": str(teacher_ckpt)})
    module = DistillModule(name, enc_config, teacher.hidden_dim, asdict(cfg.objective), asdict(cfg.optim),
                           teacher_ckpt=str(teacher_ckpt), teacher=None if cfg.cached else teacher)
    if cfg.cached:
        root = Path(cfg.feature_cache) if cfg.feature_cache else out / "teacher_cache"
        device = "cuda" if torch.cuda.is_available() and cfg.trainer.accelerator in ("auto", "gpu", "cuda") else "cpu"

        def cached(split: str, part: list[Data]):
            if not part:
                return []
            cache = ensure_teacher_cache(teacher, part, root / split, cfg.cache_dtype, cfg.cache_batch_size, device)
            return CachedTeacherDataset(part, cache)

        train_set, val_set = cached("train", train), cached("val", val)
    else:
        train_set, val_set = train, val
    return fit_student(module, train_set, val_set, cfg, out, resume)


# ---------------------------------------------------------------- command line

def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = DistillRunConfig()
    t = parser.add_argument_group("teacher and objective")
    t.add_argument("--teacher", required=True, help="teacher checkpoint from `dnd denoise` (last.ckpt)")
    t.add_argument("--variant", choices=VARIANTS, default=d.objective.variant,
                   help="node: D&D-NODE (eq. 7); graph: D&D-GRAPH (eq. 6)")
    t.add_argument("--teacher-pool", choices=TEACHER_POOLS, default=d.objective.teacher_pool,
                   help="GRAPH target: mean over all conformer atoms (paper) or over heavy (graph) atoms")
    t.add_argument("--cached", action="store_true",
                   help="precompute teacher features once (memory-mapped) instead of running the teacher per batch")
    t.add_argument("--feature-cache", help="teacher feature cache folder (default OUT/teacher_cache)")
    t.add_argument("--cache-dtype", choices=DTYPES, default=d.cache_dtype)
    add_pretrain_arguments(parser)


def config_from_args(args: argparse.Namespace) -> DistillRunConfig:
    base = pretrain_config_from_args(args)
    return DistillRunConfig(**vars(base), objective=DistillConfig(args.variant, args.teacher_pool),
                            cached=args.cached, feature_cache=args.feature_cache, cache_dtype=args.cache_dtype)


def run(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    check_run_options(args)
    student = run_distill(cfg, records_from_args(args), args.teacher, args.out, resume=args.resume)
    print(f"student checkpoint: {student}")
    return 0
