"""The MaskVAT generator: codegram + visual conditioning -> logits over every codegram position.

    model = MaskVAT(model_config("lab-adaln-b"))
    cond = model.condition(semantic=sem, sync=sync, drop=drop)   # once per generate call
    logits = model.decode(codes, cond)                           # [B, K, L, C]

Inputs: ``codes: [B, K, L]`` long, masked positions hold ``config.mask_id``;
``semantic: [B, Ns, Ds]`` (CLIP role, e.g. 8 fps), ``sync: [B, Ny, Dy]`` (S3D role);
``drop: [B]`` bool, True where the conditioning is replaced by the learned [NULL] tokens
(conditioning dropout in training, the unconditional pass of classifier-free guidance).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from maskvat.errors import MaskvatError
from maskvat.model.folder import GeneratorFolder
from maskvat.model.config import ModelConfig
from maskvat.model.layers import (
    AdaLNBlock,
    CodegramEmbedding,
    CrossAttentionBlock,
    EncoderBlock,
    HybridBlock,
    Mlp,
    modulate,
    nearest_resample,
    sinusoid,
)


@dataclass
class Conditioning:
    """What the decoder reads: ``adaln: [B, L, d]`` (AdaLN/Hybrid), ``memory: [B, 1 + N, d]``
    (Seq2Seq/Hybrid encoder output, [CLS] first), and ``drop: [B]``.

    ``modulation``: the AdaLN scale/shift/gate of every block ([B, L, 6d] each) and of the final
    norm ([B, L, 2d]), computed once by ``MaskVAT.with_modulation`` when the conditioning is fixed
    over many decoder passes (sampling); a third of an AdaLN block's work, done once instead of
    at every step. Not kept by ``repeat``/``cat`` (compute it after them)."""

    adaln: torch.Tensor | None
    memory: torch.Tensor | None
    drop: torch.Tensor
    modulation: tuple[torch.Tensor, ...] | None = None

    def repeat(self, n: int) -> "Conditioning":
        """Each item repeated n times (beams): [B, ...] -> [B * n, ...]."""
        rep = lambda t: None if t is None else t.repeat_interleave(n, dim=0)  # noqa: E731
        return Conditioning(rep(self.adaln), rep(self.memory), rep(self.drop))

    @staticmethod
    def cat(a: "Conditioning", b: "Conditioning") -> "Conditioning":
        join = lambda x, y: None if x is None else torch.cat([x, y])  # noqa: E731
        return Conditioning(join(a.adaln, b.adaln), join(a.memory, b.memory), torch.cat([a.drop, b.drop]))


class MaskVAT(GeneratorFolder, nn.Module):
    CONFIG = ModelConfig
    KIND, WHAT = "maskvat", "a MaskVAT model"
    HINT = "pass a model folder (e.g. a `maskvat train` run's model/), or 'lab'"

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = cfg = config
        d = cfg.d_model
        self.embed = CodegramEmbedding(cfg.n_levels, cfg.codebook_size, cfg.codec_hidden, d)
        self.register_buffer("positions", sinusoid(cfg.max_frames * 4, d), persistent=False)
        # per-stream projections and [NULL] tokens only where the variant reads them (an unused
        # parameter would stop DDP at its second step): AdaLN reads both streams through them,
        # Hybrid's AdaLN blocks the sync stream; the Seq2Seq encoder has its own input MLP.
        if cfg.use_semantic and cfg.variant == "adaln":
            self.semantic_mlp = Mlp(cfg.semantic_dim, d, d)
            self.null_semantic = nn.Parameter(torch.randn(d) * 0.02)
        if cfg.use_sync and cfg.variant in ("adaln", "hybrid"):
            self.sync_mlp = Mlp(cfg.sync_dim, d, d)
            self.null_sync = nn.Parameter(torch.randn(d) * 0.02)
        streams = int(cfg.use_semantic) + int(cfg.use_sync)
        if cfg.variant == "adaln":
            self.cond_proj = nn.Linear(streams * d, d)
            self.blocks = nn.ModuleList(AdaLNBlock(d, cfg.n_heads, cfg.mlp_ratio, cfg.dropout) for _ in range(cfg.n_layers))
        else:
            enc_in = (cfg.semantic_dim if cfg.use_semantic else 0) + (cfg.sync_dim if cfg.use_sync else 0)
            self.enc_in = Mlp(enc_in, d, d)
            self.null_encoder = nn.Parameter(torch.randn(d) * 0.02)
            self.cls = nn.Parameter(torch.randn(d) * 0.02)
            self.encoder = nn.ModuleList(EncoderBlock(d, cfg.n_heads, cfg.mlp_ratio, cfg.dropout) for _ in range(cfg.enc_layers))
            self.enc_norm = nn.LayerNorm(d)
            self.audio_proj = nn.Linear(cfg.audio_dim, d)
            self.logit_scale = nn.Parameter(torch.tensor(2.659))  # log(1 / 0.07), as CLIP
            if cfg.variant == "seq2seq":
                self.blocks = nn.ModuleList(CrossAttentionBlock(d, cfg.n_heads, cfg.mlp_ratio, cfg.dropout) for _ in range(cfg.n_layers))
            else:
                self.blocks = nn.ModuleList(HybridBlock(d, cfg.n_heads, cfg.mlp_ratio, cfg.dropout) for _ in range(cfg.n_layers))
        self.final_norm = nn.LayerNorm(d, elementwise_affine=cfg.variant == "seq2seq", eps=1e-6)
        if cfg.variant != "seq2seq":
            self.final_ada = nn.Sequential(nn.SiLU(), nn.Linear(d, 2 * d))
            nn.init.zeros_(self.final_ada[1].weight)
            nn.init.zeros_(self.final_ada[1].bias)
        self.head = nn.Linear(d, cfg.n_levels * cfg.codebook_size)

    # ---- conditioning ---------------------------------------------------------------------
    def _stream(self, feats: torch.Tensor | None, mlp: nn.Module, null: torch.Tensor, drop: torch.Tensor, name: str):
        if feats is None:
            raise MaskvatError(f"this model ({self.config.variant}) needs {name} features")
        h = mlp(feats.to(null.dtype))
        return torch.where(drop[:, None, None], null.expand_as(h), h)

    def condition(self, semantic: torch.Tensor | None = None, sync: torch.Tensor | None = None,
                  drop: torch.Tensor | None = None, length: int | None = None) -> Conditioning:
        """Project the visual streams once. ``length``: codegram length L (default ``max_frames``)."""
        cfg = self.config
        ref = semantic if semantic is not None else sync
        if ref is None:
            raise MaskvatError("no visual features given")
        b, length = ref.shape[0], length or cfg.max_frames
        drop = torch.zeros(b, dtype=torch.bool, device=ref.device) if drop is None else drop.to(ref.device)
        adaln = memory = None
        if cfg.variant == "adaln":
            parts = []
            if cfg.use_semantic:
                parts.append(nearest_resample(self._stream(semantic, self.semantic_mlp, self.null_semantic, drop, "semantic"), length))
            if cfg.use_sync:
                parts.append(nearest_resample(self._stream(sync, self.sync_mlp, self.null_sync, drop, "sync"), length))
            adaln = self.cond_proj(torch.cat(parts, dim=-1))
        else:
            memory = self._encode_visual(semantic, sync, drop)
            if cfg.variant == "hybrid":
                adaln = nearest_resample(self._stream(sync, self.sync_mlp, self.null_sync, drop, "sync"), length)
        return Conditioning(adaln, memory, drop)

    def condition_pair(self, semantic=None, sync=None, length: int | None = None) -> tuple[Conditioning, Conditioning]:
        """(conditional, [NULL]) conditionings of the same batch, projected in one pass."""
        ref = semantic if semantic is not None else sync
        b = ref.shape[0]
        two = lambda t: None if t is None else torch.cat([t, t])  # noqa: E731
        drop = torch.cat([torch.zeros(b, dtype=torch.bool), torch.ones(b, dtype=torch.bool)])
        both = self.condition(two(semantic), two(sync), drop, length)
        half = lambda t, s: None if t is None else t[s]  # noqa: E731
        first, second = slice(0, b), slice(b, 2 * b)
        return (Conditioning(half(both.adaln, first), half(both.memory, first), both.drop[first]),
                Conditioning(half(both.adaln, second), half(both.memory, second), both.drop[second]))

    def _encode_visual(self, semantic, sync, drop) -> torch.Tensor:
        """Seq2Seq encoder over [semantic ; sync resampled to the semantic length], [CLS] prepended: [B, 1 + N, d]."""
        cfg = self.config
        parts = []
        if cfg.use_semantic:
            if semantic is None:
                raise MaskvatError(f"this model ({cfg.variant}) needs semantic features")
            parts.append(semantic)
        if cfg.use_sync:
            if sync is None:
                raise MaskvatError(f"this model ({cfg.variant}) needs sync features")
            parts.append(nearest_resample(sync, parts[0].shape[1]) if parts else sync)
        h = self.enc_in(torch.cat(parts, dim=-1).to(self.cls.dtype))
        h = torch.where(drop[:, None, None], self.null_encoder.expand_as(h), h)
        h = torch.cat([self.cls.expand(h.shape[0], 1, -1), h], dim=1) + self.positions[: h.shape[1] + 1]
        for block in self.encoder:
            h = block(h)
        return self.enc_norm(h)

    # ---- decoding --------------------------------------------------------------------------
    def with_modulation(self, cond: Conditioning) -> Conditioning:
        """``cond`` with the AdaLN modulations of every block computed once (see ``Conditioning``);
        decoding with it gives the same logits. Seq2Seq has none: ``cond`` is returned as it is."""
        if cond.adaln is None:
            return cond
        mods = tuple(block.modulation(cond.adaln) for block in self.blocks) + (self.final_ada(cond.adaln),)
        return replace(cond, modulation=mods)

    def decode(self, codes: torch.Tensor, cond: Conditioning) -> torch.Tensor:
        """codes [B, K, L] (mask id where masked) -> logits [B, K, L, C]."""
        cfg = self.config
        b, k, length = codes.shape
        if k != cfg.n_levels:
            raise MaskvatError(f"codes have {k} levels, the model {cfg.n_levels}")
        mods = cond.modulation or (None,) * (len(self.blocks) + 1)
        x = self.embed(codes) + self.positions[:length]
        for block, mod in zip(self.blocks, mods):
            if cfg.variant == "adaln":
                x = block(x, cond.adaln, mod)
            elif cfg.variant == "seq2seq":
                x = block(x, cond.memory)
            else:
                x = block(x, cond.adaln, cond.memory, mod)
        x = self.final_norm(x)
        if cfg.variant != "seq2seq":
            final = self.final_ada(cond.adaln) if mods[-1] is None else mods[-1]
            shift, scale = final.chunk(2, dim=-1)
            x = modulate(x, shift, scale)
        return self.head(x).view(b, length, k, cfg.codebook_size).permute(0, 2, 1, 3)

    def forward(self, codes, semantic=None, sync=None, drop=None) -> torch.Tensor:
        return self.decode(codes, self.condition(semantic, sync, drop, length=codes.shape[-1]))

    # ---- auxiliary losses (Seq2Seq / Hybrid) -------------------------------------------------
    def auxiliary_losses(self, cond: Conditioning, audio: torch.Tensor) -> dict[str, torch.Tensor]:
        """MSE between the encoder's sequence and Linear(audio features) resampled to it, and the
        CLIP-style contrastive loss between [CLS] and the mean projected audio embedding.

        audio: [B, Na, Da]. Items whose conditioning was dropped are left out. {} for AdaLN.
        """
        if cond.memory is None:
            return {}
        keep = ~cond.drop
        # a batch with fewer than two kept items still touches every auxiliary parameter (with
        # zero gradient), so that DDP finds them all in every step
        zero = (cond.memory.sum() + self.logit_scale + sum(p.sum() for p in self.audio_proj.parameters())) * 0
        if keep.sum() < 1:
            return {"mse": zero, "contrastive": zero}
        seq, cls = cond.memory[keep, 1:], cond.memory[keep, 0]
        target = nearest_resample(self.audio_proj(audio[keep].to(seq.dtype)), seq.shape[1])
        mse = F.mse_loss(seq, target)
        if keep.sum() < 2:
            return {"mse": mse, "contrastive": zero}
        v, a = F.normalize(cls, dim=-1), F.normalize(target.mean(1), dim=-1)
        logits = self.logit_scale.exp().clamp(max=100) * v @ a.t()
        labels = torch.arange(len(v), device=v.device)
        contrastive = 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels))
        return {"mse": mse, "contrastive": contrastive}
