"""AdamW with linear warmup and cosine decay, shared by every stage (denoise, distill, infomax,
finetune), so that all schedules mean the same thing; and the layer-wise learning-rate decay
groups finetuning trains with (paper Table 5c).

Weight decay follows the usual practice of the transformer recipes Table 5c comes from (BEiT,
timm): biases, normalisation weights (every parameter with fewer than two dimensions), embedding
tables and learned tokens (a module's `no_weight_decay()` names) are not decayed. Decaying them
pulls LayerNorm gains towards zero and shrinks embeddings of rare atom types for no benefit."""

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


def layer_decay_groups(encoder: nn.Module, top_modules: Sequence[nn.Module], lr: float,
                       decay: float) -> list[dict[str, Any]]:
    """AdamW parameter groups with layer-wise lr decay (BEiT's recipe, which Table 5c follows).

    `encoder.layer_groups()` lists parameter groups bottom (embeddings) first; with n groups,
    group i gets lr * decay**(n - i), so the top encoder layer trains at decay * lr and the
    embeddings at decay**n * lr. `top_modules` (readout, head) and the encoder's
    `top_parameters()` (TokenGT's final LayerNorm, BEiT's fc_norm) train at the full lr. Encoder
    parameters missing from both would silently be frozen, so they are an error. Each group is
    split in two so that norms, biases and embeddings take no weight decay (`split_decay`).
    """
    groups = encoder.layer_groups()
    top = [*encoder.top_parameters(), *(p for m in top_modules for p in m.parameters())]
    listed = {id(p) for g in groups for p in g} | {id(p) for p in encoder.top_parameters()}
    unlisted = [n for n, p in encoder.named_parameters() if id(p) not in listed]
    if unlisted:
        raise ValueError(f"encoder.layer_groups() misses parameters {unlisted[:5]}")
    n = len(groups)
    out = []
    for i, params in enumerate(groups):
        scale = decay ** (n - i)
        out.append({"params": list(params), "lr": lr * scale, "lr_scale": scale, "name": f"encoder.{i}"})
    out.append({"params": top, "lr": lr, "lr_scale": 1.0, "name": "head"})
    exempt = set().union(exempt_from_decay(encoder), *(exempt_from_decay(m) for m in top_modules))
    return split_decay([g for g in out if g["params"]], exempt)
