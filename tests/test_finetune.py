"""Finetuning: masked losses, layer-wise lr decay, subsampling, target standardisation, the
`dnd finetune` defaults, and short runs whose best checkpoint reloads and scores as reported."""

import argparse
import json

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from dnd.evaluation import evaluate
from dnd.models.registry import encoder_preset
from dnd.models.checkpoint import hparams, load_checkpoint
from dnd.cli.finetune import add_arguments, config_from_args
from dnd.models.config import HeadConfig
from dnd.training.config import OptimConfig
from dnd.evaluation.summary import summarize, write_summary
from dnd.models.property import load_property_model, predict_records
from dnd.training.finetune import FinetuneModule, masked_loss, run_seeds, subsample_train, training_spec
from dnd.training.optim import layer_decay_groups
from dnd.data.loader import make_loader
from finetune_fixtures import classification_task, regression_task, tiny_config, train_tiny

nan = float("nan")


class ThreeLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed, self.l1, self.l2 = nn.Embedding(5, 4), nn.Linear(4, 4), nn.Linear(4, 4)

    def layer_groups(self):
        return [list(self.embed.parameters()), list(self.l1.parameters()), list(self.l2.parameters())]

    def top_parameters(self):
        return []


def test_layer_decay_multipliers_head_full_each_layer_below_times_decay():
    enc, head = ThreeLayer(), nn.Linear(4, 1)
    by_name = {}
    for g in layer_decay_groups(enc, [head], lr=1e-3, decay=0.5):   # decayed and exempt halves
        name = g["name"].removesuffix("/no_decay")
        assert by_name.setdefault(name, {"lr": g["lr"], "params": []})["lr"] == g["lr"]
        by_name[name]["params"] += g["params"]
    assert list(by_name) == ["encoder.0", "encoder.1", "encoder.2", "head"]
    assert by_name["head"]["lr"] == pytest.approx(1e-3)
    assert by_name["encoder.2"]["lr"] == pytest.approx(1e-3 * 0.5)      # top layer
    assert by_name["encoder.1"]["lr"] == pytest.approx(1e-3 * 0.25)
    assert by_name["encoder.0"]["lr"] == pytest.approx(1e-3 * 0.125)    # embeddings last
    assert {id(p) for p in by_name["encoder.0"]["params"]} == {id(p) for p in enc.embed.parameters()}
    assert {id(p) for p in by_name["head"]["params"]} == {id(p) for p in head.parameters()}


def test_layer_decay_refuses_encoder_parameters_outside_groups():
    enc = ThreeLayer()
    enc.extra = nn.Linear(2, 2)
    with pytest.raises(ValueError, match="misses parameters"):
        layer_decay_groups(enc, [], lr=1e-3, decay=0.65)


def test_optimizer_of_finetune_module_uses_table5c_decay_on_real_tokengt():
    task = regression_task()
    spec = training_spec(task, True)
    cfg = encoder_preset("tokengt", "tiny")  # 2 layers -> 3 groups
    model = FinetuneModule("tokengt", cfg, "vn", HeadConfig(num_layers=2), spec,
                           OptimConfig(lr=5e-4, weight_decay=0.05))
    groups = layer_decay_groups(model.encoder, [model.readout, model.head], 5e-4, 0.65)
    lrs = list(dict.fromkeys(g["lr"] for g in groups))   # each rate twice: decayed and exempt
    assert lrs == pytest.approx([5e-4 * 0.65 ** 3, 5e-4 * 0.65 ** 2, 5e-4 * 0.65, 5e-4])
    bottom = {id(p) for g in groups if g["name"].startswith("encoder.0") for p in g["params"]}
    assert {id(p) for p in model.encoder.atom_encoder.parameters()} <= bottom
    n_params = sum(len(g["params"]) for g in groups)
    assert n_params == len(list(model.parameters()))  # every parameter trained, exactly once


def test_bce_ignores_missing_labels_including_gradient():
    out = torch.tensor([[0.3, -1.2], [2.0, 0.7], [-0.5, 1.1]], requires_grad=True)
    y = torch.tensor([[1.0, nan], [0.0, nan], [nan, nan]])  # task 1 entirely missing
    loss = masked_loss(out, y, "classification")
    labelled = torch.nn.functional.binary_cross_entropy_with_logits(out[:2, 0], y[:2, 0])
    assert loss.item() == pytest.approx(labelled.item())
    loss.backward()
    assert torch.all(out.grad[:, 1] == 0) and out.grad[2, 0] == 0 and torch.all(out.grad[:2, 0] != 0)
    # a batch without any label: zero loss, zero (finite) gradient
    out2 = torch.randn(2, 2, requires_grad=True)
    loss2 = masked_loss(out2, torch.full((2, 2), nan), "classification")
    loss2.backward()
    assert loss2.item() == 0 and torch.all(out2.grad == 0)


