"""Building blocks: the codegram embedding, the length adapter, conditioning projections,
AdaLN blocks (per-time-step modulation), cross-attention decoder blocks, encoder blocks."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def nearest_resample(x: torch.Tensor, length: int) -> torch.Tensor:
    """The length adapter Phi: frame repetition/dropping. x: [B, N, D] -> [B, length, D].

    Output position i takes input floor((i + 0.5) * N / length), the input frame whose time
    span holds the output frame's centre.
    """
    n = x.shape[1]
    if n == length:
        return x
    idx = ((torch.arange(length, device=x.device) + 0.5) * n / length).floor().long().clamp_(0, n - 1)
    return x[:, idx]


class CodegramEmbedding(nn.Module):
    """Sum over levels of per-level embeddings, projected to the model width.

    codes: [B, K, L] long in [0, C] (C = the mask id) -> [B, L, d].
    ``tables: [K, C + 1, H]``: row c of level k is the codec's codebook vector c through
    that level's out_proj (``init_from_codec``); row C is a learned [MASK] embedding.
    """

    def __init__(self, n_levels: int, codebook_size: int, codec_hidden: int, d_model: int):
        super().__init__()
        self.tables = nn.Parameter(torch.randn(n_levels, codebook_size + 1, codec_hidden) * 0.02)
        self.proj = nn.Linear(codec_hidden, d_model)
        self.n_levels, self.codebook_size = n_levels, codebook_size

    @torch.no_grad()
    def init_from_codec(self, level_embeddings: torch.Tensor) -> None:
        """level_embeddings: [K, C, H] (``AudioTokenizer.level_embeddings()``); the [MASK] rows become 0."""
        k, c, h = level_embeddings.shape
        if (k, c, h) != (self.n_levels, self.codebook_size, self.tables.shape[-1]):
            raise ValueError(f"codec embeddings {tuple(level_embeddings.shape)} do not fit tables {tuple(self.tables.shape)}")
        self.tables[:, :c] = level_embeddings
        self.tables[:, c] = 0

    def summed(self, codes: torch.Tensor) -> torch.Tensor:
        """codes [B, K, L] -> sum over levels of the table rows [B, L, H] (before projection)."""
        out = 0
        for k in range(self.n_levels):
            out = out + F.embedding(codes[:, k], self.tables[k])
        return out

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        return self.proj(self.summed(codes))


class Mlp(nn.Module):
    def __init__(self, d_in: int, d_hidden: int, d_out: int, dropout: float = 0.0):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(d_in, d_hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(d_hidden, d_out))

    def forward(self, x):
        return self.net(x)


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale) + shift


class AdaLNBlock(nn.Module):
    """DiT block whose scale/shift/gate come from a conditioning *sequence* (one per time step).

    x: [B, L, d], cond: [B, L, d] -> [B, L, d]. The modulation layer starts at zero (adaLN-Zero),
    so every block starts as the identity.
    """

    def __init__(self, d: int, heads: int, mlp_ratio: float, dropout: float = 0.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.attn = nn.MultiheadAttention(d, heads, dropout=dropout, batch_first=True)
        self.norm2 = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.mlp = Mlp(d, int(d * mlp_ratio), d, dropout)
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(d, 6 * d))
        nn.init.zeros_(self.ada[1].weight)
        nn.init.zeros_(self.ada[1].bias)

    def modulation(self, cond: torch.Tensor) -> torch.Tensor:
        """cond [B, L, d] -> [B, L, 6d]: shift, scale and gate of both sub-blocks (fixed while sampling)."""
        return self.ada(cond)

    def forward(self, x: torch.Tensor, cond: torch.Tensor, mod: torch.Tensor | None = None) -> torch.Tensor:
        """``mod``: ``modulation(cond)`` computed beforehand (sampling reuses it at every step)."""
        s1, c1, g1, s2, c2, g2 = (self.ada(cond) if mod is None else mod).chunk(6, dim=-1)
        h = modulate(self.norm1(x), s1, c1)
        x = x + g1 * self.attn(h, h, h, need_weights=False)[0]
        return x + g2 * self.mlp(modulate(self.norm2(x), s2, c2))


class CrossAttentionBlock(nn.Module):
    """Pre-LN decoder block: self-attention, cross-attention to ``memory: [B, M, d]``, MLP."""

    def __init__(self, d: int, heads: int, mlp_ratio: float, dropout: float = 0.0):
        super().__init__()
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(d), nn.LayerNorm(d), nn.LayerNorm(d)
        self.self_attn = nn.MultiheadAttention(d, heads, dropout=dropout, batch_first=True)
        self.cross_attn = nn.MultiheadAttention(d, heads, dropout=dropout, batch_first=True)
        self.mlp = Mlp(d, int(d * mlp_ratio), d, dropout)

    def forward(self, x: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        h = self.norm1(x)
        x = x + self.self_attn(h, h, h, need_weights=False)[0]
        x = x + self.cross_attn(self.norm2(x), memory, memory, need_weights=False)[0]
        return x + self.mlp(self.norm3(x))


class HybridBlock(nn.Module):
    """AdaLN-modulated self-attention and MLP with cross-attention to ``memory: [B, M, d]`` (MaskVAT's
    Hybrid: modulated by the sync stream, attending to the encoder; VTA-LDM: modulated by the flow
    time, attending to the visual memory). x [B, L, d], cond [B, L or 1, d] -> [B, L, d]."""

    def __init__(self, d: int, heads: int, mlp_ratio: float, dropout: float = 0.0):
        super().__init__()
        self.ada = AdaLNBlock(d, heads, mlp_ratio, dropout)
        self.norm_x = nn.LayerNorm(d)
        self.cross_attn = nn.MultiheadAttention(d, heads, dropout=dropout, batch_first=True)

    def modulation(self, cond: torch.Tensor) -> torch.Tensor:
        return self.ada.modulation(cond)

    def forward(self, x, cond, memory, mod: torch.Tensor | None = None):
        b = self.ada
        s1, c1, g1, s2, c2, g2 = (b.ada(cond) if mod is None else mod).chunk(6, dim=-1)
        h = modulate(b.norm1(x), s1, c1)
        x = x + g1 * b.attn(h, h, h, need_weights=False)[0]
        x = x + self.cross_attn(self.norm_x(x), memory, memory, need_weights=False)[0]
        return x + g2 * b.mlp(modulate(b.norm2(x), s2, c2))


class EncoderBlock(nn.Module):
    """Pre-LN transformer encoder block."""

    def __init__(self, d: int, heads: int, mlp_ratio: float, dropout: float = 0.0):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, heads, dropout=dropout, batch_first=True)
        self.mlp = Mlp(d, int(d * mlp_ratio), d, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.norm2(x))


def sinusoid(length: int, d: int, device=None) -> torch.Tensor:
    """Fixed sinusoidal positions [length, d]."""
    return sinusoid_at(torch.arange(length, device=device, dtype=torch.float32), d)


def sinusoid_at(positions: torch.Tensor, d: int) -> torch.Tensor:
    """Sinusoidal embedding [N, d] of real-valued ``positions: [N]`` (sin on even channels, cos on
    odd ones, frequencies 10000^(-2i/d)); ``sinusoid(n, d)`` is ``sinusoid_at(arange(n), d)``."""
    pos = positions.to(torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, d, 2, device=pos.device, dtype=torch.float32)
                     * (-torch.log(torch.tensor(10000.0)) / d))
    out = torch.zeros(pos.shape[0], d, device=pos.device)
    out[:, 0::2] = torch.sin(pos * freq)
    out[:, 1::2] = torch.cos(pos * freq)
    return out
