"""Which torch device work outside a Lightning Trainer runs on (teacher-feature caching, scoring
the selected model, `dnd predict`, `dnd embed`), chosen from the same `--accelerator` value the
training commands take, so one option means one thing everywhere."""

from __future__ import annotations

import torch


def torch_device(accelerator: str) -> torch.device:
    """"auto", "gpu", "cuda": the GPU when there is one, else the CPU; any other torch device
    string ("cpu", "cuda:1", "mps") as given; a Lightning-only name ("tpu") falls back to CPU."""
    if accelerator in ("auto", "gpu", "cuda"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(accelerator)
    except RuntimeError:
        return torch.device("cpu")
