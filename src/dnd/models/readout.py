"""Graph-level readout over an `EncoderOutput`: mean pooling of node states ("mp"), the
encoder's virtual node / graph token ("vn"), or chemprop's default aggregation ("norm": the sum
of node states divided by 100, which keeps the molecule-size signal that mean pooling removes). Separate from the encoders so finetuning and graph-
level distillation can pick the readout by name, independently of the encoder."""

from __future__ import annotations

from torch import Tensor, nn
from torch_geometric.nn import global_add_pool, global_mean_pool

from dnd.models.config import READOUTS
from dnd.models.encoder import EncoderOutput

NORM = 100.0  # chemprop.nn.NormAggregation's default norm


class Readout(nn.Module):
    def __init__(self, kind: str):
        super().__init__()
        if kind not in READOUTS:
            raise ValueError(f"readout must be one of {READOUTS}, got {kind!r}")
        self.kind = kind

    def forward(self, out: EncoderOutput, batch) -> Tensor:
        """[B, d] graph representations."""
        if self.kind == "mp":
            return global_mean_pool(out.node, batch.batch, size=int(batch.num_graphs))
        if self.kind == "norm":
            return global_add_pool(out.node, batch.batch, size=int(batch.num_graphs)) / NORM
        if out.graph_token is None:
            raise ValueError("readout 'vn' needs an encoder with a virtual node / graph token "
                             "(PNA with virtual_node=True, or TokenGT); use readout 'mp' instead")
        return out.graph_token

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}"
