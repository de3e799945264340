"""Graph-level readout over an `EncoderOutput`: mean pooling of node states ("mp", the paper's
+MP), the encoder's virtual node / graph token ("vn", +VN), chemprop's default aggregation
("norm": the sum of node states divided by 100, which keeps the molecule-size signal that mean
pooling removes), or min, max, mean and sum pooling concatenated ("mmms", 3DInfomax's PNA
readout, used by its QM9 finetuning and so by the paper's Table 2). Separate from the encoders
so finetuning and graph-level distillation can pick the readout by name, independently of the
encoder."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.nn import global_add_pool, global_mean_pool
from torch_geometric.utils import scatter

from dnd.models.config import READOUTS
from dnd.models.encoder import EncoderOutput

NORM = 100.0  # chemprop.nn.NormAggregation's default norm


class Readout(nn.Module):
    def __init__(self, kind: str):
        super().__init__()
        if kind not in READOUTS:
            raise ValueError(f"readout must be one of {READOUTS}, got {kind!r}")
        self.kind = kind

    def out_dim(self, hidden_dim: int) -> int:
        """Width of the graph representation for an encoder of width `hidden_dim`."""
        return 4 * hidden_dim if self.kind == "mmms" else hidden_dim

    def forward(self, out: EncoderOutput, batch) -> Tensor:
        """[B, out_dim] graph representations."""
        size = int(batch.num_graphs)
        if self.kind == "mp":
            return global_mean_pool(out.node, batch.batch, size=size)
        if self.kind == "norm":
            return global_add_pool(out.node, batch.batch, size=size) / NORM
        if self.kind == "mmms":
            return torch.cat([scatter(out.node, batch.batch, 0, dim_size=size, reduce=r)
                              for r in ("min", "max", "mean", "sum")], dim=-1)
        if out.graph_token is None:
            raise ValueError("readout 'vn' needs an encoder with a virtual node / graph token "
                             "(PNA with virtual_node=True, or TokenGT); use readout 'mp' instead")
        return out.graph_token

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}"
