"""Synchformer (Iashin, Xie, Rahtu, Zisserman, ICASSP 2024, "Synchformer: Efficient
Synchronization from Sparse Cues"): the audio-visual offset classifier behind the field's DeSync,
as MMAudio's av-benchmark builds it (``av_bench/synchformer/synchformer.py``: ``Synchformer()``
loaded strictly from ``synchformer_state_dict.pth``, the ``"model"`` state dict of the authors'
AudioSet checkpoint). The per-metric arithmetic (segments, windows, DeSync) is in
``evaluation.desync``.

Sources read for the design (v-iashin/Synchformer unless named):

- ``model/sync_model.py`` (``Synchformer``, ``GlobalTransformer``) and ``configs/sync.yaml``: the
  parts and their sizes (n_layer 3, n_head 8, n_embd 768, a 198-long positional embedding, an
  offset head of 21 classes, ``max_off_sec`` 2, 14 segments of 16 frames);
  ``model/modules/transformer.py``: the minGPT blocks.
- ``model/modules/feat_extractors/visual/motionformer.py`` and ``motionformer_src/
  video_model_builder.py``, ``vit_helper.py`` (``DividedSpaceTimeBlock``, ``DividedAttention``,
  ``PatchEmbed3D``), with facebookresearch/Motionformer ``configs/SSV2/divided_224_16x4.yaml``
  (patch 16, tubelet 2, 768-d, 12 blocks of 12 heads, qkv bias, 8 temporal positions).
- ``model/modules/feat_extractors/audio/ast.py`` and ``hf_src/modeling_ast.py`` (transformers'
  AST of v4.27, the names the checkpoint keeps; ``max_spec_t`` 66).
- av-benchmark's copies (read in its forks SonyResearch/soundreactor_v2a_eval and
  jnwnlee/av-benchmark): ``av_bench/synchformer/{synchformer,motionformer,transformer}.py``.

State-dict keys (the published layout; ``tests/evaluation/test_synchformer.py`` lists them
with their shapes for the published config):

  vfeat_extractor.{cls_token, pos_embed [1, 197, 768], temp_embed [1, 8, 768]}
  vfeat_extractor.patch_embed.proj.*            Conv2d(3, 768, 16, 16): kept, not used (as in the reference)
  vfeat_extractor.patch_embed_3d.proj.*         Conv3d(3, 768, (2, 16, 16), stride the same)
  vfeat_extractor.blocks.0..11.{norm1, attn.qkv, attn.proj, timeattn.qkv, timeattn.proj,
                                norm2, mlp.fc1, mlp.fc2, norm3}.*
  vfeat_extractor.norm.*; vfeat_extractor.spatial_attn_agg.*  (a torch TransformerEncoderLayer + cls_token)
  afeat_extractor.ast.embeddings.{cls_token, distillation_token, position_embeddings [1, 74, 768],
                                  patch_embeddings.projection.*}
  afeat_extractor.ast.encoder.layer.0..11.{attention.attention.{query,key,value},
        attention.output.dense, intermediate.dense, output.dense, layernorm_before, layernorm_after}.*
  afeat_extractor.ast.layernorm.*; afeat_extractor.freq_attn_agg.*
  vproj.*, aproj.*                              Linear(768, 768)
  transformer.{OFF_tok, MOD_tok, vis_in_lnorm, aud_in_lnorm, pos_emb_cfg.pos_emb [1, 198, 768],
               blocks.0..2.{ln1, ln2, attn.{key,query,value,proj}, mlp.0, mlp.2}, ln_f, off_head [21, 768]}.*

Forward (eval; every dropout and drop-path is off at inference):

- Video tower (MotionFormer, divided space-time attention): one segment [3, 16, 224, 224] ->
  tubelets of 2 x 16 x 16 -> 8 x 196 tokens + position (``pos_embed`` per patch, ``temp_embed``
  per time step, a CLS token) -> 12 blocks, each x += time-attention(norm3 x) (every patch with
  its own 8 time steps), x += space-attention(norm1 x) (every time step's 196 patches), x +=
  MLP(norm2 x); in both attentions the CLS token attends to all tokens and every group also
  attends to the CLS token -> norm (eps 1e-6), CLS dropped -> per time step, a pre-norm encoder
  layer with its own CLS token pools the 196 patches -> [8, 768].
- Audio tower (AST): one segment's normalised log-mel [66 frames, 128 bands] -> 16 x 16 patches
  with stride 10 (12 bands x 6 times) + CLS and distillation tokens -> 12 pre-norm blocks
  (eps 1e-12, exact GELU) -> layernorm -> the 72 patch tokens, per time step a pre-norm encoder
  layer with its own CLS token pools the 12 bands -> [6, 768].
- Sync transformer: vproj / aproj, each stream layer-normed, flattened over segments, the
  sequence [OFF, 14 x 8 video, MOD, 14 x 6 audio] + positional embedding (198) -> 3 minGPT blocks
  (8 heads) -> ln_f -> ``off_head`` on the OFF token: logits [21] over the offsets
  ``linspace(-2, 2, 21)`` s (``offset_grid``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from maskvat.errors import MaskvatError
from maskvat.evaluation.passt import Mlp  # fc1, exact GELU, fc2: vit_helper.Mlp's names too
from maskvat.weights import load_checkpoint, load_exact, published_file


@dataclass(frozen=True)
class SynchformerConfig:
    """The network's sizes. The defaults are the published model (``configs/sync.yaml``,
    Motionformer's ``divided_224_16x4.yaml``, transformers' default ``ASTConfig``); smaller ones
    are for tests. Segment timing (16 frames at 25 fps, 66 mel frames of 128 bands) is fixed by
    the front end (``evaluation.desync``) and kept by every config."""

    dim: int = 768  # both towers and the sync transformer
    heads: int = 12  # the towers and their pooling layers
    video_depth: int = 12
    audio_depth: int = 12
    image: int = 224
    patch: int = 16
    tubelet: int = 2
    frames: int = 16  # per segment
    mels: int = 128
    spec_frames: int = 66  # AST's max_spec_t: 65 STFT frames of a 0.64 s segment, padded by one
    audio_stride: int = 10
    sync_depth: int = 3
    sync_heads: int = 8
    segments: int = 14  # per window the sync transformer reads
    classes: int = 21
    max_offset: float = 2.0  # seconds, the grid's ends

    @property
    def video_tokens(self) -> int:
        """Time steps per video segment after the tubelets (8)."""
        return self.frames // self.tubelet

    @property
    def patches(self) -> int:
        """Spatial patches per frame (196)."""
        return (self.image // self.patch) ** 2

    @property
    def audio_grid(self) -> tuple[int, int]:
        """AST's (bands, times) of patches per segment ((12, 6)), as ``ASTEmbeddings.get_shape``."""
        return ((self.mels - self.patch) // self.audio_stride + 1, (self.spec_frames - self.patch) // self.audio_stride + 1)

    @property
    def sequence(self) -> int:
        """The sync transformer's sequence: OFF + video tokens + MOD + audio tokens (198)."""
        return 2 + self.segments * (self.video_tokens + self.audio_grid[1])


PUBLISHED = SynchformerConfig()


def offset_grid(config: SynchformerConfig = PUBLISHED) -> np.ndarray:
    """The offset classes, seconds [classes]: ``linspace(-max_offset, max_offset, classes)``
    (av-benchmark's ``evaluate.py`` calls ``make_class_grid(-2, 2, 21)``, a float32
    ``np.linspace`` in its ``av_bench/synchformer/synchformer.py``: -2.0, -1.8, ..., 2.0)."""
    return np.linspace(-config.max_offset, config.max_offset, config.classes).astype(np.float32)


# ---- pooling layers (the towers' aggregation) -----------------------------------------------------
class PoolingLayer(nn.TransformerEncoderLayer):
    """torch's pre-norm encoder layer (GELU, eps 1e-6, feed-forward 4 x dim) with a learned CLS
    token in front; [N, L, D] -> the CLS output [N, D]. Synchformer's ``BaseEncoderLayer``
    (``motionformer.py``), the spatial and frequency aggregators of the towers."""

    def __init__(self, dim: int, heads: int):
        super().__init__(d_model=dim, nhead=heads, dim_feedforward=4 * dim, dropout=0.0, activation=nn.GELU(),
                         layer_norm_eps=1e-6, batch_first=True, norm_first=True)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.cat((self.cls_token.expand(len(x), -1, -1), x), dim=1)
        return super().forward(x)[:, 0]


# ---- video tower ----------------------------------------------------------------------------------
class DividedAttention(nn.Module):
    """Multi-head attention within groups of tokens plus a CLS token (``vit_helper.DividedAttention``).

    x [B, 1 + F * P, D]: a CLS token, then F frames of P patches (frame-major). ``over="time"``:
    each patch's F tokens form a group; ``over="space"``: each frame's P tokens. The CLS query
    attends to all 1 + F * P tokens; a group's queries attend to the CLS token and their group.
    Returns [B, 1 + F * P, D] after the output projection."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, frames: int, over: str) -> torch.Tensor:
        b, n, d = x.shape
        patches = (n - 1) // frames
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)  # [B, h, n, dh]
        cls = F.scaled_dot_product_attention(q[:, :, :1], k, v)  # [B, h, 1, dh]

        def grouped(t: torch.Tensor) -> torch.Tensor:  # [B, h, F*P, dh] -> [B, h, G, L, dh]
            t = t[:, :, 1:].unflatten(2, (frames, patches))
            return t.transpose(2, 3) if over == "time" else t

        if over not in ("time", "space"):
            raise ValueError(over)
        qg, kg, vg = grouped(q), grouped(k), grouped(v)
        g = qg.shape[2]
        kg = torch.cat((k[:, :, None, :1].expand(-1, -1, g, -1, -1), kg), dim=3)
        vg = torch.cat((v[:, :, None, :1].expand(-1, -1, g, -1, -1), vg), dim=3)
        out = F.scaled_dot_product_attention(qg, kg, vg)  # [B, h, G, L, dh]
        out = (out.transpose(2, 3) if over == "time" else out).flatten(2, 3)
        out = torch.cat((cls, out), dim=2).transpose(1, 2).reshape(b, n, d)
        return self.proj(out)


class DividedBlock(nn.Module):
    """``vit_helper.DividedSpaceTimeBlock``: time attention (norm3), space attention (norm1), MLP
    (norm2), each residual; LayerNorm eps 1e-6."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = DividedAttention(dim, heads)
        self.timeattn = DividedAttention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, 4 * dim)
        self.norm3 = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, x: torch.Tensor, frames: int) -> torch.Tensor:
        x = x + self.timeattn(self.norm3(x), frames, "time")
        x = x + self.attn(self.norm1(x), frames, "space")
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    def __init__(self, conv: nn.Module):
        super().__init__()
        self.proj = conv


