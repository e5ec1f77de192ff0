"""SCAV: sequential contrastive audio-visual encoders (paper 3.2.4; Tsiamas et al. 2024).

A video encoder and an audio encoder map their feature sequences to one common sequence
space of common length N: ``video(semantic, sync) -> [B, N, H]``, ``audio(feats) -> [B, N, H]``.
Training contrasts *raw sequences*: the logit between video i and audio j is minus their
mean squared Euclidean distance over the N steps (no pooling), divided by a learned
temperature, so a pair only scores well if it matches step by step. Time-shifted copies of
each item's own audio are added as extra negatives, which makes the space sensitive to
alignment. Beam selection keeps the candidate of least ``distance`` to the video.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields

import torch
import torch.nn.functional as F
from torch import nn

from maskvat.errors import MaskvatError
from maskvat.model.layers import nearest_resample
from maskvat.weights import load_module, save_module


@dataclass(frozen=True)
class SCAVConfig:
    semantic_dim: int = 128  # the lab default, lab-semantic (lab-thumbs: 768)
    sync_dim: int = 64
    audio_dim: int = 64
    use_semantic: bool = True
    use_sync: bool = True
    length: int = 100  # N: common sequence length of one window (4 s at 25/s)
    hidden: int = 64
    dim: int = 64  # H
    window_seconds: float = 4.0
    audio_encoder: str = "lab-logmel"
    semantic_encoder: str = "lab-semantic"
    sync_encoder: str = "lab-sync"


def _tower(d_in: int, hidden: int, dim: int) -> nn.Module:
    return nn.Sequential(
        nn.Conv1d(d_in, hidden, 1), nn.GELU(),
        nn.Conv1d(hidden, hidden, 5, padding=2), nn.GELU(),
        nn.Conv1d(hidden, hidden, 5, padding=2), nn.GELU(),
        nn.Conv1d(hidden, dim, 1),
    )


class SCAV(nn.Module):
    def __init__(self, config: SCAVConfig = SCAVConfig()):
        super().__init__()
        self.config = c = config
        d_video = (c.semantic_dim if c.use_semantic else 0) + (c.sync_dim if c.use_sync else 0)
        self.video_tower = _tower(d_video, c.hidden, c.dim)
        self.audio_tower = _tower(c.audio_dim, c.hidden, c.dim)
        self.log_temp = nn.Parameter(torch.tensor(0.0))

    def video(self, semantic: torch.Tensor | None, sync: torch.Tensor | None) -> torch.Tensor:
        """semantic [B, Ns, Ds], sync [B, Ny, Dy] -> [B, N, H]."""
        c = self.config
        parts = [nearest_resample(x.float(), c.length) for x, use in ((semantic, c.use_semantic), (sync, c.use_sync)) if use]
        if any(p is None for p in parts):
            raise MaskvatError("SCAV needs the visual features it was trained with")
        return self.video_tower(torch.cat(parts, dim=-1).transpose(1, 2)).transpose(1, 2)

    def audio(self, feats: torch.Tensor) -> torch.Tensor:
        """feats [B, Na, Da] -> [B, N, H]."""
        x = nearest_resample(feats.float(), self.config.length)
        return self.audio_tower(x.transpose(1, 2)).transpose(1, 2)

    @staticmethod
    def distance(v: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """Mean squared Euclidean distance between sequences, all pairs: v [B, N, H], a [M, N, H] -> [B, M]."""
        return (v[:, None] - a[None]).pow(2).mean(dim=(2, 3))

    def contrastive_loss(self, v: torch.Tensor, a: torch.Tensor, shifted: torch.Tensor | None = None) -> torch.Tensor:
        """InfoNCE on -distance / temperature, both directions; ``shifted [B, S, N, H]`` adds per-item negatives."""
        temp = self.log_temp.exp()
        logits = -self.distance(v, a) / temp  # [B, B]
        labels = torch.arange(len(v), device=v.device)
        if shifted is not None:
            extra = -(v[:, None] - shifted).pow(2).mean(dim=(2, 3)) / temp  # [B, S]
            v2a = F.cross_entropy(torch.cat([logits, extra], dim=1), labels)
        else:
            v2a = F.cross_entropy(logits, labels)
        return 0.5 * (v2a + F.cross_entropy(logits.t(), labels))

    # ---- persistence ---------------------------------------------------------------------
    def save_pretrained(self, folder: str | os.PathLike) -> None:
        save_module(folder, self, "scav", asdict(self.config))

    @classmethod
    def from_pretrained(cls, folder: str | os.PathLike) -> "SCAV":
        meta, state = load_module(folder, "scav", "a SCAV folder")
        known = {f.name for f in fields(SCAVConfig)}
        model = cls(SCAVConfig(**{k: v for k, v in meta.items() if k in known}))
        model.load_state_dict(state)
        return model.eval()
