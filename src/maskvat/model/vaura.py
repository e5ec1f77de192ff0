"""V-AURA: an autoregressive generator over the same codegrams (Viertola, Iashin and Rahtu 2024,
"Temporally Aligned Audio for Video with Autoregression"; github.com/ilpoviertola/V-AURA).

    model = VAURA(vaura_config("lab-vaura"))
    cond = model.condition(semantic=sem, sync=sync, drop=drop, length=L)  # visual per step
    logits = model(codes, sem, sync, drop)                                # [B, K, L, C], teacher forcing
    logits, cache = model.step(inputs, cond.visual[:, p:p + n], cache, p) # n new steps, KV cache

What it is (paper Fig. 1 and section 3; the reference code's ``models/vaura_model.py`` and
``models/modules/sampler/llama.py``), and our choices where we depart:

- A decoder-only causal transformer in the Llama style, as V-AURA's: pre-RMSNorm blocks,
  rotary positions (RoPE), SwiGLU feed-forward, no biases.
- Input of one step: the K codec levels' embeddings, summed (paper: "embedded and added
  together"), initialised from the codec's codebooks through each level's ``out_proj`` (the
  reference does the same with DAC's codebooks; we reuse MaskVAT's ``CodegramEmbedding``,
  whose extra row C is the BOS / padding token ``P`` here).
- Order of the K levels within a frame: V-AURA's own, MusicGen's *delay* pattern (its
  experiment configs use ``delayed_9cbs``): sequence step s holds level k of frame s - k, so
  that level k of frame t is predicted knowing levels < k of frame t, at the cost of K - 1
  extra steps (L + K - 1 in all). ``pattern="parallel"`` gives the plain alternative (step t
  predicts all K tokens of frame t from frames < t). We default to "delay" because it is what
  V-AURA trains and samples with, so that the comparison with MaskVAT is with V-AURA as built.
- Visual conditioning: V-AURA reads one high-frame-rate stream (Synchformer/AV-CLIP features,
  768-d); we have two streams at their own rates, semantic (CLIP role) and sync (S3D role).
  Each is aligned to the audio frame rate by frame repetition (``nearest_resample``, as
  V-AURA's ``_repeat_and_pad_video``), the two are concatenated per frame and projected by one
  MLP to ``visual_width`` channels. Step s reads the visual features of frame s; the K - 1 steps
  past the last frame (delay pattern) read the last frame's (V-AURA: a learned "empty video"
  embedding; ours needs no parameter that a parallel-pattern model would leave unused).
- Cross-modal feature fusion: V-AURA's "channel_concat": the visual features of a step are
  *concatenated* channel-wise with its summed audio embedding, [visual ; audio] ->
  ``d_model``, the visual taking a third of the width (the reference's
  ``cond_feature_channel_scaler: 3``). So the visual stream enters each step, causally: a
  step never sees the picture of later steps.
- Classifier-free guidance: 10% conditioning dropout in training; a dropped item's visual
  features are replaced by a learned [NULL] vector after the MLP (V-AURA replaces the raw
  features by a fixed random buffer before it; ours is learned, as MaskVAT's [NULL]).
- Output: K heads per step (one linear map to K x C, no bias; V-AURA: K linear heads, zero
  initialised; ours start small-random so that an untrained model's logits depend on its input).
- KV cache: ``step`` takes and returns the per-layer keys and values, so each new step costs one
  position; a prompt (prefix) is consumed in one call.

Shapes: codes [B, K, L] long; semantic [B, Ns, Ds]; sync [B, Ny, Dy]; drop [B] bool; the
delayed sequence [B, K, S] with S = L + max offset; logits [B, K, L, C] (frame order) from
``forward``, [B, K, n, C] (sequence order) from ``step``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from maskvat.config_checks import from_checked_dict
from maskvat.errors import MaskvatError
from maskvat.model.folder import GeneratorFolder
from maskvat.model.generator_io import GeneratorIO
from maskvat.model.layers import CodegramEmbedding, Mlp, nearest_resample

KIND = "vaura"
PATTERNS = ("delay", "parallel")


@dataclass(frozen=True)
class VAURAConfig(GeneratorIO):
    """Architecture of one V-AURA generator (saved as ``config.json`` with ``"kind": "vaura"``).

    The feature/codec fields: ``GeneratorIO`` (so that the pipeline's encoders, cache checks and
    SCAV checks read any family). ``top_k`` / ``top_p``: the default
    sampling filter (V-AURA's generation configs: top-k 128, no nucleus)."""

    d_model: int = 192
    n_layers: int = 6
    n_heads: int = 4
    visual_width: int = 64  # channels of the visual features in the fused input (a third: V-AURA)
    ffn_hidden: int = 512  # SwiGLU hidden width (Llama: 2/3 of 4 d, rounded)
    dropout: float = 0.0
    pattern: str = "delay"
    rope_base: float = 10000.0
    top_k: int = 128
    top_p: float = 0.0

    def __post_init__(self):
        if self.pattern not in PATTERNS:
            raise MaskvatError(f"unknown codebook pattern {self.pattern!r} (choose from {', '.join(PATTERNS)})")
        super().__post_init__()
        if self.d_model % self.n_heads or (self.d_model // self.n_heads) % 2:
            raise MaskvatError(f"d_model {self.d_model} must split into {self.n_heads} heads of even width (RoPE)")
        if not 0 < self.visual_width < self.d_model:
            raise MaskvatError(f"visual_width must be between 0 and d_model ({self.d_model}), not {self.visual_width}")

    variant = "vaura"  # class attribute (not a field): what trainers and checks name the family by

    @property
    def pad_id(self) -> int:
        """BOS / padding token of the delayed sequence (the embedding row past the last code)."""
        return self.codebook_size

    @property
    def offsets(self) -> list[int]:
        """Delay of each level in sequence steps: [0, 1, ..., K - 1] (delay) or [0] * K (parallel)."""
        return list(range(self.n_levels)) if self.pattern == "delay" else [0] * self.n_levels

    def steps(self, length: int) -> int:
        """Sequence steps S of a codegram of ``length`` frames: L + max offset."""
        return length + max(self.offsets)

    @classmethod
    def from_dict(cls, d: dict) -> "VAURAConfig":
        return from_checked_dict(cls, d, "V-AURA config key")


_LAB = VAURAConfig()
# the paper-scale size of the reference's experiment config (llama_9cbs: 24 layers, width 1536,
# 16 heads, the visual a third of the width), over DAC 44 kHz and our paper encoders
_PAPER = replace(_LAB, d_model=1536, n_layers=24, n_heads=16, visual_width=512, ffn_hidden=4096, dropout=0.1,
                 codec_hidden=1024, max_frames=862, window_seconds=10.0, semantic_dim=512, sync_dim=512,
                 sync_fps=3.125, audio_dim=768, audio_fps=6.25, codec="descript/dac_44khz",
                 semantic_encoder="clip-vit-b32", sync_encoder="s3d-sparsesync", audio_encoder="beats")
_DEBUG = replace(_LAB, d_model=32, n_layers=1, n_heads=4, visual_width=8, ffn_hidden=64, codec="tiny",
                 codec_hidden=64, max_frames=40, window_seconds=40 * 512 / 44100)

VAURA_CONFIGS: dict[str, VAURAConfig] = {
    "debug-vaura": _DEBUG,
    "lab-vaura": _LAB,  # ~7.1 M parameters, as lab-adaln-b (6 Llama blocks of 192 against its 4 AdaLN blocks)
    "paper-vaura": _PAPER,
}


def vaura_config(name: str, **overrides) -> VAURAConfig:
    """A named V-AURA configuration, with fields overridden."""
    if name not in VAURA_CONFIGS:
        raise MaskvatError(f"unknown V-AURA config {name!r} (choose from {', '.join(VAURA_CONFIGS)})")
    return replace(VAURA_CONFIGS[name], **overrides)


# ---- the codebook pattern: pure functions ------------------------------------------------------
def to_sequence(codes: torch.Tensor, offsets: list[int], pad: int) -> torch.Tensor:
    """codes [B, K, L] -> sequence [B, K, L + max(offsets)]: level k of frame t at step t + offsets[k],
    ``pad`` where a level has no frame (MusicGen's delay pattern when offsets = 0..K-1)."""
    b, k, length = codes.shape
    out = codes.new_full((b, k, length + max(offsets)), pad)
    for level, off in enumerate(offsets):
        out[:, level, off:off + length] = codes[:, level]
    return out


def from_sequence(seq: torch.Tensor, offsets: list[int], length: int) -> torch.Tensor:
    """Inverse of ``to_sequence`` on the first three dims: [B, K, S, ...] -> [B, K, length, ...]."""
    return torch.stack([seq[:, level, off:off + length] for level, off in enumerate(offsets)], dim=1)


# ---- blocks --------------------------------------------------------------------------------------
def rope(x: torch.Tensor, start: int, base: float) -> torch.Tensor:
    """Rotary positions on x [B, H, n, dh] at positions start ... start + n - 1 (pairs of channels)."""
    n, dh = x.shape[-2], x.shape[-1]
    freq = base ** (-torch.arange(0, dh, 2, device=x.device, dtype=torch.float32) / dh)
    angle = torch.arange(start, start + n, device=x.device, dtype=torch.float32)[:, None] * freq
    cos, sin = angle.cos().to(x.dtype), angle.sin().to(x.dtype)
    x1, x2 = x[..., 0::2], x[..., 1::2]
    return torch.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1).flatten(-2)


class CausalBlock(nn.Module):
    """Pre-RMSNorm block: causal self-attention with RoPE and a KV cache, then SwiGLU."""

    def __init__(self, d: int, heads: int, hidden: int, dropout: float, rope_base: float):
        super().__init__()
        self.heads, self.rope_base, self.dropout = heads, rope_base, dropout
        self.norm1, self.norm2 = nn.RMSNorm(d, eps=1e-5), nn.RMSNorm(d, eps=1e-5)
        self.qkv = nn.Linear(d, 3 * d, bias=False)
        self.out = nn.Linear(d, d, bias=False)
        self.w1, self.w3 = nn.Linear(d, hidden, bias=False), nn.Linear(d, hidden, bias=False)
        self.w2 = nn.Linear(hidden, d, bias=False)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, start: int, past: tuple[torch.Tensor, torch.Tensor] | None):
        """x [B, n, d] at positions start ...; past: (keys, values) [B, H, start, dh] or None.
        Returns (x, (keys, values) including these n positions)."""
        b, n, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        q, k = rope(q, start, self.rope_base), rope(k, start, self.rope_base)
        if past is not None:
            k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)
        p = k.shape[2] - n  # positions before these
        mask, causal = None, n > 1 and p == 0
        if n > 1 and p > 0:  # query i (position p + i) sees keys 0 ... p + i
            mask = torch.arange(p + n, device=x.device)[None, :] <= (p + torch.arange(n, device=x.device))[:, None]
        h = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal,
                                           dropout_p=self.dropout if self.training else 0.0)
        x = x + self.drop(self.out(h.transpose(1, 2).reshape(b, n, d)))
        h = self.norm2(x)
        return x + self.drop(self.w2(F.silu(self.w1(h)) * self.w3(h))), (k, v)


