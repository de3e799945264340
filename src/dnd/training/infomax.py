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

import argparse
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

from torch import Tensor
from torch_geometric.data import Data

from dnd.models.teacher import PRESETS as TEACHER_PRESETS
from dnd.models.teacher import Teacher, TeacherConfig, atom_batch, load_teacher, preset_config
from dnd.objectives.infomax import InfomaxConfig, build_heads, contrastive_accuracy, infomax_loss
from dnd.training.pretrain import (PretrainConfig, StudentPretrainModule, add_pretrain_arguments, fit_student,
                                   prepare_run, pretrain_config_from_args, records_from_args)
from dnd.training.trainer import check_run_options


@dataclass
class InfomaxRunConfig(PretrainConfig):
    objective: InfomaxConfig = field(default_factory=InfomaxConfig)
    net3d_preset: str = "cpu-small"     # architecture of the untrained 3D network
    teacher_init: str | None = None     # denoise checkpoint to start the 3D network from instead


class InfomaxModule(StudentPretrainModule):
    """Student + 3D network + two projection heads, trained with NT-Xent."""

    stage = "infomax"
    min_batch_graphs = 2

    def __init__(self, encoder_name: str, encoder_config: dict, net3d: dict, objective: dict, optim: dict,
                 teacher_init: str | None = None):
        super().__init__(encoder_name, encoder_config, optim)
        self.save_hyperparameters()
        self.net3d = Teacher(TeacherConfig.from_dict(net3d))
        self.objective = InfomaxConfig(**objective)
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


def run_infomax(cfg: InfomaxRunConfig, records: Sequence[Data], out_dir: str | Path, resume: bool = False) -> Path:
    """Trains the student contrastively against a 3D network on `records`; returns OUT/student.ckpt."""
    init = load_teacher(cfg.teacher_init) if cfg.teacher_init else None
    net3d = init.config if init is not None else preset_config(cfg.net3d_preset)
    train, val, name, enc_config = prepare_run(cfg, records, out_dir, "infomax", {"net3d": net3d.to_dict()})
    module = InfomaxModule(name, enc_config, net3d.to_dict(), asdict(cfg.objective), asdict(cfg.optim),
                           teacher_init=cfg.teacher_init)
    if init is not None:
        module.net3d.load_state_dict(init.state_dict())
    return fit_student(module, train, val, cfg, out_dir, resume)


# ---------------------------------------------------------------- command line

def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = InfomaxRunConfig()
    g = parser.add_argument_group("3D network and objective")
    g.add_argument("--net3d-preset", choices=sorted(TEACHER_PRESETS), default=d.net3d_preset,
                   help="architecture of the (untrained) 3D network: the teacher's presets")
    g.add_argument("--teacher-init", help="start the 3D network from this denoised teacher checkpoint")
    g.add_argument("--tau", type=float, default=d.objective.tau, help="NT-Xent temperature")
    g.add_argument("--symmetric", action="store_true", help="also contrast 3D->2D (3DInfomax: one direction)")
    g.add_argument("--metric-dim", type=int, default=d.objective.metric_dim, help="projection output width")
    add_pretrain_arguments(parser)


def config_from_args(args: argparse.Namespace) -> InfomaxRunConfig:
    base = pretrain_config_from_args(args)
    objective = InfomaxConfig(tau=args.tau, symmetric=args.symmetric, metric_dim=args.metric_dim)
    return InfomaxRunConfig(**vars(base), objective=objective, net3d_preset=args.net3d_preset,
                            teacher_init=args.teacher_init)


def run(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    check_run_options(args)
    student = run_infomax(cfg, records_from_args(args), args.out, resume=args.resume)
    print(f"student checkpoint: {student}")
    return 0
