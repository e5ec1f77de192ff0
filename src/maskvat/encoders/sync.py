"""The home-trained sync model: video and audio encoders trained to detect A/V offsets.

SparseSync's task at lab scale: given a video window and an audio window that starts
``offset`` seconds later, classify the offset on a grid (21 classes, 0.08 s apart).
- ``SyncVideoEncoder`` (the S3D role): frames [B, F, S, S, 3] uint8 at 25 fps -> [B, F, D], 25/s.
- ``SyncAudioEncoder``: log-mel [B, 64, 4F] at 100 Hz -> [B, F, D], 25/s.
- ``SyncJudge``: correlates the two (cosine) at each candidate lag; a small head turns the
  lag profile [B, 21] into logits. Used as the sync metric (SS: mean |predicted offset|).
  With ``head="map"`` it also reads the time-resolved correlation map [B, 21, F]: a
  steady hum agrees with every lag, and only the moments where it starts, stops or
  changes tell them apart, so a mean over time drowns them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from maskvat.data.lab_clips import N_MELS, OffsetGrid
from maskvat.errors import MaskvatError


@dataclass
class SyncConfig:
    size: int = 64  # frame side in pixels
    dim: int = 64  # feature channels
    width: int = 24  # video conv width
    half: int = 10  # offset classes: k in [-half, half]
    step_frames: int = 2  # class spacing in 25 fps frames
    window_frames: int = 40  # window length in frames
    head: str = "profile"  # "profile": the mean lag profile only; "map": also the time-resolved map
    pool: str = "mean"  # video features over space: "mean", or "meanmax" (also the max: small, local motion)

    def __post_init__(self):
        if self.head not in ("profile", "map"):
            raise MaskvatError(f"sync judge: head must be 'profile' or 'map', not {self.head!r}")
        if self.pool not in ("mean", "meanmax"):
            raise MaskvatError(f"sync judge: pool must be 'mean' or 'meanmax', not {self.pool!r}")
        if self.window_frames <= self.half * self.step_frames:
            raise MaskvatError(f"sync judge: a window of {self.window_frames} frames does not overlap itself "
                               f"shifted by the largest offset ({self.half * self.step_frames} frames): make it longer")

    def grid(self) -> OffsetGrid:
        return OffsetGrid(self.half, self.step_frames, self.window_frames)


def _conv3d(cin, cout, k, stride):
    pad = tuple(x // 2 for x in k)
    return nn.Sequential(nn.Conv3d(cin, cout, k, stride=stride, padding=pad, bias=False), nn.BatchNorm3d(cout), nn.ReLU())


class SyncVideoEncoder(nn.Module):
    """frames [B, F, S, S, 3] uint8 -> [B, F, D]: 3D convs keep the time axis at 25 Hz."""

    def __init__(self, cfg: SyncConfig):
        super().__init__()
        w = cfg.width
        self.net = nn.Sequential(
            _conv3d(3, w, (3, 7, 7), (1, 4, 4)),  # 64 -> 16: the lab's cues are bold
            _conv3d(w, 2 * w, (3, 3, 3), (1, 2, 2)),
            _conv3d(2 * w, 4 * w, (3, 3, 3), (1, 2, 2)),
        )
        self.pool = cfg.pool
        self.proj = nn.Conv1d(4 * w * (2 if cfg.pool == "meanmax" else 1), cfg.dim, 1)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        x = frames.permute(0, 4, 1, 2, 3).float() / 127.5 - 1.0  # [B, 3, F, S, S]
        x = self.net(x)  # [B, 4w, F, s, s]
        pooled = x.mean(dim=(3, 4))  # [B, 4w, F]
        if self.pool == "meanmax":
            pooled = torch.cat([pooled, x.amax(dim=(3, 4))], dim=1)  # [B, 8w, F]
        return self.proj(pooled).transpose(1, 2)


class SyncAudioEncoder(nn.Module):
    """log-mel [B, 64, 4F] at 100 Hz -> [B, F, D] at 25 Hz."""

    def __init__(self, cfg: SyncConfig):
        super().__init__()
        h = 96
        self.net = nn.Sequential(
            nn.Conv1d(N_MELS, h, 5, padding=2), nn.ReLU(),
            nn.Conv1d(h, h, 4, stride=4), nn.ReLU(),
            nn.Conv1d(h, h, 3, padding=1), nn.ReLU(),
            nn.Conv1d(h, cfg.dim, 1),
        )
        self.norm = nn.InstanceNorm1d(N_MELS)  # per-clip, per-band level normalisation

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        return self.net(self.norm(mel)).transpose(1, 2)


def lag_map(v: torch.Tensor, a: torch.Tensor, grid: OffsetGrid) -> tuple[torch.Tensor, torch.Tensor]:
    """Cosine similarity of v[t] and a[t - lag] per class lag and video time, and where it exists.

    v, a: [B, F, D] -> (map [B, n_classes, F], valid [n_classes, F] bool; map is 0 where not
    valid). Class k means the audio window starts (k - half) * step later, so an event at
    video index t sits at audio index t - (k - half) * step.
    """
    v, a = F.normalize(v, dim=-1), F.normalize(a, dim=-1)
    n = v.shape[1]
    out = v.new_zeros(v.shape[0], grid.n_classes, n)
    valid = torch.zeros(grid.n_classes, n, dtype=torch.bool, device=v.device)
    for k in range(grid.n_classes):
        lag = grid.shift_frames(k)
        if lag >= 0:
            out[:, k, lag:] = (v[:, lag:] * a[:, : n - lag]).sum(-1)
            valid[k, lag:] = True
        else:
            out[:, k, : n + lag] = (v[:, : n + lag] * a[:, -lag:]).sum(-1)
            valid[k, : n + lag] = True
    return out, valid


def lag_profile(v: torch.Tensor, a: torch.Tensor, grid: OffsetGrid) -> torch.Tensor:
    """Mean over time of ``lag_map`` where valid: [B, n_classes]."""
    m, valid = lag_map(v, a, grid)
    return m.sum(-1) / valid.sum(-1)


class MapHead(nn.Module):
    """Correlation map [B, K, F] (+ its validity) -> logits [B, K]: convs over time find the
    moments that tell lags apart; per lag, an attention over time pools their scores."""

    def __init__(self, n_classes: int, hidden: int = 64):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv1d(2 * n_classes, hidden, 5, padding=2), nn.GELU(),
            nn.Conv1d(hidden, hidden, 5, padding=2), nn.GELU(),
        )
        self.score = nn.Conv1d(hidden, n_classes, 1)
        self.attend = nn.Conv1d(hidden, n_classes, 1)

    def forward(self, m: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        mask = valid.to(m.dtype).expand_as(m)
        h = self.net(torch.cat([m, mask], dim=1))
        weight = self.attend(h).masked_fill(~valid, float("-inf")).softmax(-1)
        return (weight * self.score(h)).sum(-1)


class SyncJudge(nn.Module):
    """(video window, audio window) -> offset-class logits [B, n_classes]."""

    def __init__(self, cfg: SyncConfig | None = None):
        super().__init__()
        self.cfg = cfg or SyncConfig()
        self.grid = self.cfg.grid()
        self.video = SyncVideoEncoder(self.cfg)
        self.audio = SyncAudioEncoder(self.cfg)
        n = self.grid.n_classes
        self.scale = nn.Parameter(torch.tensor(10.0))
        self.head = nn.Sequential(nn.Linear(n, 4 * n), nn.GELU(), nn.Linear(4 * n, n))
        self.map_head = MapHead(n) if self.cfg.head == "map" else None

    def forward(self, frames: torch.Tensor, mel: torch.Tensor) -> torch.Tensor:
        return self.logits_from(self.video(frames), self.audio(mel))

    def logits_from(self, v: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """The towers' features v, a [B, F, D] -> offset-class logits [B, n_classes]."""
        m, valid = lag_map(v, a, self.grid)
        profile = self.scale * m.sum(-1) / valid.sum(-1)
        logits = profile + self.head(profile)
        return logits if self.map_head is None else logits + self.map_head(m, valid)

    def config_dict(self) -> dict:
        return asdict(self.cfg)


class SyncJudgeEnsemble(nn.Module):
    """Judges of one config (trained from other seeds or losses) voting together:
    (video window, audio window) -> the mean of their log-probabilities [B, n_classes].
    ``cfg`` and ``grid`` are the members' own, so it stands wherever a judge does as a metric."""

    def __init__(self, members: list[SyncJudge]):
        super().__init__()
        if not members:
            raise MaskvatError("a sync judge ensemble needs at least one judge")
        if any(m.config_dict() != members[0].config_dict() for m in members):
            raise MaskvatError("the judges of an ensemble must share one config (window, grid, size, towers)")
        self.members = nn.ModuleList(members)
        self.cfg, self.grid = members[0].cfg, members[0].grid

    def forward(self, frames: torch.Tensor, mel: torch.Tensor) -> torch.Tensor:
        return torch.stack([m(frames, mel).log_softmax(-1) for m in self.members]).mean(0)

    def config_dict(self) -> dict:
        return {**asdict(self.cfg), "members": len(self.members)}
