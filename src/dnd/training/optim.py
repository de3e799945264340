"""AdamW with linear warmup and cosine decay, shared by every stage (denoise, distill, infomax,
finetune), so that all schedules mean the same thing.

Weight decay follows the usual practice of the transformer recipes Table 5c comes from (BEiT,
timm): biases, normalisation weights (every parameter with fewer than two dimensions), embedding
tables and learned tokens (a module's `no_weight_decay()` names) are not decayed. Decaying them
pulls LayerNorm gains towards zero and shrinks embeddings of rare atom types for no benefit."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable

import torch
from torch import nn


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


def exempt_from_decay(module: nn.Module) -> set[int]:
    """ids of the parameters of `module` that take no weight decay (see the module docstring)."""
    exempt = set()
    for m in module.modules():
        tokens = set(m.no_weight_decay()) if hasattr(m, "no_weight_decay") else set()
        for name, p in m.named_parameters(recurse=False):
            if p.ndim < 2 or isinstance(m, nn.Embedding) or name in tokens:
                exempt.add(id(p))
    return exempt


def split_decay(groups: list[dict[str, Any]], exempt: set[int]) -> list[dict[str, Any]]:
    """Each param group twice: its decayed parameters (optimiser default weight decay) and its
    exempt ones (weight_decay 0, name suffixed "/no_decay": names must stay unique for the lr
    monitor), other keys (lr) kept; empty groups dropped."""
    out = []
    for group in groups:
        params = list(group["params"])
        decayed = [p for p in params if id(p) not in exempt]
        kept = [p for p in params if id(p) in exempt]
        if decayed:
            out.append({**group, "params": decayed})
        if kept:
            named = {"name": f"{group['name']}/no_decay"} if "name" in group else {}
            out.append({**group, "params": kept, "weight_decay": 0.0, **named})
    return out


def decay_groups(module: nn.Module) -> list[dict[str, Any]]:
    """`module`'s trainable parameters as AdamW groups, norms/biases/embeddings exempt from decay."""
    params = [p for p in module.parameters() if p.requires_grad]
    return split_decay([{"params": params}], exempt_from_decay(module))
