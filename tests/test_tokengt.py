"""TokenGT: identifiers, symmetry, padding and the attention-score path, on real molecules."""

import math

import pytest
import torch
from torch_geometric.data import Batch, Data

from dnd.models.identifiers import laplacian_eigenvectors, orthonormal_random_features
from dnd.models.tokengt import TokenGT, TokenGTConfig, TokenLayout
from encoder_graphs import ESOL_SMILES, batch_of, esol_graphs, relabel

TINY = dict(hidden_dim=32, num_layers=2, num_heads=4, ffn_dim=64, attention_dropout=0.0, id_dim=8)


def model(**overrides) -> TokenGT:
    torch.manual_seed(0)
    return TokenGT(TokenGTConfig(**{**TINY, **overrides})).eval()


@pytest.fixture
def molecules(shared_file):
    return esol_graphs(shared_file(ESOL_SMILES), 120)


def path_graph(n: int) -> Data:
    src = torch.arange(n - 1)
    edge_index = torch.stack([torch.cat([src, src + 1]), torch.cat([src + 1, src])])
    return Data(x=torch.zeros(n, 9, dtype=torch.long), edge_index=edge_index,
                edge_attr=torch.zeros(edge_index.size(1), 3, dtype=torch.long), num_nodes=n)


def cycle_graph(n: int) -> Data:
    g = path_graph(n)
    closing = torch.tensor([[n - 1, 0], [0, n - 1]])
    g.edge_index = torch.cat([g.edge_index, closing], dim=1)
    g.edge_attr = torch.zeros(g.edge_index.size(1), 3, dtype=torch.long)
    return g


def lap_of(graphs, k):
    b = batch_of(graphs)
    return laplacian_eigenvectors(b.edge_index, b.batch, b.num_graphs, k), b


def test_orf_rows_orthonormal_and_eval_draw_fixed_per_size():
    sizes = [3, 16, 9, 3, 20]
    node_batch = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes))
    for deterministic in (False, True):
        ids = orthonormal_random_features(node_batch, len(sizes), 16, deterministic)
        for g, n in enumerate(sizes):
            p = ids[node_batch == g]
            if n <= 16:
                torch.testing.assert_close(p @ p.T, torch.eye(n), atol=1e-5, rtol=0)
            else:  # more nodes than dimensions: unit rows, only approximately orthogonal
                torch.testing.assert_close(p.norm(dim=1), torch.ones(n), atol=1e-5, rtol=0)
    fixed = orthonormal_random_features(node_batch, len(sizes), 16, deterministic=True)
    alone = orthonormal_random_features(torch.zeros(9, dtype=torch.long), 1, 16, deterministic=True)
    torch.testing.assert_close(fixed[node_batch == 2], alone)          # independent of the batch
    torch.testing.assert_close(fixed[node_batch == 0], fixed[node_batch == 3])
    fresh = orthonormal_random_features(node_batch, len(sizes), 16, deterministic=False)
    assert not torch.allclose(fresh[node_batch == 0], fresh[node_batch == 3])  # redrawn per graph


def test_laplacian_eigenvectors_of_path_match_hand_computation():
    # P4 has degrees (1,2,2,1); L = I - D^-1/2 A D^-1/2 has eigenvalues 1 - cos(pi k / 3) and
    # eigenvectors D^1/2 cos(pi k j / 3), j = 0..3.
    r = math.sqrt(2) / 2
    expected = torch.tensor([[1, math.sqrt(2), math.sqrt(2), 1],
                             [1, r, -r, -1],
                             [1, -r, -r, 1],
                             [1, -math.sqrt(2), math.sqrt(2), -1]]).T
    expected = expected / expected.norm(dim=0)
    vecs, b = lap_of([path_graph(3), path_graph(4), cycle_graph(5)], k=6)  # P4 among other graphs
    p4 = vecs[b.batch == 1]
    assert p4.shape == (4, 6)
    torch.testing.assert_close(p4[:, :4].abs(), expected.abs(), atol=1e-5, rtol=0)
    signs = torch.sign((p4[:, :4] * expected).sum(0))
    torch.testing.assert_close(p4[:, :4] * signs, expected, atol=1e-5, rtol=0)
    assert torch.all(p4[:, 4:] == 0)  # k > n: zero padding


