"""AdamW with linear warmup and cosine decay, shared by every stage (denoise, distill, infomax,
finetune), so that all schedules mean the same thing; and the layer-wise learning-rate decay
groups finetuning trains with (paper Table 5c)."""

from __future__ import annotations

import math
from typing import Any, Iterable, Sequence

import torch
from torch import nn

from dnd.training.config import OptimConfig


def warmup_cosine_factor(step: int, warmup_steps: int, total_steps: int,
                         min_ratio: float = 0.0, start_ratio: float = 0.0) -> float:
    """Multiplier of the peak lr at `step`: linear from start_ratio to 1, then cosine to min_ratio."""
    if warmup_steps > 0 and step < warmup_steps:
        return start_ratio + (1.0 - start_ratio) * step / warmup_steps
    span = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / span)
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def adamw_warmup_cosine(params: Iterable, cfg: OptimConfig, total_steps: int) -> dict:
    """`configure_optimizers` return value for Lightning: AdamW plus a per-step schedule.

    `params` may be parameters or param groups; a group's own "lr" is its peak.
    """
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay,
                            betas=(cfg.beta1, cfg.beta2))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: warmup_cosine_factor(s, cfg.warmup_steps, total_steps,
                                            cfg.min_lr_ratio, cfg.warmup_start_ratio))
    return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


def layer_decay_groups(encoder: nn.Module, top_modules: Sequence[nn.Module], lr: float,
                       decay: float) -> list[dict[str, Any]]:
    """AdamW parameter groups with layer-wise lr decay.

    `encoder.layer_groups()` lists parameter groups bottom (embeddings) first; with n groups,
    group i gets lr * decay**(n - i), so the top encoder layer trains at decay * lr and the
    embeddings at decay**n * lr. `top_modules` (readout, head) train at the full lr. Encoder
    parameters missing from layer_groups() would silently be frozen, so they are an error.
    """
    groups = encoder.layer_groups()
    listed = {id(p) for g in groups for p in g}
    unlisted = [n for n, p in encoder.named_parameters() if id(p) not in listed]
    if unlisted:
        raise ValueError(f"encoder.layer_groups() misses parameters {unlisted[:5]}")
    n = len(groups)
    out = []
    for i, params in enumerate(groups):
        scale = decay ** (n - i)
        out.append({"params": list(params), "lr": lr * scale, "lr_scale": scale, "name": f"encoder.{i}"})
    top = [p for m in top_modules for p in m.parameters()]
    out.append({"params": top, "lr": lr, "lr_scale": 1.0, "name": "head"})
    return [g for g in out if g["params"]]
