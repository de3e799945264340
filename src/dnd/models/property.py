"""The property model: a 2D encoder, a readout and an MLP head, rebuilt from its checkpoint alone
and used for batch prediction. Training (`dnd.training.finetune.FinetuneModule`) subclasses it
and adds the loss, logging and optimiser; prediction and embedding need only this module, so
`dnd.inference` never imports training code.

A finetuned checkpoint stores every constructor argument as plain hparams (encoder name and
config, readout, head config, the task's `TaskSpec` with its standardisation) and the weights
under "encoder.", "readout." and "head.".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from dnd.data.loader import make_loader
from dnd.data.tasks.base import TaskSpec
from dnd.models.checkpoint import CheckpointError, from_hparams, hparams, load_checkpoint
from dnd.models.config import HeadConfig, Method
from dnd.models.readout import Readout
from dnd.models.registry import build_encoder

RANDINIT = Method.RANDINIT.label  # method label of an encoder finetuned from random initialisation


class PredictionHead(nn.Module):
    def __init__(self, in_dim: int, out_dim: int, cfg: HeadConfig):
        super().__init__()
        if cfg.num_layers < 1:
            raise ValueError("head needs at least one layer")
        hidden = cfg.hidden_dim or in_dim
        layers: list[nn.Module] = []
        dim = in_dim
        for _ in range(cfg.num_layers - 1):
            layers += [nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(cfg.dropout)]
            dim = hidden
        layers.append(nn.Linear(dim, out_dim))
        self.mlp = nn.Sequential(*layers)

    def forward(self, h: Tensor) -> Tensor:
        return self.mlp(h)


class PropertyModel(nn.Module):
    """Encoder + readout + head for the task described by `task`."""

    def __init__(self, encoder_name: str, encoder_config: dict, readout: str, head: HeadConfig, task: TaskSpec):
        super().__init__()
        self.spec = task
        self.encoder = build_encoder(encoder_name, encoder_config)
        self.readout = Readout(readout)
        self.head = PredictionHead(self.readout.out_dim(self.encoder.hidden_dim), self.spec.num_tasks, head)

    def embed(self, batch) -> tuple[Tensor, Tensor]:
        """(node embeddings [N, d], graph embeddings [B, d] from the readout)."""
        enc = self.encoder(batch)
        return enc.node, self.readout(enc, batch)

    def forward(self, batch) -> Tensor:
        """Raw outputs [B, T]: standardised values (regression) or logits (classification)."""
        return self.head(self.embed(batch)[1])

    def to_units(self, out: Tensor) -> Tensor:
        """Raw outputs -> original units (regression) or probabilities (classification)."""
        if self.spec.task_type == "classification":
            return torch.sigmoid(out)
        return self.spec.destandardize_y(out)


def is_property_checkpoint(hp: dict[str, Any]) -> bool:
    """Whether checkpoint hparams describe a finetuned property model (else: a student)."""
    return "task" in hp and "encoder_name" in hp


def load_property_model(path: str | Path) -> PropertyModel:
    """Rebuild a finetuned model from its checkpoint alone (eval mode, CPU)."""
    ckpt = load_checkpoint(path)
    hp = hparams(ckpt, path)
    if not is_property_checkpoint(hp):
        raise CheckpointError(f"{path}: not a finetuned model (no task/encoder in hparams); "
                              "`dnd finetune` writes those")
    model = PropertyModel(hp["encoder_name"], hp["encoder_config"], hp["readout"],
                          from_hparams(HeadConfig, hp["head"]), TaskSpec.from_dict(hp["task"]))
    model.load_state_dict(ckpt["state_dict"])
    return model.eval()


@torch.no_grad()
def predict_records(model: PropertyModel, records: Sequence, batch_size: int = 256) -> np.ndarray:
    """Predictions [n, T] in original units / probabilities, in record order."""
    model.eval()
    device = next(model.parameters()).device
    outs = [model.to_units(model(batch.to(device))).cpu()
            for batch in make_loader(model.encoder.prepare(records), batch_size)]
    if not outs:
        return np.zeros((0, model.spec.num_tasks))
    return torch.cat(outs).double().numpy()
