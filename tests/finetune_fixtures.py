"""Small synthetic tasks and a tiny finetuned checkpoint shared by the finetune/predict tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from dnd.data.featurize import smiles_to_graph
from dnd.data.tasks.base import TaskData, TaskSpec
from dnd.models.config import HeadConfig
from dnd.training.config import FinetuneConfig, TrainerConfig
from dnd.training.finetune import run_finetune

SMILES = ["CCO", "CCN", "CCC", "CCCC", "CC(C)O", "c1ccccc1", "c1ccncc1", "CC(=O)O", "CCOC", "OCCO",
          "CNC", "C1CCCCC1", "CC#N", "C=CC", "CCCl", "FC(F)F", "c1ccc(O)cc1", "CC(C)(C)C", "NCCN",
          "O=C=O", "CCCCO", "CCS", "C1CCOC1", "c1ccsc1", "CC(N)=O", "COC(C)=O", "CCCCCC", "OC1CCCC1",
          "Cc1ccccc1", "CCOCC", "NC(=O)N", "C#C", "ClCCl", "CCCN", "c1cc[nH]c1", "CC=O"]


def _records(smiles, y):
    out = []
    for s, row in zip(smiles, y):
        g = smiles_to_graph(s)
        g.y = torch.tensor(np.asarray(row, dtype=np.float32).reshape(1, -1))
        out.append(g)
    return out


def regression_task(name: str = "toy-heavy-atoms") -> TaskData:
    """Target: 10 x number of heavy atoms + 50 (mean far from 0, std far from 1)."""
    y = [[10.0 * smiles_to_graph(s).num_nodes + 50.0] for s in SMILES]
    spec = TaskSpec(name, "regression", "mae", 1, ["size"], False, None, None, "units")
    recs = _records(SMILES, y)
    return TaskData(spec, recs[:24], recs[24:30], recs[30:])


def classification_task() -> TaskData:
    """Two targets (contains O / contains N), with a third of the labels missing."""
    rng = np.random.default_rng(0)
    y = np.array([[float("O" in s or "o" in s), float("N" in s or "n" in s)] for s in SMILES])
    y[rng.random(y.shape) < 0.3] = np.nan
    y[24:30] = [[0, 1], [1, 0], [0, 1], [1, 0], [np.nan, 1], [1, 0]]  # both classes in valid
    y[30:] = [[0, 1], [1, 0], [0, 1], [1, 0], [1, 0], [0, 1]]
    spec = TaskSpec("toy-cls", "classification", "rocauc", 2, ["has_O", "has_N"], False, None, None)
    recs = _records(SMILES, y)
    return TaskData(spec, recs[:24], recs[24:30], recs[30:])


def tiny_config(epochs: int = 2, **kw) -> FinetuneConfig:
    return FinetuneConfig(preset="tiny", batch_size=8, warmup_epochs=1, head=HeadConfig(num_layers=2),
                          trainer=TrainerConfig(max_epochs=epochs, checkpoint_every_n_steps=0,
                                                progress=False, log_every_n_steps=1), **kw)


def train_tiny(out: Path, task: TaskData | None = None, epochs: int = 2, **kw) -> dict:
    return run_finetune(tiny_config(epochs, **kw), task or regression_task(), out)
