"""Readout, registry and checkpoint round trip for both 2D encoders."""

import pytest
import torch

from dnd.models.readout import Readout
from dnd.models.checkpoint import load_encoder
from dnd.models.registry import build_encoder, encoder_config_dict, encoder_preset
from dnd.models.checkpoint import CheckpointError
from encoder_graphs import ESOL_SMILES, batch_of, esol_graphs

NAMES = ["tokengt", "pna"]


@pytest.fixture
def molecules(shared_file):
    return esol_graphs(shared_file(ESOL_SMILES), 24)


@pytest.mark.parametrize("name", NAMES)
def test_readouts(molecules, name):
    enc = build_encoder(name, encoder_preset(name, "tiny"), records=molecules).eval()
    b = batch_of(molecules[:5])
    out = enc(b)
    mp = Readout("mp")(out, b)
    torch.testing.assert_close(mp[1], out.node[b.batch == 1].mean(0))
    assert torch.equal(Readout("vn")(out, b), out.graph_token)
    with pytest.raises(ValueError, match="readout"):
        Readout("sum")


def test_vn_readout_without_virtual_node_explains(molecules):
    enc = build_encoder("pna", {**encoder_preset("pna", "tiny"), "virtual_node": False}, records=molecules)
    b = batch_of(molecules[:3])
    with pytest.raises(ValueError, match="virtual node"):
        Readout("vn")(enc.eval()(b), b)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("preset", ["tiny", "paper"])
def test_layer_groups_cover_every_parameter_once(molecules, name, preset):
    enc = build_encoder(name, encoder_preset(name, preset), records=molecules)
    groups = enc.layer_groups()
    flat = [id(p) for group in groups for p in group] + [id(p) for p in enc.top_parameters()]
    assert len(flat) == len(set(flat))
    assert set(flat) == {id(p) for p in enc.parameters()}
    assert len(groups) == enc.config.num_layers + 1  # embeddings, then one group per layer


@pytest.mark.parametrize("name", NAMES)
def test_checkpoint_round_trip_gives_identical_outputs(tmp_path, molecules, name):
    torch.manual_seed(0)
    enc = build_encoder(name, encoder_preset(name, "tiny"), records=molecules)
    enc.train()
    with torch.no_grad():  # move BatchNorm statistics away from their initial values
        enc(batch_of(molecules[:12]))
    enc.eval()
    enc_name, config = encoder_config_dict(enc)
    ckpt = {"state_dict": {f"student.{k}": v for k, v in enc.state_dict().items()}
            | {"teacher.w": torch.zeros(2)},
            "hyper_parameters": {"encoder_name": enc_name, "encoder_config": config}}
    path = tmp_path / "student.ckpt"
    torch.save(ckpt, path)
    loaded = load_encoder(path)
    assert not loaded.training and type(loaded) is type(enc)
    b = batch_of(molecules[12:20])
    a, c = enc(b), loaded(b)
    assert torch.equal(a.node, c.node) and torch.equal(a.graph_token, c.graph_token)


def test_registry_errors_are_clear(tmp_path):
    with pytest.raises(ValueError, match="unknown encoder"):
        build_encoder("gin", {})
    with pytest.raises(ValueError, match="unknown keys"):
        build_encoder("tokengt", {"hidden": 3})
    with pytest.raises(ValueError, match="preset"):
        encoder_preset("tokengt", "huge")
    path = tmp_path / "other.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": {"lr": 1.0}}, path)
    with pytest.raises(CheckpointError, match="encoder_name"):
        load_encoder(path)