def test_l1_masked_mean_over_labelled_entries():
    out = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    y = torch.tensor([[0.0, nan], [5.0, 4.5]])
    assert masked_loss(out, y, "regression").item() == pytest.approx((1 + 2 + 0.5) / 3)


def test_standardisation_fitted_on_train_and_undone_in_outputs():
    task = regression_task("ogbg-fake-regression")
    spec = training_spec(task, True)
    ys = task.labels("train")[:, 0]
    assert spec.standardize and spec.mean[0] == pytest.approx(ys.mean()) and spec.std[0] == pytest.approx(ys.std())
    assert training_spec(task, False).standardize is False
    model = FinetuneModule("tokengt", encoder_preset("tokengt", "tiny"), "mp",
                           HeadConfig(num_layers=1), spec, OptimConfig(lr=1e-3))
    z = torch.tensor([[0.0], [1.0], [-2.0]])
    assert model.to_units(z)[:, 0].tolist() == pytest.approx([spec.mean[0], spec.mean[0] + spec.std[0],
                                                               spec.mean[0] - 2 * spec.std[0]])
    # the loss sees z-scores: a model outputting the exact z-score has zero loss
    batch = next(iter(make_loader(task.train[:4], 4)))
    z_true = (batch.y - spec.mean[0]) / spec.std[0]
    assert masked_loss(z_true, model.spec.standardize_y(batch.y), "regression").item() == pytest.approx(0, abs=1e-6)


def test_train_fraction_subsamples_reproducibly():
    recs = list(range(50))
    a, b, c = subsample_train(recs, 0.1, 0), subsample_train(recs, 0.1, 0), subsample_train(recs, 0.1, 1)
    assert a == b and a != c and len(a) == 5 and a == sorted(a)
    assert subsample_train(recs, 1.0, 3) == recs
    capped = subsample_train(recs, 1.0, 0, max_count=7)
    assert len(capped) == 7 and capped == subsample_train(recs, 1.0, 0, max_count=7)
    # fractions are shares of the capped split, so label-efficiency curves stay below the cap
    assert len(subsample_train(recs, 0.5, 0, max_count=10)) == 5
    with pytest.raises(ValueError):
        subsample_train(recs, 0.0, 0)


def test_cli_defaults_are_table5c():
    p = argparse.ArgumentParser()
    add_arguments(p)
    cfg = config_from_args(p.parse_args(["--task", "ogbg-molesol", "--out", "x"]), "mp")
    assert (cfg.lr, cfg.weight_decay, cfg.layer_decay, cfg.warmup_epochs, cfg.batch_size,
            cfg.trainer.max_epochs) == (5e-4, 0.05, 0.65, 5.0, 128, 100)
    assert cfg.init is None and cfg.standardize_targets


@pytest.fixture(scope="module")
def regression_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("ft")
    task = regression_task()
    return task, train_tiny(out, task, epochs=3, train_fraction=0.75), out


