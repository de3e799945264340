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

from dataclasses import asdict
from pathlib import Path
from typing import Sequence

from torch import Tensor
from torch_geometric.data import Data

from dnd.data.config import CorpusConfig
from dnd.data.paired import check_corpus_elements
from dnd.checks import torch_device
from dnd.models.teacher import TEACHER_PREFIX, Teacher, load_teacher
from dnd.objectives.config import DistillObjective
from dnd.objectives.distill import StudentProjection, distill_loss, teacher_targets
from dnd.training.config import DistillRunConfig
from dnd.training.pretrain import StudentPretrainModule, fit_student, prepare_run
from dnd.training.teacher_cache import CachedTeacherDataset, cached_targets, ensure_teacher_cache


class DistillModule(StudentPretrainModule):
    """Student (+ linear projection when widths differ) trained to reproduce teacher features.

    `teacher` is needed in live mode only; cached batches carry their targets.
    """

    stage = "distill"

    def __init__(self, encoder_name: str, encoder_config: dict, teacher_dim: int, objective: dict,
                 optim: dict, teacher_ckpt: str | None = None, teacher: Teacher | None = None):
        super().__init__(encoder_name, encoder_config, optim)
        self.save_hyperparameters(ignore=["teacher"])
        self.objective = DistillObjective(**objective)
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
                out_dir: str | Path, resume: bool = False, corpus: CorpusConfig | None = None) -> Path:
    """Distills the teacher of `teacher_ckpt` into a fresh student on `records` (paired records,
    selected by `corpus`, which OUT/distill_config.json records); returns OUT/student.ckpt."""
    out = Path(out_dir)
    teacher = load_teacher(teacher_ckpt)
    check_corpus_elements(records, teacher.config.max_z)
    train, val, name, enc_config = prepare_run(cfg, records, out, "distill", {"teacher_ckpt": str(teacher_ckpt)},
                                               corpus)
    module = DistillModule(name, enc_config, teacher.hidden_dim, asdict(cfg.objective), asdict(cfg.optim),
                           teacher_ckpt=str(teacher_ckpt), teacher=None if cfg.cached else teacher)
    if cfg.cached:
        root = Path(cfg.feature_cache) if cfg.feature_cache else out / "teacher_cache"
        device = torch_device(cfg.trainer.accelerator)

        def cached(split: str, part: list[Data]):
            if not part:
                return []
            cache = ensure_teacher_cache(teacher, part, root / split, cfg.cache_dtype, cfg.cache_batch_size, device)
            return CachedTeacherDataset(part, cache)

        train_set, val_set = cached("train", train), cached("val", val)
    else:
        train_set, val_set = train, val
    return fit_student(module, train_set, val_set, cfg, out, resume)
