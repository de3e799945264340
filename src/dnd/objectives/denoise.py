"""Coordinate denoising (eq. 3-5 of the D&D paper, after Zaidi et al. 2023).

Each atom's position is perturbed by sigma * eps with eps ~ N(0, I3), and the model is trained to
predict eps from the perturbed conformer. Predicting the *standardised* noise (not sigma * eps)
keeps the target at unit scale for any sigma, so a model that predicts zero scores 1.0: the loss
reads as the fraction of noise variance left unexplained.

Precision: the noise is drawn in the positions' dtype (float32) and added outside any autocast
op, and the loss is taken in the noise's dtype, so under `bf16-mixed` only the network's matrix
products run in bf16; positions, interatomic distances, noise and loss stay float32
(tests/test_bf16.py).
"""

from __future__ import annotations

import torch
from torch import Tensor


def perturb(pos: Tensor, sigma: float, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """(pos + sigma * eps, eps), with eps drawn from `generator` on pos's device and dtype."""
    if sigma <= 0:
        raise ValueError(f"noise scale sigma must be positive, got {sigma}")
    eps = torch.randn(pos.shape, generator=generator, device=pos.device, dtype=pos.dtype)
    return pos + sigma * eps, eps


def denoising_loss(pred_noise: Tensor, eps: Tensor) -> Tensor:
    """Mean squared error per atom and coordinate between predicted and added noise."""
    if pred_noise.shape != eps.shape:
        raise ValueError(f"predicted noise has shape {tuple(pred_noise.shape)}, noise {tuple(eps.shape)}")
    return torch.mean((pred_noise.to(eps.dtype) - eps) ** 2)  # a bf16 head output meets fp32 eps


def denoising_step(teacher, head, batch, sigma: float,
                   generator: torch.Generator | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """One forward pass of the objective: (loss, predicted noise [n, 3], eps [n, 3])."""
    noisy, eps = perturb(batch.pos, sigma, generator)
    x, vec = teacher(batch, pos=noisy)
    pred = head(x, vec)
    return denoising_loss(pred, eps), pred, eps
