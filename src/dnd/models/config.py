"""Typed configs of the models that are not 2D encoders: the 3D teacher and the property head.

This module imports no torch, so the command line can offer presets and show defaults without
loading the deep-learning stack (`dnd --help` stays instant).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from enum import Enum

from dnd.config_check import setting
from dnd.data.config import TEACHER_MAX_Z
from dnd.errors import UnknownNameError


@dataclass
class TeacherConfig:
    """Hyper-parameters of `TorchMD_ET`; names follow torchmd-net's so they read the same."""

    hidden_channels: int = setting(256, help="teacher width")
    num_layers: int = setting(6, help="teacher layers")
    num_rbf: int = setting(50, help="radial basis functions")
    num_heads: int = setting(8, help="attention heads")
    cutoff_lower: float = setting(0.0, help="lower cutoff in Å")
    cutoff_upper: float = setting(5.0, help="upper cutoff in Å")
    max_z: int = setting(TEACHER_MAX_Z, help="atomic numbers below this are embedded")
    rbf_type: str = setting("expnorm", help="torchmd-net radial basis")
    # Zaidi et al.'s PCQM4Mv2 denoising config keeps the RBF centres fixed.
    trainable_rbf: bool = setting(False, help="train the RBF centres")
    activation: str = setting("silu", help="torchmd-net activation")
    attn_activation: str = setting("silu", help="torchmd-net attention activation")
    distance_influence: str = setting("both", help="torchmd-net: keys, values, both or none")
    neighbor_embedding: bool = setting(True, help="torchmd-net neighbour embedding")

    def __post_init__(self) -> None:
        if self.hidden_channels % self.num_heads:
            raise ValueError(f"hidden_channels ({self.hidden_channels}) must be divisible by "
                             f"num_heads ({self.num_heads})")
        if self.cutoff_upper <= self.cutoff_lower:
            raise ValueError(f"cutoff_upper ({self.cutoff_upper}) must exceed cutoff_lower ({self.cutoff_lower})")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TeacherConfig":
        # Checkpoints from before 2026-11-28 store torchmd-net's fixed pair budget, which the
        # teacher now sizes for each batch (Teacher.forward): it never changed a result.
        d = {k: v for k, v in d.items() if k != "max_num_neighbors"}
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown teacher config keys: {', '.join(unknown)}")
        return cls(**d)


# "paper": Table 5a of the D&D paper (8 layers, 8 heads, 768 dims, 64 RBF, cutoff 5 Å).
# "cpu-small": the paper's depth, heads and RBF count at a third of the width, which is exactly
#   the TorchMD-NET Zaidi et al. pretrained on PCQM4Mv2 (256 dims). Sized by measurement
#   (README, "3D teacher"): a training step on 32 QM9 molecules costs 1.0 s of single-core CPU
#   time, so 20k molecules x 5 epochs (~2,970 steps) take under an hour on 2 cores.
# "cpu-fast": half the depth and width of cpu-small (about 6x cheaper per step), for the whole
#   CPU experiment of configs/cpu-small.yaml, where the teacher is one of many stages.
# "tiny": tests and the quickstart.
TEACHER_PRESETS: dict[str, TeacherConfig] = {
    "paper": TeacherConfig(hidden_channels=768, num_layers=8, num_heads=8, num_rbf=64, cutoff_upper=5.0),
    "cpu-small": TeacherConfig(hidden_channels=256, num_layers=8, num_heads=8, num_rbf=64, cutoff_upper=5.0),
    "cpu-fast": TeacherConfig(hidden_channels=128, num_layers=4, num_heads=8, num_rbf=32, cutoff_upper=5.0),
    "tiny": TeacherConfig(hidden_channels=32, num_layers=2, num_heads=4, num_rbf=16, cutoff_upper=5.0),
}


def teacher_preset(name: str) -> TeacherConfig:
    """A fresh copy of teacher preset `name`."""
    try:
        return TeacherConfig(**asdict(TEACHER_PRESETS[name]))
    except KeyError:
        raise UnknownNameError(f"unknown teacher preset {name!r}; choose from {', '.join(TEACHER_PRESETS)}") from None


# graph readouts (`dnd.models.readout.Readout`): mean pooling, virtual node / graph token,
# chemprop's norm aggregation (sum / 100), and min/max/mean/sum concatenated (3DInfomax's PNA)
READOUTS = ("mp", "vn", "norm", "mmms")


@dataclass
class HeadConfig:
    """MLP on the readout of a property model: `num_layers` linear layers (GELU + dropout between)."""

    hidden_dim: int = setting(0, help="head hidden size (0: the readout's width; 4x the encoder's for mmms)")
    num_layers: int = setting(2, help="head layers")
    dropout: float = setting(0.0, help="head dropout")


class Method(Enum):
    """How an encoder was pretrained, in the three spellings that used to be converted by hand:
    the `dnd run` name (value), the label result tables print, and the distillation variant
    (`DistillObjective.variant`; None for the methods that do not distill)."""

    RANDINIT = "randinit"
    INFOMAX = "infomax"
    DND_GRAPH = "dnd-graph"
    DND_NODE = "dnd-node"
    DND_NODE_GRAPH = "dnd-node+graph"

    @property
    def variant(self) -> str | None:
        return self.value[len("dnd-"):] if self.value.startswith("dnd-") else None

    @property
    def label(self) -> str:
        return {"randinit": "RandInit", "infomax": "3DInfomax"}.get(self.value) or f"D&D-{self.variant.upper()}"

    @classmethod
    def of_variant(cls, variant: str) -> "Method":
        return cls(f"dnd-{variant}")
