"""Typed settings of the pretraining objectives (D&D distillation, 3DInfomax), named *Objective
so that they are not mistaken for the stage configs that hold them (`DistillRunConfig.objective`,
`InfomaxRunConfig.objective` in `dnd.training.config`). No torch here, so the command line reads
choices and defaults without loading the deep-learning stack."""

from __future__ import annotations

from dataclasses import dataclass

from dnd.config_check import setting

VARIANTS = ("node", "graph", "node+graph")
TEACHER_POOLS = ("all", "heavy")
# How teacher targets are scaled before the loss (dnd.teachers.cache.TargetNorm): "none" the raw
# features (the paper's denoiser), "standard" per-column z-scores, "element" per-atom targets
# centred per element then scaled (the student reads the element, so this leaves it the part of
# a feature the element does not explain); molecule targets are z-scored except with "none".
TARGET_NORMS = ("none", "standard", "element")


@dataclass
class DistillObjective:
    variant: str = setting("node", choices=VARIANTS, help="node: D&D-NODE (eq. 7); graph: D&D-GRAPH (eq. 6; xTB: "
                           "its molecule targets); node+graph: both losses, summed")
    teacher_pool: str = setting("all", choices=TEACHER_POOLS, help="GRAPH target: mean over all conformer atoms "
                                "(paper) or over heavy (graph) atoms")
    target_norm: str | None = setting(None, choices=TARGET_NORMS, help="scaling of teacher targets (default: none "
                                      "for a denoiser, element for ani2x/xtb)")

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise ValueError(f"unknown distillation variant {self.variant!r}; choose from {', '.join(VARIANTS)}")
        if self.teacher_pool not in TEACHER_POOLS:
            raise ValueError(f"unknown teacher pool {self.teacher_pool!r}; choose from {', '.join(TEACHER_POOLS)}")
        if self.target_norm is not None and self.target_norm not in TARGET_NORMS:
            raise ValueError(f"unknown target norm {self.target_norm!r}; choose from {', '.join(TARGET_NORMS)}")


READOUT_AGGREGATORS = ("min", "max", "mean", "sum")


@dataclass
class InfomaxObjective:
    tau: float = setting(0.01, help="NT-Xent temperature")
    symmetric: bool = setting(False, help="also contrast 3D->2D (3DInfomax: one direction)")
    include_positive: bool = setting(False, help="keep the positive pair in the NT-Xent denominator")
    metric_dim: int = setting(256, help="projection output width")
    readout_aggregators: list[str] = setting(factory=lambda: ["min", "max", "mean"],
                                             help=f"2D readout of the projection: some of {', '.join(READOUT_AGGREGATORS)}")
    head_layers_2d: int = setting(2, help="layers of the 2D projection head")
    head_layers_3d: int = setting(1, help="layers of the 3D projection head")
    head_hidden_2d: int | None = setting(None, help="hidden width of the 2D projection head (default: the student's)")

    def __post_init__(self) -> None:
        if self.tau <= 0:
            raise ValueError(f"temperature tau must be positive, got {self.tau}")
        bad = [a for a in self.readout_aggregators if a not in READOUT_AGGREGATORS]
        if bad or not self.readout_aggregators:
            raise ValueError(f"readout aggregators {self.readout_aggregators}: choose from {READOUT_AGGREGATORS}")
        if self.head_layers_2d < 1 or self.head_layers_3d < 1:
            raise ValueError("projection heads need at least one layer")