@dataclass
class VisualCondition:
    """``visual: [B, S, visual_width]``: the projected visual features of each sequence step
    ([NULL] where dropped); ``drop: [B]``. Built once per window (``VAURA.condition``)."""

    visual: torch.Tensor
    drop: torch.Tensor

    def repeat(self, n: int) -> "VisualCondition":
        """Each item repeated n times (beams): [B, ...] -> [B * n, ...]."""
        return VisualCondition(self.visual.repeat_interleave(n, 0), self.drop.repeat_interleave(n, 0))

    @staticmethod
    def cat(a: "VisualCondition", b: "VisualCondition") -> "VisualCondition":
        return VisualCondition(torch.cat([a.visual, b.visual]), torch.cat([a.drop, b.drop]))


class VAURA(GeneratorFolder, nn.Module):
    """The V-AURA generator (see the module docstring)."""

    CONFIG = VAURAConfig
    KIND, WHAT = KIND, "a V-AURA model"
    HINT = "pass a V-AURA model folder (e.g. a `maskvat train` run's model/)"

    autoregressive = True  # the pipeline samples it frame by frame (``maskvat.sampling.autoregressive``)

    def __init__(self, config: VAURAConfig):
        super().__init__()
        self.config = cfg = config
        d, dv = cfg.d_model, cfg.visual_width
        self.embed = CodegramEmbedding(cfg.n_levels, cfg.codebook_size, cfg.codec_hidden, d - dv)
        visual_in = (cfg.semantic_dim if cfg.use_semantic else 0) + (cfg.sync_dim if cfg.use_sync else 0)
        self.visual_mlp = Mlp(visual_in, d, dv)
        self.null_visual = nn.Parameter(torch.randn(dv) * 0.02)
        self.blocks = nn.ModuleList(CausalBlock(d, cfg.n_heads, cfg.ffn_hidden, cfg.dropout, cfg.rope_base)
                                    for _ in range(cfg.n_layers))
        self.norm = nn.RMSNorm(d, eps=1e-5)
        self.head = nn.Linear(d, cfg.n_levels * cfg.codebook_size, bias=False)
        self.in_drop = nn.Dropout(cfg.dropout)
        for m in self.modules():  # Llama-style init (std 0.02), as the reference's
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    # ---- conditioning -------------------------------------------------------------------------
    def condition(self, semantic: torch.Tensor | None = None, sync: torch.Tensor | None = None,
                  drop: torch.Tensor | None = None, length: int | None = None) -> VisualCondition:
        """The visual features of every sequence step of a codegram of ``length`` frames (default
        ``max_frames``): each stream repeated to the frame rate, concatenated, projected;
        [NULL] where ``drop``; steps past the last frame read the last frame. -> [B, S, dv]."""
        cfg = self.config
        length = length or cfg.max_frames
        parts = []
        for use, feats, name in ((cfg.use_semantic, semantic, "semantic"), (cfg.use_sync, sync, "sync")):
            if use:
                if feats is None:
                    raise MaskvatError(f"this model (V-AURA) needs {name} features")
                parts.append(nearest_resample(feats.to(self.null_visual.dtype), length))
        h = self.visual_mlp(torch.cat(parts, dim=-1))
        b = h.shape[0]
        drop = torch.zeros(b, dtype=torch.bool, device=h.device) if drop is None else drop.to(h.device)
        h = torch.where(drop[:, None, None], self.null_visual.expand_as(h), h)
        idx = torch.arange(cfg.steps(length), device=h.device).clamp_(max=length - 1)
        return VisualCondition(h[:, idx], drop)

    def condition_pair(self, semantic=None, sync=None, length: int | None = None):
        """(conditional, [NULL]) conditions of the same batch."""
        ref = semantic if semantic is not None else sync
        b = ref.shape[0]
        two = lambda t: None if t is None else torch.cat([t, t])  # noqa: E731
        drop = torch.cat([torch.zeros(b, dtype=torch.bool), torch.ones(b, dtype=torch.bool)])
        both = self.condition(two(semantic), two(sync), drop, length)
        return (VisualCondition(both.visual[:b], both.drop[:b]), VisualCondition(both.visual[b:], both.drop[b:]))

    # ---- the network ---------------------------------------------------------------------------
    def step(self, inputs: torch.Tensor, visual: torch.Tensor, cache: list | None = None, start: int = 0):
        """Run n sequence steps. inputs [B, K, n]: the sequence columns *fed* at these steps (step
        s is fed column s - 1, the BOS column ``pad_id`` at s = 0); visual [B, n, dv] (this
        steps' rows of ``VisualCondition.visual``); cache: the list returned by the previous call
        (None at start = 0). Returns (logits [B, K, n, C] predicting columns start ... start + n - 1,
        the new cache). Pure: the cache passed in is not changed."""
        cfg = self.config
        b, k, n = inputs.shape
        if k != cfg.n_levels:
            raise MaskvatError(f"codes have {k} levels, the model {cfg.n_levels}")
        x = self.in_drop(torch.cat([visual.to(self.null_visual.dtype), self.embed(inputs)], dim=-1))
        new = []
        for i, block in enumerate(self.blocks):
            x, kv = block(x, start, None if cache is None else cache[i])
            new.append(kv)
        logits = self.head(self.norm(x)).view(b, n, k, cfg.codebook_size).permute(0, 2, 1, 3)
        return logits, new

    def sequence_logits(self, codes: torch.Tensor, cond: VisualCondition) -> tuple[torch.Tensor, torch.Tensor]:
        """Teacher forcing over a whole codegram: (logits [B, K, S, C] in sequence order, the
        target sequence [B, K, S] with ``pad_id`` where a level has no frame)."""
        cfg = self.config
        seq = to_sequence(codes, cfg.offsets, cfg.pad_id)
        fed = torch.cat([torch.full_like(seq[:, :, :1], cfg.pad_id), seq[:, :, :-1]], dim=2)
        logits, _ = self.step(fed, cond.visual[:, :seq.shape[-1]])
        return logits, seq

    def forward(self, codes, semantic=None, sync=None, drop=None) -> torch.Tensor:
        """Teacher-forced logits of every token, frame order: [B, K, L, C]; the logit of level k
        of frame t sees the tokens of steps before t + offsets[k] only."""
        length = codes.shape[-1]
        logits, _ = self.sequence_logits(codes, self.condition(semantic, sync, drop, length))
        return from_sequence(logits, self.config.offsets, length)