def test_run_finetune_reports_best_epoch_scores_from_reloaded_checkpoint(regression_run):
    task, result, out = regression_run
    assert result["n_train"] == 18 and result["metric"] == "mae" and result["method"] == "RandInit"
    assert json.loads((out / "metrics.json").read_text())["test"] == pytest.approx(result["test"])
    settings = json.loads((out / "finetune_config.json").read_text())
    assert settings["train_fraction"] == 0.75 and settings["n_train"] == 18 and settings["task"]["metric"] == "mae"
    ckpt = load_checkpoint(result["checkpoint"])  # weights_only load: hparams are plain
    hp = hparams(ckpt)
    assert hp["encoder_name"] == "tokengt" and hp["task"]["standardize"] and hp["readout"] == "mp"
    model = load_property_model(result["checkpoint"])
    preds = predict_records(model, task.test)
    assert evaluate(model.spec, task.labels("test"), preds)["mae"] == pytest.approx(result["test"])
    # reloading gives the same numbers again, in original units (targets ~ 50..150, not z-scores)
    again = predict_records(load_property_model(result["checkpoint"]), task.test)
    np.testing.assert_allclose(preds, again, rtol=0, atol=0)
    assert np.all(np.abs(preds - model.spec.mean[0]) < 5 * model.spec.std[0])
    # the optimiser really ran with the decayed groups: 18 molecules / batch 8 = 3 steps per epoch,
    # 1 warmup epoch; the LR monitor logs each group's lr per step
    log = pd.read_csv(out / "logs" / "metrics.csv")
    lrs = log.dropna(subset=["lr-AdamW/head"]).set_index("step")
    assert lrs.loc[1, "lr-AdamW/head"] == pytest.approx(5e-4 / 3)
    assert lrs.loc[3, "lr-AdamW/head"] == pytest.approx(5e-4)
    for i, power in ((0, 3), (1, 2), (2, 1)):  # tiny TokenGT: embeddings + 2 layers
        np.testing.assert_allclose(lrs[f"lr-AdamW/encoder.{i}"], lrs["lr-AdamW/head"] * 0.65 ** power)
    # the selected epoch is the best validation epoch among those logged
    val = log.dropna(subset=["val/mae"])
    assert result["best_epoch"] == int(val.loc[val["val/mae"].idxmin(), "epoch"])


def test_classification_with_missing_labels_trains_and_summarises(tmp_path):
    task = classification_task()
    results = run_seeds(tiny_config(1, method="toy"), task, tmp_path, [0, 1])
    assert [r["seed"] for r in results] == [0, 1] and (tmp_path / "seed1" / "metrics.json").is_file()
    for r in results:
        assert 0 <= r["test"] <= 1 and r["metric"] == "rocauc"
    paths = write_summary(results, tmp_path)
    summary = summarize(results)
    row = summary.iloc[0]
    assert row["seeds"] == 2 and row["method"] == "toy"
    assert row["test_mean"] == pytest.approx(np.mean([r["test"] for r in results]))
    assert row["test_std"] == pytest.approx(np.std([r["test"] for r in results]))
    assert "± " in paths["markdown"].read_text() and paths["csv"].is_file()


def test_init_from_student_checkpoint_loads_its_weights_and_names_the_method(tmp_path):
    from dnd.models.registry import build_encoder, encoder_config_dict
    student = build_encoder("tokengt", encoder_preset("tokengt", "tiny"))
    for p in student.parameters():
        torch.nn.init.normal_(p, std=0.3)  # clearly not a fresh initialisation
    name, config = encoder_config_dict(student)
    path = tmp_path / "student.ckpt"
    torch.save({"state_dict": {f"student.{k}": v for k, v in student.state_dict().items()},
                "hyper_parameters": {"encoder_name": name, "encoder_config": config, "stage": "distill",
                                     "objective": {"variant": "node"}}}, path)
    result = train_tiny(tmp_path / "ft", epochs=1, init=str(path), lr=0.0)  # lr 0: weights stay put
    assert result["method"] == "D&D-NODE"
    finetuned = load_property_model(result["checkpoint"]).encoder.state_dict()
    for k, v in student.state_dict().items():
        torch.testing.assert_close(finetuned[k], v)


def test_cli_on_embedded_task_with_seeds_readouts_and_train_fraction(tmp_path, capsys):
    from dnd.cli import main
    from dnd.data.embedded import EMBEDDED_TASK, ogb_root
    out = tmp_path / "cli"
    assert main(["finetune", "--task", EMBEDDED_TASK, "--data-root", str(ogb_root()), "--preset", "tiny",
                 "--readout", "mp", "vn", "--seeds", "0", "1", "--train-fraction", "0.05", "--max-epochs", "1",
                 "--batch-size", "32", "--no-progress", "--out", str(out)]) == 0
    runs = pd.read_csv(out / "results.csv")
    assert len(runs) == 4 and set(runs["readout"]) == {"mp", "vn"} and (runs["n_train"] == 45).all()
    summary = pd.read_csv(out / "summary.csv")
    assert summary[["readout", "seeds"]].values.tolist() == [["mp", 2], ["vn", 2]]
    assert (out / "vn" / "seed1" / "checkpoints" / "best.ckpt").is_file()
    assert "| ogbg-molesol | RandInit | vn | 0.05 | rmse ↓ |" in capsys.readouterr().out
