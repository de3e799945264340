"""Node identifiers for TokenGT (Kim et al. 2022, Sec. 2): one vector P_v per node such that the
Gram matrix P P^T is (close to) the identity, so attention can tell whether two tokens share a
node. Two kinds:

- orthonormal random features (ORF): rows of a random orthogonal matrix, redrawn every training
  step. A fresh draw per step makes the model equivariant in distribution only; for reproducible
  predictions, eval mode uses one fixed draw per graph size (seeded by the node count), so a
  molecule's identifiers never depend on what else shares its batch.
- Laplacian eigenvectors: the k eigenvectors of the symmetric normalised Laplacian with smallest
  eigenvalues. Their sign is arbitrary, so we first fix it canonically (largest positive entry
  beats largest negative entry) and, in training, flip each vector's sign at random so the model
  cannot rely on it. Computed with batched `torch.linalg.eigh` calls on dense Laplacians, one
  per group of equal-size graphs (molecules have < 100 heavy atoms: well under a millisecond per
  graph). Inside a degenerate eigenspace the basis LAPACK returns can depend on the matrix's
  position in the batched call, so `TokenGT.prepare` computes each graph alone, once, for
  finetuning, prediction and embeddings; distillation uses the batched path, where this acts
  like one more random augmentation.

Both return [N_nodes, dim] in batch node order; graphs with fewer than `dim` nodes are zero-padded
on the right (exactly what the reference implementation does), graphs with more nodes than `dim`
get approximately orthogonal rows (unit-norm rows of a column-orthonormal matrix).
"""

from __future__ import annotations

import torch
from torch import Tensor

# Offset of the per-size seeds of eval-mode ORF; any fixed value works, it only has to be stable.
_EVAL_ORF_SEED = 20220705


def graph_sizes(node_batch: Tensor, num_graphs: int) -> Tensor:
    return torch.bincount(node_batch, minlength=num_graphs)


def _draw_orthonormal(count: int, n: int, dim: int, generator: torch.Generator | None,
                      device: torch.device) -> Tensor:
    """[count, n, dim] with orthonormal rows when n <= dim, else unit rows of a QR factor."""
    if n <= dim:
        q, _ = torch.linalg.qr(torch.randn(count, dim, n, generator=generator, device=device))
        return q.transpose(1, 2)
    q, _ = torch.linalg.qr(torch.randn(count, n, dim, generator=generator, device=device))
    return torch.nn.functional.normalize(q, dim=-1)


def orthonormal_random_features(node_batch: Tensor, num_graphs: int, dim: int,
                                deterministic: bool) -> Tensor:
    """ORF identifiers [N, dim]. `deterministic`: one fixed draw per graph size (eval mode)."""
    sizes = graph_sizes(node_batch, num_graphs)
    ptr = torch.cumsum(sizes, 0) - sizes
    out = torch.zeros(node_batch.numel(), dim, device=node_batch.device)
    for n in torch.unique(sizes).tolist():
        if n == 0:
            continue
        graphs = torch.nonzero(sizes == n).flatten()
        if deterministic:
            gen = torch.Generator().manual_seed(_EVAL_ORF_SEED + n)
            feats = _draw_orthonormal(1, n, dim, gen, torch.device("cpu")).to(out.device)
            feats = feats.expand(graphs.numel(), n, dim)
        else:
            feats = _draw_orthonormal(graphs.numel(), n, dim, None, out.device)
        rows = (ptr[graphs][:, None] + torch.arange(n, device=out.device)).flatten()
        out[rows] = feats.reshape(-1, dim)
    return out


def _normalised_laplacian(adj: Tensor) -> Tensor:
    """I - D^-1/2 A D^-1/2 for a stack [c, n, n] of symmetric 0/1 adjacencies (isolated nodes
    get a 1 on the diagonal and nothing else)."""
    deg = adj.sum(-1)
    inv_sqrt = torch.where(deg > 0, deg.clamp(min=1e-12).rsqrt(), torch.zeros_like(deg))
    eye = torch.eye(adj.size(-1), dtype=adj.dtype, device=adj.device)
    return eye - inv_sqrt[:, :, None] * adj * inv_sqrt[:, None, :]


def laplacian_eigenvectors(edge_index: Tensor, node_batch: Tensor, num_graphs: int, k: int) -> Tensor:
    """First k eigenvectors (ascending eigenvalue) of L = I - D^-1/2 A D^-1/2 per graph, sign-
    canonicalised, as [N, k]. Edge direction and multiplicity are ignored (A is symmetrised).

    Graphs are diagonalised in groups of equal size, each on its own unpadded matrix: eigh's
    choice of basis inside a degenerate eigenspace (and of sign for sign-symmetric vectors)
    depends on the exact input, so padding to the batch's largest graph would make a molecule's
    identifiers depend on its batch companions. Within a group that choice can still depend on
    the graph's position (see the module docstring); called on one graph, the result is a
    function of that graph alone."""
    sizes = graph_sizes(node_batch, num_graphs)
    ptr = torch.cumsum(sizes, 0) - sizes
    edge_graph = node_batch[edge_index[0]]
    local = edge_index - ptr[edge_graph]   # node indices inside their own graph
    slot = torch.zeros_like(sizes)          # a graph's index inside its size group
    out = torch.zeros(node_batch.numel(), k, device=node_batch.device)
    for n in torch.unique(sizes).tolist():
        if n == 0:
            continue
        graphs = torch.nonzero(sizes == n).flatten()
        slot[graphs] = torch.arange(graphs.numel(), device=slot.device)
        # dense [c, n, n] adjacencies of this group only: one padded [B, n_max, n_max] stack
        # cost more than the eigendecompositions when a batch holds one large molecule
        on = sizes[edge_graph] == n
        adj = torch.zeros(graphs.numel(), n, n, dtype=torch.double, device=out.device)
        adj[slot[edge_graph[on]], local[0, on], local[1, on]] = 1.0
        adj = torch.maximum(adj, adj.transpose(1, 2))
        adj = adj * (1 - torch.eye(n, dtype=adj.dtype, device=adj.device))
        _, vecs = torch.linalg.eigh(_normalised_laplacian(adj))  # ascending
        vecs = vecs[:, :, :k]
        flip = (-vecs).amax(dim=1) > vecs.amax(dim=1)  # largest negative entry beats largest positive
        vecs = torch.where(flip[:, None, :], -vecs, vecs)
        rows = (ptr[graphs][:, None] + torch.arange(n, device=out.device)).flatten()
        out[rows, : vecs.size(-1)] = vecs.reshape(-1, vecs.size(-1)).float()
    return out


def random_sign_flip(vecs: Tensor, node_batch: Tensor, num_graphs: int) -> Tensor:
    """Flip every eigenvector of every graph with probability 1/2 (training augmentation)."""
    signs = torch.randint(0, 2, (num_graphs, vecs.size(1)), device=vecs.device) * 2 - 1
    return vecs * signs[node_batch].to(vecs.dtype)
