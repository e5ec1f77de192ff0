"""The home-trained semantic encoders: a frame encoder (the CLIP role) and an audio encoder
(the BEATs role), trained together contrastively on the lab (frames <-> concurrent audio),
so that a frame's embedding says what sound its objects make.

- ``FrameTower``: frames [B, N, S, S, 3] uint8 -> [B, N, D], one embedding per frame.
- ``AudioTower``: log-mel [B, 64, 4N] at 100 Hz -> ([B, N, D] sequence at 25/s, pooled [B, D]).
- ``SemanticPair``: both towers and the learned temperature of the contrastive loss.
- ``SemanticFrameEncoder`` / ``SemanticAudioEncoder``: the registry's interface over a saved
  pair (``encode_frames``; ``encode_audio`` and ``embed_audio``), used by the evaluation's
  FAD, WaveCLIP-style and CycleCLIP-style scores and by the novelty score.

    pair = load_semantic(asset("lab/semantic"))
    v = pair.frames(frames)                       # [B, N, 128]
    seq, pooled = pair.audio(mel)                 # [B, N, 128], [B, 128]
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from maskvat.encoders.base import EncoderConfig
from maskvat.data.lab_clips import N_MELS, log_mel


@dataclass
class SemanticConfig:
    size: int = 64  # frame side the frame tower reads
    dim: int = 128  # joint embedding channels D
    width: int = 32  # frame CNN width
    audio_hidden: int = 128  # audio conv channels
    fps: float = 8.0  # frames per second the frame encoder is meant to read (CLIP's rate in the paper)


def _block(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
                         nn.GroupNorm(8, cout), nn.GELU())


class FrameTower(nn.Module):
    """frames [B, N, S, S, 3] uint8 (any S; resized to ``cfg.size``) -> [B, N, D]."""

    def __init__(self, cfg: SemanticConfig):
        super().__init__()
        w = cfg.width
        self.size = cfg.size
        self.net = nn.Sequential(_block(3, w, 2), _block(w, 2 * w, 2), _block(2 * w, 4 * w, 2),
                                 _block(4 * w, 4 * w, 2))
        self.proj = nn.Linear(8 * w, cfg.dim)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        lead = frames.shape[:-3]
        x = frames.reshape(-1, *frames.shape[-3:]).permute(0, 3, 1, 2).float()
        if x.shape[-1] != self.size or x.shape[-2] != self.size:
            x = F.interpolate(x, size=(self.size, self.size), mode="area")
        x = self.net(x / 127.5 - 1.0)
        x = torch.cat([x.mean(dim=(2, 3)), x.amax(dim=(2, 3))], dim=1)  # what is there, and its strongest cue
        return self.proj(x).reshape(*lead, -1)


class AudioTower(nn.Module):
    """log-mel [B, 64, 4N] at 100 Hz -> (sequence [B, N, D] at 25/s, attention-pooled [B, D])."""

    def __init__(self, cfg: SemanticConfig):
        super().__init__()
        h = cfg.audio_hidden
        self.net = nn.Sequential(
            nn.Conv1d(N_MELS, h, 5, padding=2), nn.GELU(),
            nn.Conv1d(h, h, 4, stride=4), nn.GELU(),  # 100 Hz -> 25 Hz
            nn.Conv1d(h, h, 3, padding=2, dilation=2), nn.GELU(),
            nn.Conv1d(h, h, 3, padding=4, dilation=4), nn.GELU(),
        )
        self.proj = nn.Linear(h, cfg.dim)
        self.score = nn.Linear(h, 1)

    def forward(self, mel: torch.Tensor, lengths: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``lengths`` [B] (frames at 25/s) masks padding out of the pooling."""
        x = self.net((mel + 5.0) / 5.0).transpose(1, 2)  # [B, N, h]; rough centring of log-mel values
        seq = self.proj(x)
        score = self.score(x).squeeze(-1)
        if lengths is not None:
            keep = torch.arange(x.shape[1], device=x.device)[None] < lengths[:, None]
            score = score.masked_fill(~keep, float("-inf"))
        pooled = (score.softmax(-1).unsqueeze(-1) * seq).sum(1)
        return seq, pooled


