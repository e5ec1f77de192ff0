"""How a codec's codebooks are used: code counts per level and their perplexity.

Dead codes (never chosen) waste a level's capacity; perplexity exp(H) says how many codes a
level effectively uses (1024 at best for DAC). Shapes: codes per level [B, L]; counts [K, C].
"""

from __future__ import annotations

import torch


def code_usage(codes: list[torch.Tensor], active: torch.Tensor, codebook_size: int) -> torch.Tensor:
    """Counts [K, C] of each code at each level, over the items where that level was active."""
    rows = []
    for i, idx in enumerate(codes):
        keep = idx[active > i]
        rows.append(torch.bincount(keep.flatten().cpu(), minlength=codebook_size))
    return torch.stack(rows)


def perplexity(counts: torch.Tensor) -> torch.Tensor:
    """exp(entropy) of each row of counts [K, C] -> [K]."""
    p = counts.float() / counts.sum(-1, keepdim=True).clamp_min(1)
    return torch.exp(-(p * p.clamp_min(1e-12).log()).sum(-1))
