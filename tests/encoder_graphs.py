"""Real molecules (ESOL SMILES, OGB featurisation) and node relabellings for the encoder tests."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import torch
from torch_geometric.data import Batch, Data

from dnd.data.featurize import smiles_to_graph

ESOL_SMILES = "ogb/ogbg_molesol/mapping/mol.csv.gz"


def esol_graphs(path: Path, limit: int) -> list[Data]:
    with gzip.open(path, "rt") as handle:
        smiles = pd.read_csv(handle)["smiles"].str.strip().tolist()[:limit]
    return [smiles_to_graph(s) for s in smiles]


def relabel(graph: Data, perm: torch.Tensor, edge_perm: torch.Tensor | None = None) -> Data:
    """The same molecule with new node v' = position of old node in `perm`: new node i is old
    node perm[i]. Edges are renamed accordingly and optionally reordered by `edge_perm`."""
    inverse = torch.empty_like(perm)
    inverse[perm] = torch.arange(perm.numel())
    edge_index = inverse[graph.edge_index]
    edge_attr = graph.edge_attr
    if edge_perm is not None:
        edge_index, edge_attr = edge_index[:, edge_perm], edge_attr[edge_perm]
    return Data(x=graph.x[perm], edge_index=edge_index, edge_attr=edge_attr, num_nodes=graph.num_nodes)


def batch_of(graphs: list[Data]) -> Batch:
    return Batch.from_data_list([Data(x=g.x, edge_index=g.edge_index, edge_attr=g.edge_attr,
                                      num_nodes=g.num_nodes) for g in graphs])