# ---- the training objective ------------------------------------------------------------------------
def next_token_loss(model: VAURA, codes: torch.Tensor, drop: torch.Tensor, semantic: torch.Tensor | None = None,
                    sync: torch.Tensor | None = None, *, valid: torch.Tensor | None = None
                    ) -> tuple[torch.Tensor, dict]:
    """Teacher-forced next-token cross-entropy over the K heads (V-AURA's ``_compute_loss``: CE per
    level over its real tokens, averaged; every level has the same count, so one mean).

    codes [B, K, L]; drop [B] bool (conditioning dropout to [NULL]); valid [B, L] bool, False on
    padding: padded frames are never in the loss (and come after the real ones, so no real token's
    logit sees them). Returns (loss, {"ce", "loss"} detached)."""
    cfg = model.config
    b, k, length = codes.shape
    cond = model.condition(semantic, sync, drop, length=length)
    logits, seq = model.sequence_logits(codes, cond)
    real = torch.ones(b, k, length, dtype=torch.bool, device=codes.device)
    if valid is not None:
        real = real & valid[:, None, :].to(codes.device)
    in_loss = to_sequence(real, cfg.offsets, False)
    ce = F.cross_entropy(logits[in_loss].float(), seq[in_loss]) if in_loss.any() else logits.sum() * 0
    return ce, {"ce": ce.detach(), "loss": ce.detach()}


@torch.no_grad()
def next_token_accuracy(model: VAURA, codes: torch.Tensor, semantic=None, sync=None, valid=None):
    """(correct [K], counted [K], CE summed over the counted tokens): teacher-forced argmax hits per level."""
    logits = model(codes, semantic, sync)
    real = torch.ones_like(codes, dtype=torch.bool) if valid is None else valid[:, None, :].expand_as(codes)
    hit = (logits.argmax(-1) == codes) & real
    ce = F.cross_entropy(logits[real].float(), codes[real], reduction="sum") if real.any() else logits.sum() * 0
    return hit.sum(dim=(0, 2)), real.sum(dim=(0, 2)), ce
