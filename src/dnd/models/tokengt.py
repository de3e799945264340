"""TokenGT (Kim et al., "Pure Transformers are Powerful Graph Learners", NeurIPS 2022).

A plain pre-LayerNorm transformer over a token sequence per graph:
    [graph token, node tokens v_1..v_n, edge tokens e_1..e_m]   (edges in both directions)
Token features come from OGB's AtomEncoder/BondEncoder. Graph structure enters only through
node identifiers P (see `dnd.models.identifiers`): node v gets W [P_v, P_v], edge (u, v) gets
W [P_u, P_v], so attention can recover incidence from dot products of identifiers; a learned type
embedding marks node vs edge tokens. The graph token attends to everything and serves as the
virtual node for VN readout; the node tokens' final states are the per-node outputs.

Two execution paths share the weights:
- `forward`: `F.scaled_dot_product_attention` with a key padding mask, graphs grouped by token
  count and each group padded to its own longest graph (fast path, used for training).
- `forward_with_scores` / `attention_scores`: explicit softmax(QK^T/sqrt(d_h)) that also returns
  every layer's and head's pre-softmax scores between node tokens (attention-vs-distance analysis).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from ogb.graphproppred.mol_encoder import AtomEncoder, BondEncoder
from torch import Tensor, nn
from torch_geometric.data import Data

from dnd.models.encoder import EncoderOutput, GraphEncoder
from dnd.models.identifiers import (laplacian_eigenvectors, orthonormal_random_features,
                                    random_sign_flip)

IDENTIFIER_TYPES = ("orf", "lap")
# The record attribute `TokenGT.prepare` stores Laplacian eigenvectors in ([n_nodes, id_dim]).
CACHED_IDENTIFIERS = "lap_ids"
# Graphs whose token counts differ by at most this factor share one padded transformer pass.
GROUP_SPREAD = 1.5


@dataclass
class TokenGTConfig:
    hidden_dim: int = 128
    num_layers: int = 4
    num_heads: int = 8
    ffn_dim: int = 256
    dropout: float = 0.0            # on residual branches and inside the FFN
    attention_dropout: float = 0.1  # on attention weights
    id_type: str = "lap"            # "orf" | "lap"
    id_dim: int = 16                # ORF dimension d_p, or number k of Laplacian eigenvectors
    lap_sign_flip: bool = True      # random eigenvector signs in training (lap only)

    def __post_init__(self) -> None:
        if self.id_type not in IDENTIFIER_TYPES:
            raise ValueError(f"TokenGT id_type must be one of {IDENTIFIER_TYPES}, got {self.id_type!r}")
        if self.hidden_dim % self.num_heads:
            raise ValueError(f"TokenGT hidden_dim {self.hidden_dim} is not divisible by "
                             f"num_heads {self.num_heads}")
        for field in ("hidden_dim", "num_layers", "num_heads", "ffn_dim", "id_dim"):
            if getattr(self, field) < 1:
                raise ValueError(f"TokenGT {field} must be >= 1, got {getattr(self, field)}")


@dataclass
class TokenLayout:
    """Where every node / edge of a PyG batch sits in the padded [B, T] token tensor."""

    node_graph: Tensor   # [N] graph of each node
    node_pos: Tensor     # [N] token position of each node (graph token is position 0)
    edge_graph: Tensor   # [E]
    edge_pos: Tensor     # [E]
    valid: Tensor        # [B, T] True for real tokens
    num_nodes: Tensor    # [B]

    @classmethod
    def of(cls, batch) -> "TokenLayout":
        node_graph = batch.batch
        num_graphs = int(batch.num_graphs)
        device = node_graph.device
        if node_graph.numel() > 1 and bool((node_graph[1:] < node_graph[:-1]).any()):
            raise ValueError("TokenGT expects nodes grouped by graph (as PyG batching produces)")
        edge_graph = node_graph[batch.edge_index[0]]
        if edge_graph.numel() > 1 and bool((edge_graph[1:] < edge_graph[:-1]).any()):
            raise ValueError("TokenGT expects edges grouped by graph (as PyG batching produces)")
        n = torch.bincount(node_graph, minlength=num_graphs)
        m = torch.bincount(edge_graph, minlength=num_graphs)
        node_ptr = torch.cumsum(n, 0) - n
        edge_ptr = torch.cumsum(m, 0) - m
        node_pos = 1 + torch.arange(node_graph.numel(), device=device) - node_ptr[node_graph]
        edge_pos = (1 + n[edge_graph] + torch.arange(edge_graph.numel(), device=device)
                    - edge_ptr[edge_graph])
        length = 1 + n + m
        valid = torch.arange(int(length.max()), device=device)[None, :] < length[:, None]
        return cls(node_graph, node_pos, edge_graph, edge_pos, valid, n)


class TransformerBlock(nn.Module):
    """Pre-LN block: x + Attn(LN(x)), then x + FFN(LN(x))."""

    def __init__(self, cfg: TokenGTConfig):
        super().__init__()
        d = cfg.hidden_dim
        self.num_heads = cfg.num_heads
        self.attention_dropout = cfg.attention_dropout
        self.attn_norm = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.attn_out = nn.Linear(d, d)
        self.ffn_norm = nn.LayerNorm(d)
        self.ffn = nn.Sequential(nn.Linear(d, cfg.ffn_dim), nn.GELU(), nn.Dropout(cfg.dropout),
                                 nn.Linear(cfg.ffn_dim, d))
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: Tensor, valid: Tensor, scores: list[Tensor] | None = None) -> Tensor:
        """x [B, T, d]; valid [B, T] key padding mask; when `scores` is a list, the pre-softmax
        scores [B, H, T, T] are appended to it (explicit attention instead of the fused kernel)."""
        b, t, d = x.shape
        q, k, v = (self.qkv(self.attn_norm(x)).view(b, t, 3, self.num_heads, d // self.num_heads)
                   .permute(2, 0, 3, 1, 4))
        key_mask = valid[:, None, None, :]
        p_drop = self.attention_dropout if self.training else 0.0
        if scores is None:
            h = F.scaled_dot_product_attention(q, k, v, attn_mask=key_mask, dropout_p=p_drop)
        else:
            s = q @ k.transpose(-1, -2) / math.sqrt(q.size(-1))
            scores.append(s)
            w = s.masked_fill(~key_mask, float("-inf")).softmax(-1)
            h = F.dropout(w, p_drop, self.training) @ v
        x = x + self.dropout(self.attn_out(h.transpose(1, 2).reshape(b, t, d)))
        return x + self.dropout(self.ffn(self.ffn_norm(x)))


class TokenGT(GraphEncoder):
    name = "tokengt"

    def __init__(self, config: TokenGTConfig):
        super().__init__()
        self.config = config
        d = config.hidden_dim
        self.atom_encoder = AtomEncoder(d)
        self.bond_encoder = BondEncoder(d)
        self.id_proj = nn.Linear(2 * config.id_dim, d, bias=False)
        self.type_embedding = nn.Embedding(2, d)  # 0: node token, 1: edge token
        self.graph_token = nn.Parameter(torch.zeros(1, d))
        nn.init.normal_(self.graph_token, std=0.02)
        self.blocks = nn.ModuleList(TransformerBlock(config) for _ in range(config.num_layers))
        self.final_norm = nn.LayerNorm(d)

    def identifiers(self, batch) -> Tensor:
        """Node identifiers [N, id_dim] as this module uses them in its current mode."""
        cfg = self.config
        if cfg.id_type == "orf":
            return orthonormal_random_features(batch.batch, int(batch.num_graphs), cfg.id_dim,
                                               deterministic=not self.training)
        vecs = getattr(batch, CACHED_IDENTIFIERS, None)
        if vecs is None or vecs.shape != (batch.x.size(0), cfg.id_dim):
            vecs = laplacian_eigenvectors(batch.edge_index, batch.batch, int(batch.num_graphs), cfg.id_dim)
        if self.training and cfg.lap_sign_flip:
            vecs = random_sign_flip(vecs, batch.batch, int(batch.num_graphs))
        return vecs

    def prepare(self, records: Sequence[Data]) -> list[Data]:
        """Shallow copies of `records` holding their Laplacian eigenvectors (`lap_ids`), each
        graph diagonalised alone, once. Two reasons: the per-batch computation was 8% of a
        finetuning run, and it diagonalises same-size graphs in one batched call, where LAPACK's
        basis of a degenerate eigenspace can depend on the graph's position in the batch (3 of 40
        ESOL molecules here), so a molecule's prediction could depend on its batch companions.
        Finetuning, prediction and embedding run on prepared records; sign flips stay per step."""
        if self.config.id_type != "lap":
            return list(records)
        out = []
        for record in records:
            record = copy.copy(record)
            nodes = torch.zeros(record.num_nodes, dtype=torch.long)
            setattr(record, CACHED_IDENTIFIERS,
                    laplacian_eigenvectors(record.edge_index, nodes, 1, self.config.id_dim))
            out.append(record)
        return out

    def _tokens(self, batch, layout: TokenLayout, ids: Tensor) -> Tensor:
        ids = ids.to(self.id_proj.weight.dtype)
        src, dst = batch.edge_index
        node_feat = (self.atom_encoder(batch.x) + self.id_proj(torch.cat([ids, ids], dim=-1))
                     + self.type_embedding.weight[0])
        edge_feat = (self.bond_encoder(batch.edge_attr) + self.id_proj(torch.cat([ids[src], ids[dst]], dim=-1))
                     + self.type_embedding.weight[1])
        b, t = layout.valid.shape
        tokens = node_feat.new_zeros(b, t, self.config.hidden_dim)
        tokens[:, 0] = self.graph_token
        tokens[layout.node_graph, layout.node_pos] = node_feat
        tokens[layout.edge_graph, layout.edge_pos] = edge_feat
        return tokens

    def _run(self, batch, identifiers: Tensor | None, scores: list[Tensor] | None) -> tuple[EncoderOutput, TokenLayout]:
        layout = TokenLayout.of(batch)
        ids = self.identifiers(batch) if identifiers is None else identifiers
        if ids.shape != (batch.x.size(0), self.config.id_dim):
            raise ValueError(f"TokenGT identifiers must be [{batch.x.size(0)}, {self.config.id_dim}], "
                             f"got {list(ids.shape)}")
        x = self._tokens(batch, layout, ids)
        if scores is None:
            x = self._blocks_by_length(x, layout.valid)
        else:
            for block in self.blocks:
                x = block(x, layout.valid, scores)
        x = self.final_norm(x)
        return EncoderOutput(node=x[layout.node_graph, layout.node_pos], graph_token=x[:, 0]), layout

    def _blocks_by_length(self, x: Tensor, valid: Tensor) -> Tensor:
        """The transformer blocks run on groups of graphs of similar token count, each group
        padded only to its own longest graph. Graphs never attend to each other, so this equals
        one padded pass up to float rounding; it saves the compute (and memory) that padding
        every graph to the batch's largest wastes: one 300-atom molecule in a batch of 128
        drug-like ones (SIDER) made every graph pay for ~900 tokens."""
        lengths = valid.sum(1)
        order = torch.argsort(lengths).tolist()
        sorted_lengths = lengths[order].tolist()
        out = torch.zeros_like(x)
        start = 0
        while start < len(order):
            end = start + 1   # a group ends where a graph is longer than GROUP_SPREAD x its first
            while end < len(order) and sorted_lengths[end] <= GROUP_SPREAD * sorted_lengths[start]:
                end += 1
            idx = torch.tensor(order[start:end], device=x.device)
            t = int(sorted_lengths[end - 1])
            h, mask = x[idx, :t], valid[idx, :t]
            for block in self.blocks:
                h = block(h, mask)
            out[idx, :t] = h
            start = end
        return out

    def forward(self, batch, identifiers: Tensor | None = None) -> EncoderOutput:
        """Fast path. `identifiers` [N, id_dim] overrides the node identifiers (used to test
        exact permutation equivariance)."""
        return self._run(batch, identifiers, None)[0]

    def forward_with_scores(self, batch, identifiers: Tensor | None = None
                            ) -> tuple[EncoderOutput, list[Tensor]]:
        """Same outputs as `forward` plus, per graph, the pre-softmax attention scores between its
        node tokens as [layers, heads, n, n] (row = query node, column = key node)."""
        scores: list[Tensor] = []
        out, layout = self._run(batch, identifiers, scores)
        stacked = torch.stack(scores)  # [L, B, H, T, T]
        per_graph = []
        for g, n in enumerate(layout.num_nodes.tolist()):
            per_graph.append(stacked[:, g, :, 1:1 + n, 1:1 + n])
        return out, per_graph

    def attention_scores(self, batch, identifiers: Tensor | None = None) -> list[Tensor]:
        return self.forward_with_scores(batch, identifiers)[1]

    def layer_groups(self) -> list[list[nn.Parameter]]:
        embed = [*self.atom_encoder.parameters(), *self.bond_encoder.parameters(),
                 *self.id_proj.parameters(), *self.type_embedding.parameters(), self.graph_token]
        return [embed] + [list(block.parameters()) for block in self.blocks]

    def top_parameters(self) -> list[nn.Parameter]:
        return list(self.final_norm.parameters())   # normalises the head's input: BEiT's fc_norm

    def no_weight_decay(self) -> set[str]:
        return {"graph_token"}