def test_laplacian_eigenvectors_of_4_cycle():
    # C4: L = I - A/2, eigenvalues 0, 1, 1, 2. Unique vectors (1,1,1,1)/2 and (1,-1,1,-1)/2;
    # the eigenvalue-1 eigenspace is only defined as a subspace, so compare its projector.
    vecs, _ = lap_of([cycle_graph(4)], k=4)
    u0 = torch.full((4,), 0.5)
    u3 = torch.tensor([0.5, -0.5, 0.5, -0.5])
    torch.testing.assert_close(vecs[:, 0].abs(), u0, atol=1e-5, rtol=0)
    torch.testing.assert_close((vecs[:, 3] @ u3).abs(), torch.tensor(1.0), atol=1e-5, rtol=0)
    middle = vecs[:, 1:3] @ vecs[:, 1:3].T
    torch.testing.assert_close(middle, torch.eye(4) - torch.outer(u0, u0) - torch.outer(u3, u3),
                               atol=1e-5, rtol=0)


def test_sign_flips_only_in_training(molecules):
    b = batch_of(molecules[:6])
    enc = model(id_type="lap")
    fixed = enc.identifiers(b)
    torch.testing.assert_close(enc.identifiers(b), fixed)
    enc.train()
    torch.manual_seed(1)
    flipped = enc.identifiers(b)
    torch.testing.assert_close(flipped.abs(), fixed.abs())
    assert not torch.allclose(flipped, fixed)
    for g in range(6):  # one sign per (graph, eigenvector)
        f, fl = fixed[b.batch == g], flipped[b.batch == g]
        signs = torch.sign((f * fl).sum(0)).where(f.abs().sum(0) > 0, torch.ones(()))
        torch.testing.assert_close(fl, f * signs)


def test_prepared_identifiers_are_each_molecule_alone_and_are_used(molecules):
    """`prepare` computes each molecule's Laplacian eigenvectors once, on the molecule alone: a
    batch of prepared records gives bit for bit the identifiers and outputs each molecule has in
    a batch of its own, whatever shares its batch; the cached ones are what `identifiers` reads;
    the caller's records stay as they were."""
    enc = model(id_type="lap")
    records = molecules[:40]
    prepared = enc.prepare(records)
    assert all("lap_ids" not in r for r in records) and all("lap_ids" in r for r in prepared)
    cached, plain = Batch.from_data_list(prepared), Batch.from_data_list(records)
    assert cached.lap_ids.shape == (cached.num_nodes, TINY["id_dim"])
    together = enc(cached)
    for i, record in enumerate(records):
        alone = batch_of([record])
        assert torch.equal(enc.identifiers(cached)[cached.batch == i], enc.identifiers(alone))
        torch.testing.assert_close(together.node[cached.batch == i], enc(alone).node, atol=1e-5, rtol=1e-4)
    cached.lap_ids = -cached.lap_ids  # read, not recomputed
    assert torch.equal(enc.identifiers(cached), cached.lap_ids)
    wider = model(id_type="lap", id_dim=12)  # prepared for another width: recomputed
    assert torch.equal(wider.identifiers(cached), wider.identifiers(plain))
    assert all("lap_ids" not in r for r in model(id_type="orf").prepare(records))


def well_posed_molecule(graphs, k):
    """A molecule with > k nodes whose first k+1 Laplacian eigenvalues are distinct and whose
    eigenvectors have a non-tied canonical sign: its Laplacian identifiers are then a function of
    the graph alone, so exact equivariance is a fair demand."""
    for g in graphs:
        n = g.num_nodes
        if n <= k + 1:
            continue
        a = torch.zeros(n, n, dtype=torch.float64)
        a[g.edge_index[0], g.edge_index[1]] = 1
        dinv = a.sum(1).rsqrt()
        evals = torch.linalg.eigvalsh(torch.eye(n, dtype=torch.float64) - dinv[:, None] * a * dinv[None])
        vecs, _ = lap_of([g], k)
        sign_gap = (vecs.amax(0) - (-vecs).amax(0)).abs()
        if evals[: k + 1].diff().min() > 1e-3 and sign_gap.min() > 1e-3:
            return g
    pytest.fail("no molecule with a well-posed Laplacian spectrum among the test molecules")


