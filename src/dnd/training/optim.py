"""AdamW with linear warmup and cosine decay, shared by every stage (denoise, distill, infomax,
finetune), so that all schedules mean the same thing."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable

import torch


@dataclass
class OptimConfig:
    lr: float = 5e-4
    weight_decay: float = 0.0
    warmup_steps: int = 0
    # learning rate at the end of the cosine, as a fraction of the peak
    min_lr_ratio: float = 0.0
    # warmup starts at this fraction of the peak (Table 5a's 1e-7 start, for example)
    warmup_start_ratio: float = 0.0
    beta1: float = 0.9
    beta2: float = 0.999


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
