"""Does the 2D student attend like a 3D model? (the paper's Figure 4)

For each TokenGT layer and head, over molecules that have a 3D conformer:
- |r|: the absolute Pearson correlation, within one molecule, between the pre-softmax attention
  scores of heavy-atom pairs (i != j, both directions) and their 3D distance; averaged over
  molecules. A head whose scores track geometry has |r| near 1.
- attention-weighted mean 3D distance: softmax of each atom's scores over the other node tokens
  (edge and graph tokens left out, so the weights say which *atoms* a head looks at), times the
  distances, averaged over query atoms and molecules. Local heads give small values.

`dnd attention --student LABEL=CKPT ... --source qm9 --path FILE --out attention.png` compares
students on held-out molecules of the corpus (`dnd.data.corpus`: the validation split the
students did not pretrain on, as `dnd run` does); a label with `random:<preset>` builds an
untrained TokenGT (the RandInit reference).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import torch

from dnd.analysis.plotting import pyplot, save_figure
from dnd.data.loader import make_loader
from dnd.models.checkpoint import load_encoder
from dnd.models.registry import build_encoder, encoder_preset


def _pearson(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pearson r along the last dim; a [..., m], b [m]."""
    a = a - a.mean(-1, keepdim=True)
    b = b - b.mean()
    return (a * b).sum(-1) / (a.norm(dim=-1) * b.norm()).clamp_min(1e-12)


@torch.no_grad()
def head_statistics(encoder, records: Sequence, batch_size: int = 32) -> dict[str, np.ndarray]:
    """{"abs_r": [layers, heads], "weighted_distance": [layers, heads], "molecules": int}, over the
    molecules of `records` (paired records) with at least 3 heavy atoms."""
    if not hasattr(encoder, "attention_scores"):
        raise TypeError(f"{type(encoder).__name__} has no attention scores (only TokenGT does)")
    encoder.eval()
    sum_r = sum_d = None
    count = 0
    for batch in make_loader(list(records), batch_size):
        scores = encoder.attention_scores(batch)  # per graph [layers, heads, n, n]
        for g, s in enumerate(scores):
            atoms = (batch.z_batch == g) & batch.atom_is_node
            pos = batch.pos[atoms].double()
            n = pos.shape[0]
            if n < 3:
                continue
            dist = torch.cdist(pos, pos)
            off = ~torch.eye(n, dtype=torch.bool)
            s = s.double()
            r = _pearson(s[..., off], dist[off]).abs()
            masked = s.masked_fill(~off, float("-inf"))
            w = torch.softmax(masked, dim=-1)
            wd = (w * dist).sum(-1).mean(-1)
            sum_r = r if sum_r is None else sum_r + r
            sum_d = wd if sum_d is None else sum_d + wd
            count += 1
    if count == 0:
        raise ValueError("no molecule with at least 3 heavy atoms to correlate")
    return {"abs_r": (sum_r / count).numpy(), "weighted_distance": (sum_d / count).numpy(), "molecules": count}


def statistics_table(stats: dict[str, dict[str, np.ndarray]]) -> pd.DataFrame:
    rows = []
    for label, s in stats.items():
        layers, heads = s["abs_r"].shape
        for layer in range(layers):
            for head in range(heads):
                rows.append({"student": label, "layer": layer + 1, "head": head + 1,
                             "abs_r": float(s["abs_r"][layer, head]),
                             "weighted_distance": float(s["weighted_distance"][layer, head]),
                             "molecules": s["molecules"]})
    return pd.DataFrame(rows)


def plot_attention(table: pd.DataFrame, out: str | Path) -> Path:
    """Left: histogram of per-head |r| per student; right: attention-weighted distance per layer."""
    plt = pyplot()
    labels = list(dict.fromkeys(table["student"]))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    bins = np.linspace(0, 1, 21)
    for i, label in enumerate(labels):
        t = table[table["student"] == label]
        ax1.hist(t["abs_r"], bins=bins, alpha=0.45, color=f"C{i}",
                 label=f"{label} (mean {t['abs_r'].mean():.2f})")
        offset = (i - (len(labels) - 1) / 2) * 0.12
        ax2.scatter(t["layer"] + offset, t["weighted_distance"], s=10, color=f"C{i}", alpha=0.7, label=label)
    ax1.axvline(0.3, color="k", ls=":", lw=1)
    ax1.set_xlabel("|Pearson r| (attention score vs 3D distance), per head")
    ax1.set_ylabel("heads")
    ax1.legend(fontsize=8)
    ax2.set_xlabel("layer")
    ax2.set_ylabel("attention-weighted mean 3D distance (Å)")
    ax2.legend(fontsize=8)
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
    return save_figure(fig, out)


def build_student(spec: str):
    """`random:<preset>[:<JSON overrides>]` (untrained TokenGT, seeded; the overrides are the
    students' so the RandInit reference has their architecture) or a student checkpoint path."""
    if spec.startswith("random:"):
        _, preset, *overrides = spec.split(":", 2)
        torch.manual_seed(0)
        config = encoder_preset("tokengt", preset) | (json.loads(overrides[0]) if overrides else {})
        return build_encoder("tokengt", config)
    return load_encoder(spec)


def compare_students(students: dict[str, str], records: Sequence, out_png: str | Path,
                     out_csv: str | Path | None = None) -> pd.DataFrame:
    table = statistics_table({label: head_statistics(build_student(spec), records)
                              for label, spec in students.items()})
    plot_attention(table, out_png)
    if out_csv:
        table.to_csv(out_csv, index=False)
    return table