class MotionFormer(nn.Module):
    """Video segments [N, 3, frames, image, image] (normalised to [-1, 1]) -> [N, frames / 2, D]
    (see the module doc)."""

    def __init__(self, c: SynchformerConfig = PUBLISHED):
        super().__init__()
        self.config = c
        self.patch_embed = PatchEmbed(nn.Conv2d(3, c.dim, c.patch, stride=c.patch))  # unused, as in the reference
        self.patch_embed_3d = PatchEmbed(nn.Conv3d(3, c.dim, (c.tubelet, c.patch, c.patch),
                                                   stride=(c.tubelet, c.patch, c.patch)))
        self.cls_token = nn.Parameter(torch.zeros(1, 1, c.dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, c.patches + 1, c.dim))
        self.temp_embed = nn.Parameter(torch.zeros(1, c.video_tokens, c.dim))
        self.blocks = nn.ModuleList(DividedBlock(c.dim, c.heads) for _ in range(c.video_depth))
        self.norm = nn.LayerNorm(c.dim, eps=1e-6)
        self.spatial_attn_agg = PoolingLayer(c.dim, c.heads)

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        c = self.config
        if tuple(video.shape[1:]) != (3, c.frames, c.image, c.image):
            raise MaskvatError(f"Synchformer's video tower needs segments [N, 3, {c.frames}, {c.image}, {c.image}], "
                               f"got {tuple(video.shape)}")
        x = self.patch_embed_3d.proj(video).flatten(2).transpose(1, 2)  # [N, t * P, D], time-major
        t, p = c.video_tokens, c.patches
        pos = self.pos_embed[:, 1:].repeat(1, t, 1) + self.temp_embed.repeat_interleave(p, dim=1)
        x = torch.cat(((self.cls_token + self.pos_embed[:, :1]).expand(len(x), -1, -1), x + pos), dim=1)
        for block in self.blocks:
            x = block(x, t)
        x = self.norm(x[:, 1:])  # [N, t * P, D]
        return self.spatial_attn_agg.pool(x.reshape(len(x) * t, p, -1)).view(len(x), t, -1)


