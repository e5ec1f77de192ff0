"""The lab's own feature encoders, standing in for CLIP, S3D and BEATs on this machine.

- ``lab-thumbs`` (semantic role): each frame at 8 fps shrunk to 16 x 16 RGB, 768 values in
  [-1, 1]. No weights: in the lab, what a thing looks like (colour, shape) says what it
  sounds like, and the model's MLP learns the mapping. Not a semantic encoder for real video.
- ``lab-sync`` (sync role): the video tower of our trained sync judge (3D convs, 25 fps in,
  64-d features at 25/s), trained to detect audio-visual offsets as SparseSync's S3D was.
- ``lab-logmel`` (audio role, for the Seq2Seq/Hybrid auxiliary losses): 64-band log-mel
  at 100 Hz averaged to 25 frames/s. No weights.

Each has the interface of the other encoders: ``config`` (EncoderConfig) and
``encode_frames(frames) -> [B, N_out, dim]`` (or ``encode_audio(wav)``).
"""

from __future__ import annotations

import os

import numpy as np
import torch
import torch.nn.functional as F

from maskvat.encoders.base import EncoderConfig
from maskvat.errors import MaskvatError


class ThumbnailEncoder:
    """frames [B, N, H, W, 3] uint8 at 8 fps -> [B, N, 768] (16 x 16 x 3, scaled to [-1, 1])."""

    def __init__(self, side: int = 16, fps: float = 8.0):
        self.config = EncoderConfig(name="lab-thumbs", modality="video", dim=side * side * 3, rate=fps, fps=fps,
                                    size=side)

    @torch.no_grad()
    def encode_frames(self, frames) -> torch.Tensor:
        x = torch.as_tensor(np.asarray(frames))
        lead = x.shape[:-3]
        x = x.reshape(-1, *x.shape[-3:]).permute(0, 3, 1, 2).float()
        side = self.config.size
        if x.shape[-2:] != (side, side):
            x = F.interpolate(x, size=(side, side), mode="area")
        x = x / 127.5 - 1.0
        return x.permute(0, 2, 3, 1).reshape(*lead, -1)


class SyncFeatureEncoder:
    """frames [B, F, 64, 64, 3] uint8 at 25 fps -> [B, F, 64]: the sync judge's video tower."""

    def __init__(self, judge, source: str | None = None):
        self.judge = judge.eval()
        cfg = judge.cfg
        self.config = EncoderConfig(name="lab-sync", modality="video", dim=cfg.dim, rate=25.0, fps=25.0,
                                    size=cfg.size, source=source)

    @classmethod
    def from_pretrained(cls, source: str | os.PathLike) -> "SyncFeatureEncoder":
        from maskvat.encoders.sync import SyncJudgeEnsemble
        from maskvat.train.sync_judge import load_judge

        judge = load_judge(source)
        if isinstance(judge, SyncJudgeEnsemble):
            raise MaskvatError(f"{source}: an ensemble of sync judges has no single video tower; "
                               "lab-sync needs one judge")
        return cls(judge, str(source))

    @torch.no_grad()
    def encode_frames(self, frames) -> torch.Tensor:
        return self.judge.video(torch.as_tensor(np.asarray(frames)))


class LogMelAudioEncoder:
    """wav [B, T] at 44.1 kHz -> [B, N, 64] log-mel frames at 25/s."""

    def __init__(self):
        self.config = EncoderConfig(name="lab-logmel", modality="audio", dim=64, rate=25.0, sample_rate=44100)

    @torch.no_grad()
    def encode_audio(self, wav) -> torch.Tensor:
        from maskvat.data.lab_clips import log_mel

        return self.from_mel(log_mel(torch.as_tensor(np.asarray(wav), dtype=torch.float32)))

    @staticmethod
    def from_mel(mel: torch.Tensor) -> torch.Tensor:
        """log-mel [..., 64, M] at 100 Hz (``lab_data.log_mel``) -> [..., M // 4, 64] at 25/s."""
        n = mel.shape[-1] // 4
        return mel[..., : n * 4].reshape(*mel.shape[:-1], n, 4).mean(-1).transpose(-1, -2)
