"""D-MPNN student: chemprop's `BondMessagePassing` (Yang et al. 2019), the model chemprop users
already trust, as a D&D student.

The module inside is chemprop's own class with chemprop's own defaults (hidden 300, depth 3, no
bias, ReLU, dropout 0), fed chemprop's own V2 atom and bond features (`cp_x`, `cp_edge_attr`,
made by chemprop's featurizer when the records are built; see `dnd.data.featurize`). Its
per-atom output is indexed by RDKit atom order exactly like the OGB graph, so D&D-NODE matches it
against the teacher's heavy atoms through the same `atom_is_node` correspondence as the other
students, and `dnd export chemprop` can hand the trained module to `chemprop train
--from-foundation` unchanged (`dnd.models.chemprop_export`).

Only the batch format differs from chemprop's: we pass a PyG batch's tensors as the
`BatchMolGraph` fields the message passing reads (V, E, edge_index, rev_edge_index). chemprop and
OGB both list bond k as directed edges 2k and 2k+1, so the reverse of edge e is e xor 1; `forward`
checks that pairing rather than trusting it, because a graph transform that reorders edges would
otherwise silently pass messages back along the wrong bonds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor, nn

from dnd.models.encoder import EncoderOutput, GraphEncoder

ATOM_DIM, BOND_DIM = 72, 14  # chemprop V2 multi-hot atom features, default bond features


@dataclass
class DMPNNConfig:
    hidden_dim: int = 300
    depth: int = 3
    dropout: float = 0.0
    bias: bool = False
    activation: str = "relu"
    undirected: bool = False
    atom_dim: int = ATOM_DIM
    bond_dim: int = BOND_DIM


class _MolGraphView(NamedTuple):
    """The fields of chemprop's BatchMolGraph that `BondMessagePassing.forward` reads."""

    V: Tensor
    E: Tensor
    edge_index: Tensor
    rev_edge_index: Tensor


def reverse_edges(edge_index: Tensor) -> Tensor:
    """Index of each directed edge's reverse, for edges listed as (u->v, v->u) pairs."""
    n = edge_index.shape[1]
    if n % 2 or not (torch.equal(edge_index[0, 0::2], edge_index[1, 1::2])
                     and torch.equal(edge_index[1, 0::2], edge_index[0, 1::2])):
        raise ValueError("D-MPNN needs each bond as consecutive edges (u->v, v->u), as OGB and "
                         "chemprop featurize; this batch's edges were reordered")
    return torch.arange(n, device=edge_index.device) ^ 1


class DMPNN(GraphEncoder):
    name = "dmpnn"

    def __init__(self, config: DMPNNConfig):
        super().__init__()
        from chemprop.nn import BondMessagePassing  # chemprop's import pulls in Lightning

        self.config = config
        self.message_passing = BondMessagePassing(
            d_v=config.atom_dim, d_e=config.bond_dim, d_h=config.hidden_dim, bias=config.bias,
            depth=config.depth, dropout=config.dropout, activation=config.activation,
            undirected=config.undirected)

    def forward(self, batch) -> EncoderOutput:
        if getattr(batch, "cp_x", None) is None or getattr(batch, "cp_edge_attr", None) is None:
            raise ValueError("the D-MPNN needs chemprop features (cp_x, cp_edge_attr) on every "
                             "record; rebuild the records (and caches) with this version of dnd")
        graph = _MolGraphView(batch.cp_x.float(), batch.cp_edge_attr.float(), batch.edge_index,
                              reverse_edges(batch.edge_index))
        return EncoderOutput(node=self.message_passing(graph), graph_token=None)

    def layer_groups(self) -> list[list[nn.Parameter]]:
        # bottom to top: bond input map W_i, the shared message map W_h (applied depth-1 times),
        # the atom output map W_o
        mp = self.message_passing
        return [list(mp.W_i.parameters()), list(mp.W_h.parameters()), list(mp.W_o.parameters())]