class SemanticPair(nn.Module):
    """The two towers and the contrastive temperature (CLIP's learned logit scale)."""

    def __init__(self, cfg: SemanticConfig | None = None):
        super().__init__()
        self.cfg = cfg or SemanticConfig()
        self.frames = FrameTower(self.cfg)
        self.audio = AudioTower(self.cfg)
        self.logit_scale = nn.Parameter(torch.tensor(float(np.log(1 / 0.07))))

    def config_dict(self) -> dict:
        return asdict(self.cfg)

    def save_pretrained(self, folder: str | os.PathLike) -> None:
        from maskvat.weights import save_module

        save_module(folder, self, "semantic_pair", self.config_dict())


def contrastive_loss(video: torch.Tensor, audio: torch.Tensor, logit_scale: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE of matched rows: video [B, D], audio [B, D] (row i of each is a pair)."""
    v, a = F.normalize(video, dim=-1), F.normalize(audio, dim=-1)
    logits = logit_scale.clamp(max=float(np.log(100))).exp() * v @ a.T
    target = torch.arange(len(v), device=v.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


def load_semantic(folder: str | os.PathLike) -> SemanticPair:
    from maskvat.weights import load_module

    meta, state = load_module(folder, "semantic_pair", "a saved semantic encoder pair")
    model = SemanticPair(SemanticConfig(**meta))
    model.load_state_dict(state)
    return model.eval()


def _resolve(source: str | os.PathLike) -> str:
    if str(source) == "shipped":
        from maskvat.assets import asset

        return str(asset("lab/semantic"))
    return str(source)


class SemanticFrameEncoder:
    """The registry's ``lab-semantic`` (semantic role): frames [B, N, H, W, 3] uint8 at 8 fps -> [B, N, 128]."""

    def __init__(self, pair: SemanticPair, source: str | None = None):
        self.pair = pair.eval()
        cfg = pair.cfg
        self.config = EncoderConfig(name="lab-semantic", modality="video", dim=cfg.dim, rate=cfg.fps, fps=cfg.fps,
                                    size=cfg.size, source=source)

    @classmethod
    def from_pretrained(cls, source: str | os.PathLike = "shipped") -> "SemanticFrameEncoder":
        path = _resolve(source)
        return cls(load_semantic(path), path)

    @torch.no_grad()
    def encode_frames(self, frames) -> torch.Tensor:
        return self.pair.frames(torch.as_tensor(np.asarray(frames)))


class SemanticAudioEncoder:
    """The registry's ``lab-audio`` (audio role): wav [B, T] at 44.1 kHz -> [B, N, 128] at 25/s;
    ``embed_audio`` gives one pooled embedding per clip [B, 128]."""

    def __init__(self, pair: SemanticPair, source: str | None = None):
        self.pair = pair.eval()
        self.config = EncoderConfig(name="lab-audio", modality="audio", dim=pair.cfg.dim, rate=25.0,
                                    sample_rate=44100, source=source)

    @classmethod
    def from_pretrained(cls, source: str | os.PathLike = "shipped") -> "SemanticAudioEncoder":
        path = _resolve(source)
        return cls(load_semantic(path), path)

    @staticmethod
    def mel(wav) -> torch.Tensor:
        """wav [..., T] at 44.1 kHz -> the towers' input, log-mel [..., 64, M] at 100 Hz (M a multiple of 4)."""
        mel = log_mel(torch.as_tensor(np.asarray(wav), dtype=torch.float32))
        return mel[..., : mel.shape[-1] // 4 * 4]

    @torch.no_grad()
    def encode_mel(self, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """log-mel [B, 64, M] -> (sequence [B, M / 4, 128] at 25/s, clip embedding [B, 128]), one pass."""
        return self.pair.audio(mel)

    def encode_audio(self, wav) -> torch.Tensor:
        return self.encode_mel(self.mel(wav))[0]

    def embed_audio(self, wav) -> torch.Tensor:
        return self.encode_mel(self.mel(wav))[1]

    def embed_windows(self, wav, window_s: float = 1.0) -> torch.Tensor:
        """wav [T] -> pooled embeddings of consecutive ``window_s`` windows [W, 128] (FAD's frames)."""
        return self.embed_mel_windows(self.mel(np.asarray(wav)), window_s)

    def embed_mel_windows(self, mel: torch.Tensor, window_s: float = 1.0) -> torch.Tensor:
        """log-mel [64, M] -> pooled embeddings of its consecutive ``window_s`` windows [W, 128];
        a clip shorter than one window gives one embedding of the whole clip."""
        per = int(window_s * 100) // 4 * 4
        n = mel.shape[-1] // per
        chunks = mel[:, : n * per].reshape(N_MELS, n, per).permute(1, 0, 2) if n else mel[None]
        return self.encode_mel(chunks)[1]