@pytest.mark.parametrize("explicit_ids", [False, True], ids=["lap-computed", "orf-passed"])
def test_permutation_equivariance(molecules, explicit_ids):
    g = well_posed_molecule(molecules, TINY["id_dim"])
    gen = torch.Generator().manual_seed(0)
    perm = torch.randperm(g.num_nodes, generator=gen)
    edge_perm = torch.randperm(g.edge_index.size(1), generator=gen)
    h = relabel(g, perm, edge_perm)
    if explicit_ids:  # ORF: equivariant only in distribution, so hand the relabelled draw over
        enc = model(id_type="orf")
        ids = enc.identifiers(batch_of([g]))
        out, out_h = enc(batch_of([g]), identifiers=ids), enc(batch_of([h]), identifiers=ids[perm])
        # without relabelled identifiers the outputs are not equivariant: the check has teeth
        assert not torch.allclose(enc(batch_of([h])).node, out.node[perm], atol=1e-3)
    else:
        enc = model(id_type="lap")
        out, out_h = enc(batch_of([g])), enc(batch_of([h]))
    torch.testing.assert_close(out_h.node, out.node[perm], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(out_h.graph_token, out.graph_token, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("id_type", ["lap", "orf"])
def test_outputs_do_not_depend_on_batch_companions(molecules, id_type):
    enc = model(id_type=id_type)
    target = molecules[3]
    alone = enc(batch_of([target]))
    crowd = [molecules[0], molecules[7], target, molecules[1], molecules[11]]  # bigger and smaller
    assert len({m.num_nodes for m in crowd}) > 2
    together = enc(batch_of(crowd))
    rows = torch.repeat_interleave(torch.arange(5), torch.tensor([m.num_nodes for m in crowd])) == 2
    torch.testing.assert_close(together.node[rows], alone.node, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(together.graph_token[2:3], alone.graph_token, atol=1e-5, rtol=1e-4)


def test_attention_scores_shape_and_agreement_with_fast_path(molecules):
    enc = model(num_layers=3, num_heads=4)
    graphs = molecules[:4]
    b = batch_of(graphs)
    out, scores = enc.forward_with_scores(b)
    fast = enc(b)
    torch.testing.assert_close(out.node, fast.node, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(out.graph_token, fast.graph_token, atol=1e-5, rtol=1e-4)
    assert [s.shape for s in scores] == [(3, 4, g.num_nodes, g.num_nodes) for g in graphs]
    # layer-0 scores are q.k / sqrt(d_head) of the node tokens, recomputed by hand
    g = graphs[1]
    single = batch_of([g])
    layout = TokenLayout.of(single)
    tokens = enc._tokens(single, layout, enc.identifiers(single))[0, 1:1 + g.num_nodes]
    block = enc.blocks[0]
    q, k, _ = block.qkv(block.attn_norm(tokens)).view(g.num_nodes, 3, 4, 8).unbind(1)
    by_hand = torch.einsum("ihd,jhd->hij", q, k) / math.sqrt(8)
    torch.testing.assert_close(scores[1][0], by_hand, atol=1e-5, rtol=1e-4)
    # a graph's scores do not depend on its batch companions
    torch.testing.assert_close(enc.attention_scores(single)[0], scores[1], atol=1e-5, rtol=1e-4)


def test_length_groups_equal_one_padded_pass(molecules, monkeypatch):
    """The fast path runs graphs in groups of similar token count; with dropout off, outputs and
    gradients must equal one pass over the whole batch padded to its longest graph."""
    import dnd.models.tokengt as tokengt
    tokens = {i: 1 + m.num_nodes + m.num_edges for i, m in enumerate(molecules)}
    small, large = min(tokens, key=tokens.get), max(tokens, key=tokens.get)
    middle = sorted(tokens, key=tokens.get)[len(tokens) // 2]
    crowd = [molecules[i] for i in (large, small, middle, small + 1, large - 1)]
    assert tokens[large] > tokengt.GROUP_SPREAD ** 2 * tokens[small]  # at least three groups
    b = batch_of(crowd)
    enc = model(id_type="lap", lap_sign_flip=False).train()
    results = []
    for spread in (tokengt.GROUP_SPREAD, math.inf):
        monkeypatch.setattr(tokengt, "GROUP_SPREAD", spread)
        enc.zero_grad()
        out = enc(b)
        (out.node.square().mean() + out.graph_token.square().mean()).backward()
        results.append((out.node, out.graph_token, [p.grad.clone() for p in enc.parameters()]))
    (node, token, grads), (node1, token1, grads1) = results
    torch.testing.assert_close(node, node1, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(token, token1, atol=1e-5, rtol=1e-4)
    for g, g1 in zip(grads, grads1):
        torch.testing.assert_close(g, g1, atol=1e-5, rtol=1e-4)


def test_training_mode_is_stochastic_and_every_parameter_learns(molecules):
    enc = model(dropout=0.1, attention_dropout=0.1)
    enc.train()
    b = batch_of(molecules[:8])
    out = enc(b)
    (out.node.square().mean() + out.graph_token.square().mean()).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in enc.parameters())
    assert not torch.allclose(enc(b).node, out.node)
    enc.eval()
    torch.testing.assert_close(enc(b).node, enc(b).node, atol=0, rtol=0)


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="id_type"):
        TokenGTConfig(id_type="rwpe")
    with pytest.raises(ValueError, match="divisible"):
        TokenGTConfig(hidden_dim=30, num_heads=4)
