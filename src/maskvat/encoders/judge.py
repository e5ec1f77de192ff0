"""The sync judge as a metric: predicted A/V offset per window of a whole clip (SS).

    offsets = predict_offsets(judge, frames, wav)   # [W] seconds, + means audio late
    ss = np.abs(offsets).mean()                     # the paper's SparseSync score, lab-scale
"""

from __future__ import annotations

import numpy as np
import torch

from maskvat.dsp import LOG_MEL_RATE as MEL_RATE
from maskvat.dsp import log_mel
from maskvat.encoders.sync import FPS, SyncJudge
from maskvat.errors import MaskvatError


def _window_starts(judge: SyncJudge, n: int, hop_frames: int | None) -> list[int]:
    """First frames of the judge's windows over ``n`` frames at 25 fps, every ``hop_frames``
    (default half a window); MaskvatError for fewer frames than one window."""
    w = judge.grid.window_frames
    if n < w:
        raise MaskvatError(f"clip of {n / FPS:.2f} s is shorter than the judge's {w / FPS:.2f} s window")
    return list(range(0, n - w + 1, hop_frames or w // 2))


def _mel_windows(judge: SyncJudge, wav: torch.Tensor, sample_rate: int, starts: list[int]) -> torch.Tensor:
    """wav [..., T] -> its log-mel cut at the windows' frames [..., W, 64, window * 4]; a sound
    shorter than the picture is padded with its own quietest value."""
    w, per = judge.grid.window_frames, int(MEL_RATE / FPS)
    mel = log_mel(wav, sample_rate)  # [..., 64, frames] at MEL_RATE
    need = (starts[-1] + w) * per
    if mel.shape[-1] < need:
        low = mel.amin(dim=(-2, -1), keepdim=True).expand(*mel.shape[:-1], need - mel.shape[-1])
        mel = torch.cat([mel, low], -1)
    return torch.stack([mel[..., s * per : (s + w) * per] for s in starts], -3)


@torch.no_grad()
def offset_probabilities(judge: SyncJudge, frames: np.ndarray, wav: np.ndarray, hop_frames: int | None = None,
                         sample_rate: int = 44100) -> torch.Tensor:
    """frames [F, S, S, 3] uint8 at 25 fps and mono wav [T] covering the same span -> the judge's
    offset-class probabilities [W, C] per window (C = ``judge.grid.n_classes``; class
    ``judge.grid.half`` is offset 0, class c is (c - half) * ``judge.grid.step_s`` s, + audio late).

    Windows of the judge's length start every ``hop_frames`` (default: half a window). Raises
    MaskvatError for a clip shorter than one window or frames of another size than the judge's."""
    judge.eval()
    starts = _window_starts(judge, frames.shape[0], hop_frames)
    if frames.shape[1:3] != (judge.cfg.size, judge.cfg.size):
        raise MaskvatError(f"frames must be {judge.cfg.size}x{judge.cfg.size}, got {frames.shape[1:3]}")
    w = judge.grid.window_frames
    video = torch.stack([torch.as_tensor(frames[s : s + w]) for s in starts])
    mels = _mel_windows(judge, torch.as_tensor(wav), sample_rate, starts)  # [W, 64, w * 4]
    return judge(video, mels).float().softmax(-1)


def predict_offsets(judge: SyncJudge, frames: np.ndarray, wav: np.ndarray, hop_frames: int | None = None,
                    sample_rate: int = 44100) -> np.ndarray:
    """frames [F, S, S, 3] uint8 at 25 fps and mono wav [T] covering the same span -> offsets [W] s:
    each window's most probable offset class (:func:`offset_probabilities`)."""
    classes = offset_probabilities(judge, frames, wav, hop_frames, sample_rate).argmax(-1).numpy()
    return (classes - judge.grid.half) * judge.grid.step_s


@torch.no_grad()
def sync_confidence(judge: SyncJudge, video_features: torch.Tensor, wavs: torch.Tensor, sample_rate: int = 44100,
                    hop_frames: int | None = None) -> torch.Tensor:
    """How in sync each candidate sound is with one picture, by the judge: the mean over the
    judge's windows (every ``hop_frames``, default half a window) of its probability of offset 0.

    video_features: [F, D], the judge's video tower on the picture's frames at 25 fps (what the
    ``lab-sync`` encoder gives: ``SyncFeatureEncoder``); wavs: [B, T] mono at ``sample_rate``,
    starting with the picture. Returns [B] in [0, 1], higher = more in sync. A beam selector
    (``Pipeline.load(selector="judge")``): on real footage it ranks candidates by their onset F1
    against the real sound better than SCAV (BENCHMARKS.md, "Choosing among beams").
    Raises MaskvatError for a picture shorter than one window."""
    judge.eval()
    starts = _window_starts(judge, video_features.shape[0], hop_frames)
    w = judge.grid.window_frames
    wavs = torch.as_tensor(wavs, dtype=torch.float32).to(video_features.device)
    b = wavs.shape[0]
    video = torch.stack([video_features[s : s + w] for s in starts])  # [W, w, D]
    audio = judge.audio(_mel_windows(judge, wavs, sample_rate, starts).flatten(0, 1))  # [B * W, w, D]
    logits = judge.logits_from(video.repeat(b, 1, 1).to(audio.dtype), audio)
    return logits.float().softmax(-1)[:, judge.grid.half].view(b, len(starts)).mean(1)
