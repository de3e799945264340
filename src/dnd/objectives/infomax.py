"""3DInfomax (Stärk et al., 2022): contrastive pretraining of a 2D encoder against a 3D network.

Each molecule's 2D view and 3D view are mapped by projection heads into a shared metric space and
compared with NT-Xent over the batch: the positive of a molecule's 2D embedding is the 3D embedding
of the same molecule, the negatives are the 3D embeddings of the other molecules in the batch.

We follow the reference implementation (HannesStark/3DInfomax, `commons/losses.py::NTXent`,
called as `loss(view2d, view3d)` by its self-supervised trainer) in three details:

* **One direction.** Rows are 2D anchors, columns 3D candidates; the loss is averaged over rows.
  `symmetric=True` adds the 3D->2D direction (SimCLR/CLIP style) and averages both.
* **Positive left out of the denominator.** 3DInfomax divides exp(sim_ii/tau) by the sum over the
  *other* columns only (not by the full row sum as SimCLR does), so the loss is not a cross entropy
  and is unbounded below: -2/tau + log(B-1) at best. With tau = 0.01 it goes negative once the
  positive pair clearly wins. `include_positive=True` gives SimCLR's cross-entropy form instead.
* **Cosine similarity** (vectors divided by their norms, +1e-8) and a temperature tau; the D&D paper
  uses tau = 0.01 (3DInfomax's QM9 config uses 0.1). We compute in log space: exp(1/0.01) overflows
  float32.

Projection heads follow 3DInfomax's QM9 pretraining config: each side reads out its node (atom)
features with min, max and mean pooling, concatenated, then an MLP maps them to a 256-d metric space
(two layers with batch norm on the 2D side, one linear layer on the 3D side). The heads are dropped
before finetuning, as 3DInfomax transfers only the GNN ("transfer_layers: gnn.").
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.utils import scatter

from dnd.objectives.config import InfomaxObjective

def cosine_similarity_matrix(a: Tensor, b: Tensor, eps: float = 1e-8) -> Tensor:
    """[n, m] cosine similarities between the rows of a [n, k] and b [m, k] (3DInfomax's form:
    dot products over the product of norms plus eps)."""
    return (a @ b.T) / (a.norm(dim=1)[:, None] * b.norm(dim=1)[None, :] + eps)


def _one_direction(logits: Tensor, include_positive: bool) -> Tensor:
    """-mean_i [logits_ii - logsumexp_j logits_ij] with j over negatives (or all columns)."""
    positive = logits.diagonal()
    if not include_positive:
        eye = torch.eye(logits.size(0), dtype=torch.bool, device=logits.device)
        logits = logits.masked_fill(eye, float("-inf"))
    return -(positive - torch.logsumexp(logits, dim=1)).mean()


def nt_xent(z2d: Tensor, z3d: Tensor, tau: float = 0.01, symmetric: bool = False,
            include_positive: bool = False) -> Tensor:
    """NT-Xent between paired embeddings z2d[i] <-> z3d[i] ([B, k] each); see the module docstring."""
    if z2d.shape != z3d.shape or z2d.dim() != 2:
        raise ValueError(f"NT-Xent needs two [B, k] tensors of equal shape, got {tuple(z2d.shape)} "
                         f"and {tuple(z3d.shape)}")
    if z2d.size(0) < 2:
        raise ValueError("NT-Xent needs at least 2 molecules in a batch (no negatives otherwise)")
    logits = cosine_similarity_matrix(z2d, z3d) / tau
    loss = _one_direction(logits, include_positive)
    if symmetric:
        loss = 0.5 * (loss + _one_direction(logits.T, include_positive))
    return loss


def multi_readout(x: Tensor, index: Tensor, num_graphs: int, aggregators: list[str]) -> Tensor:
    """Concatenation of per-graph poolings of x [n, d] -> [num_graphs, d * len(aggregators)]."""
    return torch.cat([scatter(x, index, dim=0, dim_size=num_graphs, reduce=a) for a in aggregators], dim=-1)


class ProjectionHead(nn.Module):
    """Pooled node features -> metric space: multi-aggregator readout, then an MLP whose hidden
    layers are Linear -> BatchNorm -> ReLU (3DInfomax's readout MLP with mid batch norm)."""

    def __init__(self, in_dim: int, out_dim: int, layers: int, aggregators: list[str],
                 hidden_dim: int | None = None):
        super().__init__()
        self.aggregators = list(aggregators)
        hidden = hidden_dim or in_dim
        dims = [in_dim * len(self.aggregators)] + [hidden] * (layers - 1) + [out_dim]
        mods: list[nn.Module] = []
        for i in range(layers):
            mods.append(nn.Linear(dims[i], dims[i + 1]))
            if i < layers - 1:
                mods += [nn.BatchNorm1d(dims[i + 1]), nn.ReLU()]
        self.mlp = nn.Sequential(*mods)

    def forward(self, x: Tensor, index: Tensor, num_graphs: int) -> Tensor:
        return self.mlp(multi_readout(x, index, num_graphs, self.aggregators))


def build_heads(cfg: InfomaxObjective, student_dim: int, teacher_dim: int) -> tuple[ProjectionHead, ProjectionHead]:
    """(2D head, 3D head) as configured."""
    head2d = ProjectionHead(student_dim, cfg.metric_dim, cfg.head_layers_2d, cfg.readout_aggregators,
                            cfg.head_hidden_2d)
    head3d = ProjectionHead(teacher_dim, cfg.metric_dim, cfg.head_layers_3d, cfg.readout_aggregators)
    return head2d, head3d


def infomax_loss(z2d: Tensor, z3d: Tensor, cfg: InfomaxObjective) -> Tensor:
    return nt_xent(z2d, z3d, cfg.tau, cfg.symmetric, cfg.include_positive)


@torch.no_grad()
def contrastive_accuracy(z2d: Tensor, z3d: Tensor) -> Tensor:
    """Share of molecules whose own 3D embedding is the most similar one to their 2D embedding."""
    best = cosine_similarity_matrix(z2d, z3d).argmax(dim=1)
    return (best == torch.arange(z2d.size(0), device=z2d.device)).float().mean()
