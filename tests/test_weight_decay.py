"""Weight decay spares norms, biases, embeddings and learned tokens in every stage, and TokenGT's
final LayerNorm trains at the head's rate under layer-wise lr decay (BEiT's recipe, Table 5c)."""

import pytest
import torch
from torch import nn

from dnd.models.config import HeadConfig
from dnd.models.registry import build_encoder, encoder_preset
from dnd.training.config import OptimConfig
from dnd.training.finetune import FinetuneModule
from dnd.training.optim import decay_groups, layer_decay_groups
from finetune_fixtures import regression_task

LR, WD = 5e-4, 0.05


def _exempt_by_rule(module):
    """Names that must take no decay, from module types (not from the code under test)."""
    names = set()
    for mname, m in module.named_modules():
        for pname, p in m.named_parameters(recurse=False):
            full = f"{mname}.{pname}" if mname else pname
            if isinstance(m, (nn.LayerNorm, nn.BatchNorm1d, nn.Embedding)) or pname == "bias":
                names.add(full)
            if pname in ("graph_token", "vn_init"):
                names.add(full)
    return names


def _zero_grad_step(module, groups):
    """One AdamW step with zero gradients: only weight decay moves parameters."""
    before = {n: p.detach().clone() for n, p in module.named_parameters()}
    opt = torch.optim.AdamW(groups, lr=LR, weight_decay=WD)
    for p in module.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    return {n for n, p in module.named_parameters() if not torch.equal(before[n], p.detach())}


@pytest.mark.parametrize("name", ["tokengt", "pna"])
def test_pretraining_groups_decay_only_weight_matrices(name):
    enc = build_encoder(name, encoder_preset(name, "tiny"), records=regression_task().train)
    with torch.no_grad():
        for p in enc.parameters():
            p.add_(0.1)     # zeros (tokens, biases) would not show decay
    moved = _zero_grad_step(enc, decay_groups(enc))
    exempt = _exempt_by_rule(enc)
    assert exempt and not (moved & exempt)
    assert moved == {n for n, _ in enc.named_parameters()} - exempt


def test_finetune_groups_exempt_norms_and_give_final_norm_the_head_rate():
    task = regression_task()
    model = FinetuneModule("tokengt", encoder_preset("tokengt", "tiny"), "vn",
                           HeadConfig(num_layers=2), task.spec, OptimConfig(lr=LR, weight_decay=WD))
    groups = layer_decay_groups(model.encoder, [model.readout, model.head], LR, 0.65)
    lr_of = {id(p): g["lr"] for g in groups for p in g["params"]}
    for p in model.encoder.final_norm.parameters():
        assert lr_of[id(p)] == pytest.approx(LR)
    for p in model.encoder.blocks[-1].parameters():
        assert lr_of[id(p)] == pytest.approx(LR * 0.65)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1)
    moved = _zero_grad_step(model, groups)
    exempt = _exempt_by_rule(model)
    assert "encoder.final_norm.weight" in exempt and "encoder.graph_token" in exempt
    assert not (moved & exempt) and moved == {n for n, _ in model.named_parameters()} - exempt
