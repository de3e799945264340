"""The min/max/mean/sum readout (3DInfomax's PNA readout, `configs/paper-qm9.yaml`): values by
hand, and a PNA finetuning run with it that reloads from its checkpoint."""

from pathlib import Path

import torch

from dnd.data.featurize import smiles_to_graph
from dnd.data.loader import make_loader
from dnd.models.encoder import EncoderOutput
from dnd.models.readout import Readout
from dnd.experiment.config import load_config
from dnd.models.property import load_property_model, predict_records
from finetune_fixtures import regression_task, train_tiny


def test_mmms_is_min_max_mean_sum_per_graph():
    batch = next(iter(make_loader([smiles_to_graph(s) for s in ("CCO", "c1ccccc1", "C")], 3)))
    node = torch.randn(batch.num_nodes, 5, generator=torch.Generator().manual_seed(0))
    out = Readout("mmms")(EncoderOutput(node=node, graph_token=None), batch)
    assert out.shape == (3, 20) and Readout("mmms").out_dim(5) == 20
    for g in range(3):
        h = node[batch.batch == g]
        expected = torch.cat([h.min(0).values, h.max(0).values, h.mean(0), h.sum(0)])
        torch.testing.assert_close(out[g], expected)


def test_pna_finetunes_with_mmms_and_reloads(tmp_path):
    task = regression_task()
    result = train_tiny(tmp_path, task, epochs=1, encoder="pna", readout="mmms")
    model = load_property_model(result["checkpoint"])
    assert model.readout.kind == "mmms" and model.head.mlp[0].in_features == 4 * model.encoder.hidden_dim
    pred = predict_records(model, task.test)
    assert pred.shape == (len(task.test), 1) and torch.isfinite(torch.from_numpy(pred)).all()


def test_paper_qm9_config_uses_3dinfomax_readout(monkeypatch, tmp_path):
    monkeypatch.setenv("DND_DATA", str(tmp_path))
    cfg = load_config(Path(__file__).resolve().parents[1] / "configs" / "paper-qm9.yaml")
    assert cfg.readouts == ["mmms"] and cfg.finetune["head"] == {"hidden_dim": 200, "num_layers": 2}
