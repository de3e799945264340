"""PNA student: degree histogram, symmetry, batch independence, virtual node, on real molecules."""

import pytest
import torch
from torch_geometric.data import Data

from dnd.models.pna import PNA, PNAConfig, degree_histogram
from dnd.models.registry import encoder_preset
from encoder_graphs import ESOL_SMILES, batch_of, esol_graphs, relabel


@pytest.fixture
def molecules(shared_file):
    return esol_graphs(shared_file(ESOL_SMILES), 60)


def model(molecules, **overrides) -> PNA:
    torch.manual_seed(0)
    cfg = dict(hidden_dim=32, num_layers=3, pre_layers=2, deg=degree_histogram(molecules))
    enc = PNA(PNAConfig(**{**cfg, **overrides}))
    enc.train()  # a few training passes give the BatchNorms non-trivial running statistics
    with torch.no_grad():
        for start in range(0, 40, 10):
            enc(batch_of(molecules[start:start + 10]))
    return enc.eval()


def test_degree_histogram_of_known_graphs():
    path = Data(edge_index=torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]]), num_nodes=3)
    triangle_and_isolated = Data(edge_index=torch.tensor([[0, 1, 1, 2, 2, 0], [1, 0, 2, 1, 0, 2]]),
                                 num_nodes=4)
    assert degree_histogram([path, triangle_and_isolated]) == [1, 2, 4]


def test_paper_preset_follows_3dinfomax_qm9():
    cfg = PNAConfig(**{**encoder_preset("pna", "paper"), "deg": [0, 1]})
    assert (cfg.hidden_dim, cfg.num_layers, cfg.pre_layers, cfg.post_layers) == (200, 7, 2, 1)
    assert cfg.aggregators == ["mean", "max", "min", "std"]
    assert cfg.scalers == ["identity", "amplification", "attenuation"]


def test_permutation_equivariance_and_invariance(molecules):
    enc = model(molecules)
    g = max(molecules[:30], key=lambda m: m.num_nodes)
    gen = torch.Generator().manual_seed(0)
    perm = torch.randperm(g.num_nodes, generator=gen)
    h = relabel(g, perm, torch.randperm(g.edge_index.size(1), generator=gen))
    out, out_h = enc(batch_of([g])), enc(batch_of([h]))
    torch.testing.assert_close(out_h.node, out.node[perm], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(out_h.graph_token, out.graph_token, atol=1e-4, rtol=1e-4)
    assert not torch.allclose(out_h.node, out.node, atol=1e-3)  # the relabelling did move nodes


def test_outputs_do_not_depend_on_batch_companions(molecules):
    enc = model(molecules)
    crowd = [molecules[5], molecules[0], molecules[9], molecules[2]]
    together = enc(batch_of(crowd))
    alone = enc(batch_of([molecules[9]]))
    rows = torch.repeat_interleave(torch.arange(4), torch.tensor([m.num_nodes for m in crowd])) == 2
    torch.testing.assert_close(together.node[rows], alone.node, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(together.graph_token[2:3], alone.graph_token, atol=1e-5, rtol=1e-4)


def test_virtual_node_sees_the_graph_and_can_be_switched_off(molecules):
    enc = model(molecules)
    b = batch_of(molecules[:4])
    assert enc(b).graph_token.shape == (4, 32)
    assert not torch.allclose(enc(b).graph_token[0], enc(b).graph_token[1])
    plain = model(molecules, virtual_node=False)
    assert plain(b).graph_token is None and plain(b).node.shape == (b.num_nodes, 32)


def test_every_parameter_learns(molecules):
    enc = model(molecules).train()
    out = enc(batch_of(molecules[:8]))
    (out.node.square().mean() + out.graph_token.square().mean()).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in enc.parameters())
    enc(batch_of([molecules[0]]))  # a last batch holding one graph still trains


def test_config_errors_are_clear():
    with pytest.raises(ValueError, match="degree histogram"):
        PNAConfig()
    with pytest.raises(ValueError, match="unknown aggregators"):
        PNAConfig(aggregators=["median"], deg=[0, 1])
