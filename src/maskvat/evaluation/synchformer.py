"""Synchformer (Iashin et al., ICASSP 2024, "Synchformer: efficient synchronization from sparse
cues") and DeSync as MMAudio's av-benchmark computes it: the offset class (21 classes, -2 .. +2 s
in 0.2 s steps) that Synchformer predicts between the reference video and the generated sound,
|offset| in seconds, averaged over the first and the last 4.8 s of the clip, then over clips.

Architecture (written from the published design; module names and shapes are those of the
published ``synchformer_state_dict.pth`` that av-benchmark and MMAudio load, so it loads as is):

- ``vfeat_extractor`` (MotionFormer, divided space-time ViT-B/16): 16-frame segments of 224 x 224
  RGB at 25 fps, normalised to [-1, 1] -> 3D patches (2 x 16 x 16) -> 12 blocks (time attention,
  then space attention, then MLP) -> per segment, a transformer layer with a CLS token pools the
  14 x 14 patches of each of the 8 time steps: [B, S, 8, 768].
- ``afeat_extractor`` (AST, the audio spectrogram transformer): 0.64 s audio segments at 16 kHz
  -> log-mel (1024-point FFT, 400-sample Hann window, 160 hop, 128 HTK mel bands, log(x + 1e-6),
  66 frames, (x + 4.2677393) / (2 x 4.5689974)) -> 16 x 16 patches, stride 10 -> 12 layers ->
  per time column a transformer layer with a CLS token pools the 12 frequency patches: [B, S, 6, 768].
- ``transformer`` (3 layers, 8 heads): [OFF token, 14 x 8 video tokens, MOD token, 14 x 6 audio
  tokens] with learned positions -> the OFF token's 21 offset logits.

Segments: video 16 frames every 8 (0.64 s every 0.32 s), audio 10240 samples every 5120; 14
segments cover 4.8 s. No weights ship: ``DeSyncScorer.from_pretrained`` takes a local checkpoint
(a state dict, or one under "model"/"state_dict") or a hub id whose snapshot holds one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import librosa
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from maskvat.evaluation.panns import load_checkpoint, load_exact
from maskvat.media import decode_frames, probe, resample

SAMPLE_RATE = 16000
FPS = 25.0
FRAME_SIZE = 224
SEGMENT_FRAMES, FRAME_STEP = 16, 8
SEGMENT_SAMPLES, SAMPLE_STEP = 10240, 5120
WINDOW_SEGMENTS = 14  # 4.8 s
WINDOW_SECONDS = (WINDOW_SEGMENTS - 1) * FRAME_STEP / FPS + SEGMENT_FRAMES / FPS
MEL_FRAMES = 66
MEL_MEAN, MEL_STD = -4.2677393, 4.5689974
OFFSETS = np.linspace(-2.0, 2.0, 21)  # seconds, the 21 offset classes


@dataclass(frozen=True)
class SynchformerConfig:
    """Sizes (defaults: the published model). Smaller ones only serve tests."""

    dim: int = 768
    depth: int = 12
    heads: int = 12
    audio_depth: int = 12
    audio_heads: int = 12
    global_depth: int = 3
    global_heads: int = 8


# ---- video: MotionFormer ----------------------------------------------------------------------
class _Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class _DividedAttention(nn.Module):
    """Attention within groups of tokens (one frame's patches, or one patch across frames); the
    CLS token (first) attends to every token, and every group also attends to it."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, dim * 3, bias=True)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, frames: int, patches: int, over_time: bool) -> torch.Tensor:
        b, n, d = x.shape
        h = self.heads
        q, k, v = (t.reshape(b, n, h, d // h).transpose(1, 2) for t in self.qkv(x).chunk(3, dim=-1))  # [b, h, n, dh]
        cls_out = F.scaled_dot_product_attention(q[:, :, :1], k, v)  # [b, h, 1, dh]

        def group(t):  # [b, h, f*p, dh] -> [b*G, h, L, dh]
            t = t.reshape(b, h, frames, patches, -1)
            t = t.permute(0, 3, 1, 2, 4) if over_time else t.permute(0, 2, 1, 3, 4)
            return t.reshape(-1, h, t.shape[-2], t.shape[-1])

        qg, kg, vg = group(q[:, :, 1:]), group(k[:, :, 1:]), group(v[:, :, 1:])
        reps = qg.shape[0] // b
        kg = torch.cat([k[:, :, :1].repeat_interleave(reps, 0), kg], dim=2)
        vg = torch.cat([v[:, :, :1].repeat_interleave(reps, 0), vg], dim=2)
        out = F.scaled_dot_product_attention(qg, kg, vg)  # [b*G, h, L, dh]
        groups = patches if over_time else frames
        out = out.reshape(b, groups, h, out.shape[-2], -1)
        out = out.permute(0, 2, 3, 1, 4) if over_time else out.permute(0, 2, 1, 3, 4)  # [b, h, f, p, dh]
        out = torch.cat([cls_out, out.reshape(b, h, frames * patches, -1)], dim=2)
        return self.proj(out.transpose(1, 2).reshape(b, n, d))


class _DividedBlock(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.norm1, self.norm2, self.norm3 = (nn.LayerNorm(dim, eps=1e-6) for _ in range(3))
        self.attn = _DividedAttention(dim, heads)
        self.timeattn = _DividedAttention(dim, heads)
        self.mlp = _Mlp(dim, 4 * dim)

    def forward(self, x, frames: int, patches: int):
        x = x + self.timeattn(self.norm3(x), frames, patches, over_time=True)
        x = x + self.attn(self.norm1(x), frames, patches, over_time=False)
        return x + self.mlp(self.norm2(x))


class _PoolLayer(nn.TransformerEncoderLayer):
    """A pre-norm transformer layer over [N, L, D] with a learned CLS token prepended; -> [N, D]."""

    def __init__(self, dim: int, heads: int):
        super().__init__(d_model=dim, nhead=heads, dim_feedforward=4 * dim, dropout=0.0, activation=nn.GELU(),
                         layer_norm_eps=1e-6, batch_first=True, norm_first=True)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        x = torch.cat([self.cls_token.expand(len(x), -1, -1), x], dim=1)
        return super().forward(x)[:, 0]


class _PatchEmbed(nn.Module):
    def __init__(self, dim: int, temporal: bool):
        super().__init__()
        self.proj = nn.Conv3d(3, dim, (2, 16, 16), stride=(2, 16, 16)) if temporal else nn.Conv2d(3, dim, 16, stride=16)


class MotionFormer(nn.Module):
    """Segments [N, 3, 16, 224, 224] -> [N, 8, D]."""

    def __init__(self, cfg: SynchformerConfig):
        super().__init__()
        d = cfg.dim
        self.patch_embed = _PatchEmbed(d, temporal=False)  # in the checkpoint; unused (3D patches are)
        self.patch_embed_3d = _PatchEmbed(d, temporal=True)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d))
        self.pos_embed = nn.Parameter(torch.zeros(1, 197, d))
        self.temp_embed = nn.Parameter(torch.zeros(1, 8, d))
        self.blocks = nn.ModuleList(_DividedBlock(d, cfg.heads) for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(d, eps=1e-6)
        self.spatial_attn_agg = _PoolLayer(d, cfg.heads)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = len(x)
        x = self.patch_embed_3d.proj(x)  # [N, D, 8, 14, 14]
        d, t, hh, ww = x.shape[1:]
        x = x.flatten(2).transpose(1, 2)  # [N, t*h*w, D], time-major
        pos = self.pos_embed[:, 1:].repeat(1, t, 1) + self.temp_embed[:, :t].repeat_interleave(hh * ww, 1)
        x = torch.cat([self.cls_token.expand(n, -1, -1), x], 1) + torch.cat([self.pos_embed[:, :1], pos], 1)
        for blk in self.blocks:
            x = blk(x, t, hh * ww)
        x = self.norm(x[:, 1:])  # [N, t*h*w, D]
        x = x.reshape(n * t, hh * ww, d)
        return self.spatial_attn_agg(x).reshape(n, t, d)


# ---- audio: AST -----------------------------------------------------------------------------------
class _ASTSelfAttention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.query, self.key, self.value = nn.Linear(dim, dim), nn.Linear(dim, dim), nn.Linear(dim, dim)

    def forward(self, x):
        b, n, d = x.shape
        q, k, v = (m(x).reshape(b, n, self.heads, -1).transpose(1, 2) for m in (self.query, self.key, self.value))
        return F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, n, d)


class _Dense(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.dense = nn.Linear(cin, cout)


class _ASTAttention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.attention = _ASTSelfAttention(dim, heads)
        self.output = _Dense(dim, dim)


class _ASTLayer(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.attention = _ASTAttention(dim, heads)
        self.intermediate = _Dense(dim, 4 * dim)
        self.output = _Dense(4 * dim, dim)
        self.layernorm_before = nn.LayerNorm(dim, eps=1e-12)
        self.layernorm_after = nn.LayerNorm(dim, eps=1e-12)

    def forward(self, x):
        x = x + self.attention.output.dense(self.attention.attention(self.layernorm_before(x)))
        return x + self.output.dense(F.gelu(self.intermediate.dense(self.layernorm_after(x))))


class _ASTPatches(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.projection = nn.Conv2d(1, dim, 16, stride=10)


class _ASTEmbeddings(nn.Module):
    F_PATCHES, T_PATCHES = (128 - 16) // 10 + 1, (MEL_FRAMES - 16) // 10 + 1  # 12, 6

    def __init__(self, dim: int):
        super().__init__()
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.distillation_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.patch_embeddings = _ASTPatches(dim)
        self.position_embeddings = nn.Parameter(torch.zeros(1, self.F_PATCHES * self.T_PATCHES + 2, dim))


class _ASTEncoder(nn.Module):
    def __init__(self, dim: int, heads: int, depth: int):
        super().__init__()
        self.layer = nn.ModuleList(_ASTLayer(dim, heads) for _ in range(depth))


class _ASTModel(nn.Module):
    def __init__(self, cfg: SynchformerConfig):
        super().__init__()
        self.embeddings = _ASTEmbeddings(cfg.dim)
        self.encoder = _ASTEncoder(cfg.dim, cfg.audio_heads, cfg.audio_depth)
        self.layernorm = nn.LayerNorm(cfg.dim, eps=1e-12)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """mel [N, T=66, F=128] -> patch states [N, D, f=12, t=6]."""
        x = self.embeddings.patch_embeddings.projection(mel.transpose(1, 2)[:, None])  # [N, D, f, t]
        n, d, f, t = x.shape
        x = x.flatten(2).transpose(1, 2)
        e = self.embeddings
        x = torch.cat([e.cls_token.expand(n, -1, -1), e.distillation_token.expand(n, -1, -1), x], 1) + e.position_embeddings
        for layer in self.encoder.layer:
            x = layer(x)
        x = self.layernorm(x)[:, 2:]
        return x.transpose(1, 2).reshape(n, d, f, t)


class AST(nn.Module):
    """Log-mel segments [N, 66, 128] -> [N, 6, D]."""

    def __init__(self, cfg: SynchformerConfig):
        super().__init__()
        self.ast = _ASTModel(cfg)
        self.freq_attn_agg = _PoolLayer(cfg.dim, cfg.audio_heads)

    def forward(self, mel):
        x = self.ast(mel)  # [N, D, f, t]
        n, d, f, t = x.shape
        x = x.permute(0, 3, 2, 1).reshape(n * t, f, d)
        return self.freq_attn_agg(x).reshape(n, t, d)


# ---- the offset classifier ------------------------------------------------------------------------
class _SelfAttention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.key, self.query, self.value, self.proj = (nn.Linear(dim, dim) for _ in range(4))

    def forward(self, x):
        b, n, d = x.shape
        q, k, v = (m(x).reshape(b, n, self.heads, -1).transpose(1, 2) for m in (self.query, self.key, self.value))
        return self.proj(F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, n, d))


class _Block(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = _SelfAttention(dim, heads)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim), nn.Dropout(0.0))

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class _PosEmb(nn.Module):
    def __init__(self, n: int, dim: int):
        super().__init__()
        self.pos_emb = nn.Parameter(torch.zeros(1, n, dim))


class GlobalTransformer(nn.Module):
    """(video tokens [B, 112, D], audio tokens [B, 84, D]) -> offset logits [B, 21]."""

    def __init__(self, cfg: SynchformerConfig):
        super().__init__()
        d = cfg.dim
        self.vis_in_lnorm, self.aud_in_lnorm = nn.LayerNorm(d), nn.LayerNorm(d)
        self.OFF_tok = nn.Parameter(torch.zeros(1, 1, d))
        self.MOD_tok = nn.Parameter(torch.zeros(1, 1, d))
        self.pos_emb_cfg = _PosEmb(2 + WINDOW_SEGMENTS * (8 + 6), d)
        self.blocks = nn.Sequential(*(_Block(d, cfg.global_heads) for _ in range(cfg.global_depth)))
        self.ln_f = nn.LayerNorm(d)
        self.off_head = nn.Linear(d, len(OFFSETS))

    def forward(self, v, a):
        b = len(v)
        x = torch.cat([self.OFF_tok.expand(b, -1, -1), self.vis_in_lnorm(v), self.MOD_tok.expand(b, -1, -1),
                       self.aud_in_lnorm(a)], 1) + self.pos_emb_cfg.pos_emb
        return self.off_head(self.ln_f(self.blocks(x))[:, 0])


class Synchformer(nn.Module):
    """extract_vfeats: [B, S, 16, 3, 224, 224] -> [B, S, 8, D]; extract_afeats: [B, S, 66, 128] ->
    [B, S, 6, D]; compare_v_a: ([B, 14, 8, D], [B, 14, 6, D]) -> logits [B, 21]."""

    def __init__(self, cfg: SynchformerConfig = SynchformerConfig()):
        super().__init__()
        self.vfeat_extractor = MotionFormer(cfg)
        self.afeat_extractor = AST(cfg)
        self.vproj, self.aproj = nn.Linear(cfg.dim, cfg.dim), nn.Linear(cfg.dim, cfg.dim)
        self.transformer = GlobalTransformer(cfg)

    def extract_vfeats(self, frames: torch.Tensor) -> torch.Tensor:
        b, s = frames.shape[:2]
        x = frames.flatten(0, 1).permute(0, 2, 1, 3, 4)  # [B*S, 3, 16, H, W]
        return self.vfeat_extractor(x).unflatten(0, (b, s))

    def extract_afeats(self, mel: torch.Tensor) -> torch.Tensor:
        return self.afeat_extractor(mel.flatten(0, 1)).unflatten(0, mel.shape[:2])

    def compare_v_a(self, v: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        v, a = self.vproj(v), self.aproj(a)
        return self.transformer(v.flatten(1, 2), a.flatten(1, 2))


# ---- front ends and the score ---------------------------------------------------------------------
def audio_segments(wav16: np.ndarray) -> torch.Tensor:
    """Mono wav [T] at 16 kHz -> normalised log-mel segments [S, 66, 128] (av-benchmark's front end:
    torchaudio's MelSpectrogram(16000, n_fft=1024, win_length=400, hop_length=160, n_mels=128), an
    HTK mel bank without normalisation, on reflect-padded centred frames)."""
    x = torch.as_tensor(np.asarray(wav16, np.float32))
    s = (len(x) - SEGMENT_SAMPLES) // SAMPLE_STEP + 1
    if s < 1:
        return torch.zeros(0, MEL_FRAMES, 128)
    seg = torch.stack([x[i * SAMPLE_STEP: i * SAMPLE_STEP + SEGMENT_SAMPLES] for i in range(s)])
    spec = torch.stft(seg, n_fft=1024, hop_length=160, win_length=400, window=torch.hann_window(400),
                      center=True, pad_mode="reflect", return_complex=True).abs() ** 2  # [S, 513, 65]
    fb = torch.tensor(librosa.filters.mel(sr=SAMPLE_RATE, n_fft=1024, n_mels=128, fmin=0.0, fmax=8000.0,
                                          htk=True, norm=None), dtype=torch.float32)
    mel = torch.log(fb @ spec + 1e-6)  # [S, 128, 65]
    mel = F.pad(mel, (0, max(0, MEL_FRAMES - mel.shape[-1])))[..., :MEL_FRAMES]
    return ((mel - MEL_MEAN) / (2 * MEL_STD)).transpose(1, 2)


def video_frames(video: str | os.PathLike, seconds: float) -> torch.Tensor:
    """The first ``seconds`` of ``video`` at 25 fps, short side resized to 224, centre-cropped to
    224 x 224, scaled to [-1, 1] (mean 0.5, std 0.5): [N, 3, 224, 224]."""
    v = probe(video).video
    w, h = v.display_size
    short = min(w, h)
    size = (FRAME_SIZE, max(FRAME_SIZE, round(FRAME_SIZE * h / short))) if w == short else \
        (max(FRAME_SIZE, round(FRAME_SIZE * w / short)), FRAME_SIZE)
    frames = decode_frames(video, FPS, size=size, duration=seconds).frames  # [N, H, W, 3]
    top, left = (frames.shape[1] - FRAME_SIZE) // 2, (frames.shape[2] - FRAME_SIZE) // 2
    crop = frames[:, top:top + FRAME_SIZE, left:left + FRAME_SIZE]
    return torch.from_numpy(np.ascontiguousarray(crop)).permute(0, 3, 1, 2).float() / 127.5 - 1.0


def video_segments(frames: torch.Tensor) -> torch.Tensor:
    """[N, 3, H, W] -> [S, 16, 3, H, W], 16 frames every 8."""
    s = (len(frames) - SEGMENT_FRAMES) // FRAME_STEP + 1
    return torch.stack([frames[i * FRAME_STEP: i * FRAME_STEP + SEGMENT_FRAMES] for i in range(max(s, 0))]) \
        if s > 0 else frames.new_zeros(0, SEGMENT_FRAMES, *frames.shape[1:])


class DeSyncScorer:
    """DeSync of one (reference video, generated sound) pair: mean |offset| (s) of the first and the
    last 4.8 s windows (the same window twice when the span is 4.8 s)."""

    min_seconds = WINDOW_SECONDS

    def __init__(self, model: Synchformer):
        self.model = model.eval()

    @classmethod
    def from_pretrained(cls, source: str | os.PathLike) -> "DeSyncScorer":
        file, state = load_checkpoint(source, "Synchformer")
        return cls(load_exact(Synchformer(), state, Path(file), "Synchformer"))

    @torch.no_grad()
    def score(self, cache: dict, video: Path, wav: np.ndarray, sample_rate: int) -> float:
        """``cache``: a dict kept per reference (its video features, by span)."""
        seconds = len(wav) / sample_rate
        key = ("synchformer", round(seconds * FPS))
        if key not in cache:
            frames = video_frames(video, seconds)
            cache[key] = self.model.extract_vfeats(video_segments(frames)[None])[0]
        v = cache[key]
        a = self.model.extract_afeats(audio_segments(resample(np.asarray(wav, np.float32), sample_rate,
                                                              SAMPLE_RATE))[None])[0]
        s = min(len(v), len(a))
        if s < WINDOW_SEGMENTS:
            raise ValueError(f"{seconds:.2f} s gives {s} segments; DeSync needs {WINDOW_SEGMENTS}")
        offsets = []
        for start in (0, s - WINDOW_SEGMENTS):
            logits = self.model.compare_v_a(v[None, start:start + WINDOW_SEGMENTS], a[None, start:start + WINDOW_SEGMENTS])
            offsets.append(abs(OFFSETS[int(logits.argmax(-1))]))
        return float(np.mean(offsets))
