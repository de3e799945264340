"""PNA student (Corso et al. 2020) built from PyG's `PNAConv`, sized like 3DInfomax's QM9 model.

Sizes follow HannesStark/3DInfomax `configs_clean/pre-train_QM9.yml` and `tune_QM9_homo.yml`
(model_type PNA): hidden 200, propagation depth 7, aggregators mean/max/min/std, scalers
identity/amplification/attenuation, 2 pre-transformation layers, 1 post-transformation layer,
residual connections, batch norm, dropout 0. Each layer here is
    h <- h + ReLU(BatchNorm(PNAConv(h + vn[batch], edge features)))
with bond features embedded once by OGB's BondEncoder (as 3DInfomax does) and projected inside
every PNAConv. The degree scalers need the training set's in-degree histogram
(`degree_histogram`); it is stored in the config (`deg`) so a checkpoint rebuilds the model alone.

Virtual node: an OGB-style global state per graph (Gilmer et al. 2017; OGB's GNN_node_Virtualnode),
not an extra node in `edge_index`. It is added to every node before each layer and updated after
each layer from the sum of the node states, so it never enters the message passing and leaves the
degree statistics the scalers depend on untouched. Its final state is the `graph_token` used by the
VN readout.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import torch
from ogb.graphproppred.mol_encoder import AtomEncoder, BondEncoder
from torch import Tensor, nn
from torch_geometric.data import Data
from torch_geometric.nn import PNAConv, global_add_pool
from torch_geometric.utils import degree

from dnd.models.encoder import EncoderOutput, GraphEncoder

PNA_AGGREGATORS = ("mean", "max", "min", "std", "var", "sum")
PNA_SCALERS = ("identity", "amplification", "attenuation", "linear", "inverse_linear")


def degree_histogram(records: Iterable[Data]) -> list[int]:
    """Counts of node in-degrees over `records` (index = degree), the statistic PNA's scalers
    normalise by. Compute it on the training split only."""
    hist = torch.zeros(1, dtype=torch.long)
    for rec in records:
        deg = degree(rec.edge_index[1], num_nodes=rec.num_nodes, dtype=torch.long)
        counts = torch.bincount(deg, minlength=1)
        if counts.numel() > hist.numel():
            hist = torch.cat([hist, hist.new_zeros(counts.numel() - hist.numel())])
        hist[: counts.numel()] += counts
    if int(hist.sum()) == 0:
        raise ValueError("degree_histogram: the records contain no nodes")
    return hist.tolist()


@dataclass
class PNAConfig:
    hidden_dim: int = 200
    num_layers: int = 7
    aggregators: list[str] = field(default_factory=lambda: ["mean", "max", "min", "std"])
    scalers: list[str] = field(default_factory=lambda: ["identity", "amplification", "attenuation"])
    pre_layers: int = 2
    post_layers: int = 1
    dropout: float = 0.0
    batch_norm_momentum: float = 0.1
    virtual_node: bool = True
    deg: list[int] | None = None  # in-degree histogram of the training set (degree_histogram)

    def __post_init__(self) -> None:
        bad = [a for a in self.aggregators if a not in PNA_AGGREGATORS]
        bad += [s for s in self.scalers if s not in PNA_SCALERS]
        if bad:
            raise ValueError(f"PNA: unknown aggregators/scalers {bad}; choose from "
                             f"{PNA_AGGREGATORS} and {PNA_SCALERS}")
        if self.deg is None:
            raise ValueError("PNA needs the training set's degree histogram: set config['deg'] = "
                             "dnd.models.pna.degree_histogram(train_records) or pass records to "
                             "dnd.models.registry.build_encoder")
        if self.hidden_dim < 1 or self.num_layers < 1:
            raise ValueError("PNA hidden_dim and num_layers must be >= 1")


class _VirtualNodeUpdate(nn.Module):
    """vn <- vn + MLP(sum of node states + vn). LayerNorm rather than OGB's BatchNorm: the VN
    sees one row per graph, and BatchNorm cannot train on a final batch holding a single graph."""

    def __init__(self, d: int, dropout: float):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(d, d), nn.LayerNorm(d), nn.ReLU(),
                                 nn.Linear(d, d), nn.LayerNorm(d), nn.ReLU(), nn.Dropout(dropout))

    def forward(self, vn: Tensor, h: Tensor, node_batch: Tensor) -> Tensor:
        return vn + self.mlp(global_add_pool(h, node_batch, size=vn.size(0)) + vn)


class _PNALayer(nn.Module):
    def __init__(self, cfg: PNAConfig, deg: Tensor):
        super().__init__()
        d = cfg.hidden_dim
        self.conv = PNAConv(d, d, aggregators=list(cfg.aggregators), scalers=list(cfg.scalers),
                            deg=deg, edge_dim=d, towers=1, pre_layers=cfg.pre_layers,
                            post_layers=cfg.post_layers, divide_input=False)
        self.norm = nn.BatchNorm1d(d, momentum=cfg.batch_norm_momentum)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, h: Tensor, edge_index: Tensor, edge_feat: Tensor) -> Tensor:
        return h + self.dropout(torch.relu(self.norm(self.conv(h, edge_index, edge_feat))))


class PNA(GraphEncoder):
    name = "pna"

    def __init__(self, config: PNAConfig):
        super().__init__()
        self.config = config
        d = config.hidden_dim
        deg = torch.tensor(config.deg, dtype=torch.long)
        self.atom_encoder = AtomEncoder(d)
        self.bond_encoder = BondEncoder(d)
        self.layers = nn.ModuleList(_PNALayer(config, deg) for _ in range(config.num_layers))
        if config.virtual_node:
            self.vn_init = nn.Parameter(torch.zeros(1, d))
            self.vn_updates = nn.ModuleList(
                _VirtualNodeUpdate(d, config.dropout)
                for _ in range(config.num_layers))

    def forward(self, batch) -> EncoderOutput:
        node_batch = batch.batch
        h = self.atom_encoder(batch.x)
        edge_feat = self.bond_encoder(batch.edge_attr)
        vn = self.vn_init.expand(int(batch.num_graphs), -1) if self.config.virtual_node else None
        for i, layer in enumerate(self.layers):
            if vn is not None:
                h = h + vn[node_batch]
            h = layer(h, batch.edge_index, edge_feat)
            if vn is not None:
                vn = self.vn_updates[i](vn, h, node_batch)
        return EncoderOutput(node=h, graph_token=vn)

    def no_weight_decay(self) -> set[str]:
        return {"vn_init"}

    def layer_groups(self) -> list[list[nn.Parameter]]:
        embed = [*self.atom_encoder.parameters(), *self.bond_encoder.parameters()]
        if self.config.virtual_node:
            embed.append(self.vn_init)
        groups = [embed]
        for i, layer in enumerate(self.layers):
            group = list(layer.parameters())
            if self.config.virtual_node:
                group += list(self.vn_updates[i].parameters())
            groups.append(group)
        return groups
