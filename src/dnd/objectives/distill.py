"""Distillation objectives of D&D (eq. 6 and 7 of the paper).

Both compare the 2D student's representations f2D(G) with the frozen 3D teacher's f3D(C):

* **D&D-GRAPH** (eq. 6): || meanpool(f2D(G)) - meanpool(f3D(C)) ||^2, one vector per molecule.
* **D&D-NODE** (eq. 7): || f2D(G)_v - f3D(C)_v ||^2 for every graph node v, pairing node v with the
  conformer atom the data layer marks as node v (`batch.atom_is_node`; hydrogens the teacher sees
  are not graph nodes and get no target).

The loss is the mean squared error averaged over rows (graph nodes for NODE, molecules for GRAPH)
*and* feature dimensions, i.e. `F.mse_loss`; the paper's squared norm differs only by the constant
factor d, which keeps the loss readable across teacher widths.

Which atoms the teacher's GRAPH pool covers is a choice (`teacher_pool`):
``"all"`` (default) averages over every conformer atom the teacher sees, as the paper pools the
teacher "over its atoms": the target summarises everything the 3D model saw. Which atoms those are
is the corpus's `hydrogens` setting, so the default matches the paper per corpus: on PCQM4Mv2
(`configs/paper-pcqm4mv2.yaml`, `hydrogens: none`, OGB's heavy-atom SDF) the teacher's atoms are
the heavy atoms, as the paper's; on QM9 (`configs/paper-qm9.yaml`, `configs/cpu-small.yaml`,
`hydrogens: dft`) they include the DFT hydrogens (the paper does not say; 3DInfomax's and Zaidi et
al.'s QM9 3D models see them). ``"heavy"`` averages over the graph's atoms only, the same set the
student pools over, which makes the target exactly reachable by a student that matches the
teacher atom by atom (NODE at zero loss implies GRAPH at zero loss only in this mode); with
`hydrogens: none` the two modes coincide.

When the student's width differs from the teacher's, a learned linear map on the student side
(`StudentProjection`) carries student features into the teacher's space. It is trained with the
student but is not part of it: it lives outside the "student." weights and is dropped before
finetuning. Because a linear map commutes with mean pooling, projecting nodes then pooling equals
pooling then projecting, so both variants share one code path.
"""

from __future__ import annotations

from typing import NamedTuple

import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.utils import scatter

from dnd.models.teacher import atom_batch
from dnd.objectives.config import DistillObjective

class TeacherTargets(NamedTuple):
    """What distillation needs from the teacher for one batch, from a live teacher or a cache.

    node:       [n_nodes_total, d] teacher features of the atoms that are graph nodes, row-aligned
                with the student's node outputs.
    pooled_all: [n_graphs, d] teacher features averaged over *all* conformer atoms of each molecule.
    mol:        [n_graphs, k] molecule-level targets of teachers that have them (xTB), else None:
                then the GRAPH target is `pooled_all` (the paper's), otherwise it is `mol`, read
                off the pooled student by its own linear head (`mol_head`).
    """

    node: Tensor
    pooled_all: Tensor
    mol: Tensor | None = None


def mean_pool(x: Tensor, index: Tensor, num_graphs: int) -> Tensor:
    """Per-graph mean of the rows of `x` ([n, d]) grouped by `index` ([n]) -> [num_graphs, d]."""
    return scatter(x, index, dim=0, dim_size=num_graphs, reduce="mean")


def teacher_targets(atom_feats: Tensor, batch) -> TeacherTargets:
    """Targets from the teacher's per-atom features of a live forward pass ([n_atoms_total, d])."""
    if atom_feats.size(0) != batch.atom_is_node.numel():
        raise ValueError(f"teacher returned {atom_feats.size(0)} atom rows for a batch of "
                         f"{batch.atom_is_node.numel()} conformer atoms")
    node = atom_feats[batch.atom_is_node]
    if node.size(0) != batch.num_nodes:
        raise ValueError(f"batch marks {node.size(0)} conformer atoms as graph nodes but has "
                         f"{batch.num_nodes} graph nodes (atom_is_node out of step with x)")
    return TeacherTargets(node=node, pooled_all=mean_pool(atom_feats, atom_batch(batch), batch.num_graphs))


class StudentProjection(nn.Module):
    """Linear map student width -> teacher width; the identity when the widths agree.

    Not part of the student: saved under its own prefix, dropped before finetuning.
    """

    def __init__(self, student_dim: int, teacher_dim: int):
        super().__init__()
        self.student_dim, self.teacher_dim = student_dim, teacher_dim
        self.linear = nn.Linear(student_dim, teacher_dim) if student_dim != teacher_dim else None

    def forward(self, x: Tensor) -> Tensor:
        return x if self.linear is None else self.linear(x)


def distill_pair(student_nodes: Tensor, targets: TeacherTargets, batch, variant: str,
                 teacher_pool: str = "all") -> tuple[Tensor, Tensor]:
    """(prediction, target) rows that the loss compares for `variant` "node" (per node) or
    "graph" (per molecule, the pooled teacher features).

    `student_nodes` are the student's node outputs already in the teacher's width.
    """
    if student_nodes.shape != targets.node.shape:
        raise ValueError(f"student node features {tuple(student_nodes.shape)} do not match teacher "
                         f"node features {tuple(targets.node.shape)}")
    if variant == "node":
        return student_nodes, targets.node
    pred = mean_pool(student_nodes, batch.batch, batch.num_graphs)
    if teacher_pool == "all":
        return pred, targets.pooled_all
    return pred, mean_pool(targets.node, batch.batch, batch.num_graphs)


def distill_losses(student_nodes: Tensor, targets: TeacherTargets, batch, cfg: DistillObjective,
                   projection: nn.Module, mol_head: nn.Module | None = None) -> dict[str, Tensor]:
    """{"loss", and "node" / "graph" for the parts}: mean squared errors over rows and feature
    dimensions (eq. 6 / 7 divided by d). NODE+GRAPH sums the two. The GRAPH part reads the
    teacher's molecule targets with `mol_head` on the pooled student where the teacher has them,
    the pooled teacher features (through `projection`) otherwise."""
    parts: dict[str, Tensor] = {}
    if cfg.variant in ("node", "node+graph"):
        pred, target = distill_pair(projection(student_nodes), targets, batch, "node")
        parts["node"] = F.mse_loss(pred, target.to(pred.dtype))
    if cfg.variant in ("graph", "node+graph"):
        if targets.mol is not None and mol_head is not None:
            pred = mol_head(mean_pool(student_nodes, batch.batch, batch.num_graphs))
            target = targets.mol
        else:
            pred, target = distill_pair(projection(student_nodes), targets, batch, "graph", cfg.teacher_pool)
        parts["graph"] = F.mse_loss(pred, target.to(pred.dtype))
    loss = sum(parts.values())
    return {"loss": loss, **parts} if len(parts) > 1 else {"loss": loss}


def distill_loss(student_nodes: Tensor, targets: TeacherTargets, batch, cfg: DistillObjective) -> Tensor:
    """The loss of `distill_losses` for student outputs already in the teacher's width."""
    return distill_losses(student_nodes, targets, batch, cfg, nn.Identity())["loss"]
