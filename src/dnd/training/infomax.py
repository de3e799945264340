"""The 3DInfomax baseline (Stärk et al., 2022): `dnd infomax`.

A 3D network and the 2D student are trained jointly, each followed by a projection head, with
NT-Xent over the batch (see `dnd.objectives.infomax` for the exact formulation, checked against
the reference implementation). The 3D side uses the teacher's architecture (TorchMD_ET via
`dnd.models.teacher.Teacher`): untrained by default (`--net3d-preset`), or initialised from a
denoised teacher with `--teacher-init CKPT`, in which case the architecture comes from that
checkpoint and the network keeps training. Which of the two a result used is recorded in the
checkpoint hparams ("teacher_init") and OUT/infomax_config.json.

Output conventions are those of `dnd distill` (`dnd.training.pretrain`): OUT/student.ckpt holds the
student alone; the heads and the 3D network live only in the Lightning checkpoints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from torch import Tensor
from torch_geometric.data import Data

from dnd.data.config import CorpusConfig
from dnd.models.checkpoint import to_hparams
from dnd.models.config import TeacherConfig, teacher_preset
from dnd.models.teacher import Teacher, atom_batch, load_teacher
from dnd.objectives.config import InfomaxObjective
from dnd.objectives.infomax import build_heads, contrastive_accuracy, infomax_loss
from dnd.training.config import InfomaxRunConfig, OptimConfig
from dnd.training.pretrain import StudentPretrainModule, fit_student, prepare_run


class InfomaxModule(StudentPretrainModule):
    """Student + 3D network + two projection heads, trained with NT-Xent."""

    stage = "infomax"
    min_batch_graphs = 2

    def __init__(self, encoder_name: str, encoder_config: dict, net3d: TeacherConfig, objective: InfomaxObjective,
                 optim: OptimConfig, teacher_init: str | None = None):
        super().__init__(encoder_name, encoder_config, optim)
        self.save_hyperparameters(to_hparams(encoder_name=encoder_name, encoder_config=encoder_config, net3d=net3d,
                                             objective=objective, optim=optim, teacher_init=teacher_init))
        self.net3d = Teacher(net3d)
        self.objective = objective
        self.head2d, self.head3d = build_heads(self.objective, self.student.hidden_dim, self.net3d.hidden_dim)

    def embeddings(self, batch) -> tuple[Tensor, Tensor]:
        """(z2d, z3d): [B, metric_dim] each."""
        n = batch.num_graphs
        z2d = self.head2d(self.student.encode(batch), batch.batch, n)
        z3d = self.head3d(self.net3d.encode(batch), atom_batch(batch), n)
        return z2d, z3d

    def compute_loss(self, batch) -> dict[str, Tensor]:
        z2d, z3d = self.embeddings(batch)
        return {"loss": infomax_loss(z2d, z3d, self.objective), "acc": contrastive_accuracy(z2d, z3d)}


def run_infomax(cfg: InfomaxRunConfig, records: Sequence[Data], out_dir: str | Path, resume: bool = False,
                corpus: CorpusConfig | None = None) -> Path:
    """Trains the student contrastively against a 3D network on `records` (selected by `corpus`,
    which OUT/infomax_config.json records); returns OUT/student.ckpt."""
    init = load_teacher(cfg.teacher_init) if cfg.teacher_init else None
    net3d = init.config if init is not None else teacher_preset(cfg.net3d_preset)
    train, val, name, enc_config = prepare_run(cfg, records, out_dir, "infomax", {"net3d": net3d.to_dict()},
                                               corpus)
    module = InfomaxModule(name, enc_config, net3d, cfg.objective, cfg.optim, teacher_init=cfg.teacher_init)
    if init is not None:
        module.net3d.load_state_dict(init.state_dict())
    return fit_student(module, train, val, cfg, out_dir, resume)
