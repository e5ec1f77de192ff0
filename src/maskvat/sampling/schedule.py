"""The cosine unmasking schedule of parallel decoding (paper 3.2.3): pure functions."""

from __future__ import annotations

import math

import torch


def still_masked(total: torch.Tensor, step: int, n_steps: int) -> torch.Tensor:
    """How many positions stay masked after step ``step`` (0-based) of ``n_steps``, per item.

    total: [B] positions masked at the start (per item: fixed prompt tokens are not counted).
    floor(total * cos(pi/2 * (step + 1) / n_steps)), at most total - (step + 1) so every step
    unmasks at least one position while any remain, and 0 after the last step.
    """
    if n_steps < 1:
        raise ValueError("n_steps must be at least 1")
    frac = math.cos(math.pi / 2 * (step + 1) / n_steps)
    count = torch.floor(total.double() * frac).long()
    count = torch.minimum(count, (total - (step + 1)).clamp_min(0))
    return torch.zeros_like(total) if step + 1 >= n_steps else count


def schedule_table(total: torch.Tensor, n_steps: int) -> torch.Tensor:
    """[B, n_steps]: ``still_masked`` for every step (for plots and tests)."""
    return torch.stack([still_masked(total, n, n_steps) for n in range(n_steps)], dim=1)
