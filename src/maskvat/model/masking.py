"""Training-time masking (paper 3.2.2) and the masked-token loss: pure functions.

cosine masking: per item u ~ U[0, pi/2], p = cos(u); each of the K x L positions is masked
with probability p. The mean masked fraction is E[cos u] = 2 / pi.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def cosine_mask(batch: int, levels: int, length: int, generator: torch.Generator | None = None,
                device: torch.device | str = "cpu") -> torch.Tensor:
    """mask: [B, K, L] bool, True = masked; one masking rate p = cos(u) per item."""
    u = torch.rand(batch, generator=generator) * (math.pi / 2)
    p = torch.cos(u)
    mask = torch.rand(batch, levels, length, generator=generator) < p[:, None, None]
    return mask.to(device)


def apply_mask(codes: torch.Tensor, mask: torch.Tensor, mask_id: int) -> torch.Tensor:
    """codes [B, K, L] with the masked positions set to ``mask_id``."""
    return torch.where(mask, torch.full_like(codes, mask_id), codes)


def masked_cross_entropy(logits: torch.Tensor, codes: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over the masked positions only. logits [B, K, L, C], codes/mask [B, K, L]."""
    if not mask.any():
        return logits.sum() * 0
    return F.cross_entropy(logits[mask].float(), codes[mask])


@torch.no_grad()
def masked_accuracy_per_level(logits: torch.Tensor, codes: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(correct [K], counted [K]): argmax hits and masked positions per level, summed over the batch."""
    hit = (logits.argmax(-1) == codes) & mask
    return hit.sum(dim=(0, 2)), mask.sum(dim=(0, 2))