# ---- audio tower (transformers' AST, v4 module names) --------------------------------------------------
class Dense(nn.Module):
    def __init__(self, n_in: int, n_out: int):
        super().__init__()
        self.dense = nn.Linear(n_in, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dense(x)


class ASTSelfAttention(nn.Module):
    """Multi-head attention with separate query, key and value projections (no output projection)."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.query = nn.Linear(dim, dim)
        self.key = nn.Linear(dim, dim)
        self.value = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = (lin(x).view(b, n, self.heads, d // self.heads).transpose(1, 2)
                   for lin in (self.query, self.key, self.value))
        return F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, n, d)


class ASTAttention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.attention = ASTSelfAttention(dim, heads)
        self.output = Dense(dim, dim)


class ASTLayer(nn.Module):
    """Pre-norm block: x += out(attn(layernorm_before x)); x += output(gelu(intermediate(layernorm_after x)))."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.attention = ASTAttention(dim, heads)
        self.intermediate = Dense(dim, 4 * dim)
        self.output = Dense(4 * dim, dim)
        self.layernorm_before = nn.LayerNorm(dim, eps=1e-12)
        self.layernorm_after = nn.LayerNorm(dim, eps=1e-12)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attention.output(self.attention.attention(self.layernorm_before(x)))
        return x + self.output(F.gelu(self.intermediate(self.layernorm_after(x))))


class ASTEncoder(nn.Module):
    def __init__(self, dim: int, heads: int, depth: int):
        super().__init__()
        self.layer = nn.ModuleList(ASTLayer(dim, heads) for _ in range(depth))


class ASTPatchEmbeddings(nn.Module):
    def __init__(self, dim: int, patch: int, stride: int):
        super().__init__()
        self.projection = nn.Conv2d(1, dim, patch, stride=stride)


class ASTEmbeddings(nn.Module):
    def __init__(self, c: SynchformerConfig):
        super().__init__()
        self.cls_token = nn.Parameter(torch.zeros(1, 1, c.dim))
        self.distillation_token = nn.Parameter(torch.zeros(1, 1, c.dim))
        self.patch_embeddings = ASTPatchEmbeddings(c.dim, c.patch, c.audio_stride)
        f, t = c.audio_grid
        self.position_embeddings = nn.Parameter(torch.zeros(1, f * t + 2, c.dim))


class ASTModel(nn.Module):
    """transformers' ``ASTModel`` (v4 names, the checkpoint's): spectrogram [N, T, F] (time
    frames x mel bands) -> last hidden state [N, 2 + f * t, D] (CLS, distillation, then the
    patches band-major), after the final layernorm."""

    def __init__(self, c: SynchformerConfig = PUBLISHED):
        super().__init__()
        self.embeddings = ASTEmbeddings(c)
        self.encoder = ASTEncoder(c.dim, c.heads, c.audio_depth)
        self.layernorm = nn.LayerNorm(c.dim, eps=1e-12)

    def forward(self, spec: torch.Tensor) -> torch.Tensor:
        e = self.embeddings
        x = e.patch_embeddings.projection(spec.unsqueeze(1).transpose(2, 3)).flatten(2).transpose(1, 2)
        n = len(x)
        x = torch.cat((e.cls_token.expand(n, -1, -1), e.distillation_token.expand(n, -1, -1), x), dim=1)
        x = x + e.position_embeddings
        for layer in self.encoder.layer:
            x = layer(x)
        return self.layernorm(x)


class AudioTower(nn.Module):
    """Spectrogram segments [N, 66, 128] (normalised log-mel, time x bands) -> [N, 6, D]:
    AST, then per time step the bands pooled (``ast.py``'s ``FrequencyTransformerEncoderLayer``)."""

    def __init__(self, c: SynchformerConfig = PUBLISHED):
        super().__init__()
        self.config = c
        self.ast = ASTModel(c)
        self.freq_attn_agg = PoolingLayer(c.dim, c.heads)

    def forward(self, spec: torch.Tensor) -> torch.Tensor:
        c = self.config
        if tuple(spec.shape[1:]) != (c.spec_frames, c.mels):
            raise MaskvatError(f"Synchformer's audio tower needs segments [N, {c.spec_frames}, {c.mels}], "
                               f"got {tuple(spec.shape)}")
        f, t = c.audio_grid
        x = self.ast(spec)[:, 2:].unflatten(1, (f, t)).transpose(1, 2)  # [N, t, f, D]
        return self.freq_attn_agg.pool(x.flatten(0, 1)).view(len(spec), t, -1)


# ---- sync transformer -----------------------------------------------------------------------------------
class GPTAttention(ASTSelfAttention):
    """minGPT's ``SelfAttention`` (no mask): AST's query / key / value attention, then ``proj``."""

    def __init__(self, dim: int, heads: int):
        super().__init__(dim, heads)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(super().forward(x))


class GPTBlock(nn.Module):
    """minGPT's block without a causal mask (``model/modules/transformer.py``): pre-norm
    attention and MLP (Linear, GELU, Linear), LayerNorm eps 1e-5."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.ln1 = nn.LayerNorm(dim)
        self.ln2 = nn.LayerNorm(dim)
        self.attn = GPTAttention(dim, heads)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class PositionalEmbedding(nn.Module):
    def __init__(self, length: int, dim: int):
        super().__init__()
        self.pos_emb = nn.Parameter(torch.zeros(1, length, dim))


class SyncTransformer(nn.Module):
    """``GlobalTransformer``: video tokens [B, Nv, D], audio tokens [B, Na, D] -> offset logits
    [B, classes]; Nv + Na + 2 must be the positional embedding's length."""

    def __init__(self, c: SynchformerConfig = PUBLISHED):
        super().__init__()
        self.vis_in_lnorm = nn.LayerNorm(c.dim)
        self.aud_in_lnorm = nn.LayerNorm(c.dim)
        self.OFF_tok = nn.Parameter(torch.zeros(1, 1, c.dim))
        self.MOD_tok = nn.Parameter(torch.zeros(1, 1, c.dim))
        self.pos_emb_cfg = PositionalEmbedding(c.sequence, c.dim)
        self.blocks = nn.Sequential(*(GPTBlock(c.dim, c.sync_heads) for _ in range(c.sync_depth)))
        self.ln_f = nn.LayerNorm(c.dim)
        self.off_head = nn.Linear(c.dim, c.classes)

    def forward(self, video: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        b = len(video)
        x = torch.cat((self.OFF_tok.expand(b, -1, -1), self.vis_in_lnorm(video),
                       self.MOD_tok.expand(b, -1, -1), self.aud_in_lnorm(audio)), dim=1)
        pos = self.pos_emb_cfg.pos_emb
        if x.shape[1] != pos.shape[1]:
            raise MaskvatError(f"Synchformer reads {pos.shape[1]} tokens (OFF, video, MOD, audio), got {x.shape[1]}")
        return self.off_head(self.ln_f(self.blocks(x + pos))[:, 0])


class Synchformer(nn.Module):
    """The whole model (see the module doc). ``video_features`` and ``audio_features`` run the
    towers segment by segment; ``offset_logits`` compares one window of ``config.segments``
    segments of each."""

    def __init__(self, config: SynchformerConfig = PUBLISHED):
        super().__init__()
        self.config = config
        self.vfeat_extractor = MotionFormer(config)
        self.afeat_extractor = AudioTower(config)
        self.vproj = nn.Linear(config.dim, config.dim)
        self.aproj = nn.Linear(config.dim, config.dim)
        self.transformer = SyncTransformer(config)

    def video_features(self, segments: torch.Tensor, chunk: int = 4) -> torch.Tensor:
        """Video segments [S, frames, 3, image, image] (normalised, frame-major as av-benchmark
        stacks them) -> [S, 8, D]; ``chunk`` segments at a time (memory)."""
        x = segments.transpose(1, 2)  # [S, 3, frames, H, W]
        return torch.cat([self.vfeat_extractor(x[i:i + chunk]) for i in range(0, len(x), chunk)])

    def audio_features(self, spec: torch.Tensor, chunk: int = 8) -> torch.Tensor:
        """Spectrogram segments [S, 66, 128] (``desync.mel_segments``) -> [S, 6, D]."""
        return torch.cat([self.afeat_extractor(spec[i:i + chunk]) for i in range(0, len(spec), chunk)])

    def offset_logits(self, video: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        """Tower features of one window, video [B, segments, 8, D] and audio [B, segments, 6, D]
        -> logits [B, classes] over ``offset_grid``. MaskvatError for another window length."""
        c = self.config
        if video.shape[1] != c.segments or audio.shape[1] != c.segments:
            raise MaskvatError(f"Synchformer compares windows of {c.segments} segments, got {video.shape[1]} (video) "
                               f"and {audio.shape[1]} (audio)")
        v = self.vproj(video).flatten(1, 2)
        a = self.aproj(audio).flatten(1, 2)
        return self.transformer(v, a)


def load_synchformer(source: str | os.PathLike, config: SynchformerConfig = PUBLISHED) -> Synchformer:
    """The published Synchformer weights -> Synchformer in eval mode (``config``: the published
    one; others are for tests).

    ``source``: av-benchmark's ``synchformer_state_dict.pth`` (a bare state dict) or the
    authors' ``24-01-04T16-39-21.pt`` (the state dict under ``"model"``, beside its training
    state); a file, a folder holding one, or a hub id whose snapshot (local cache first) holds
    one. A positional embedding longer than 198 is cut to its first 198, as Synchformer's own
    ``load_state_dict`` does. MaskvatError (one line, naming the file) for a missing,
    unreadable or incompatible file."""
    file = published_file(source, "Synchformer checkpoint",
                          hint="pass the path of synchformer_state_dict.pth (av-benchmark's) or 24-01-04T16-39-21.pt")
    ckpt = load_checkpoint(file, "a Synchformer checkpoint")
    state = ckpt.get("model", ckpt) if isinstance(ckpt, dict) else ckpt
    key = "transformer.pos_emb_cfg.pos_emb"
    if not isinstance(state, dict) or not isinstance(state.get(key), torch.Tensor):
        raise MaskvatError(f"{file}: not a Synchformer checkpoint (no {key})")
    state = dict(state)
    if state[key].ndim == 3 and state[key].shape[1] > config.sequence:
        state[key] = state[key][:, :config.sequence]
    return load_exact(Synchformer(config), state, file, "Synchformer").eval()
