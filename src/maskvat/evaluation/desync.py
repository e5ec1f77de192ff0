"""DeSync: the mean |audio-visual offset| (seconds; lower is better) that Synchformer
(``evaluation.synchformer``) predicts between a reference clip's picture and a sound, as MMAudio's
av-benchmark computes it.

Sources: hkchengrex/av-benchmark's ``README.md`` (the ``24-01-04T16-39-21`` AudioSet model;
"the first 4.8 seconds and last 4.8 seconds"), ``av_bench/evaluate.py``, ``extract_video.py`` and
``av_bench/extraction_models.py``; its other files, read in its forks (the same code):
``av_bench/extract.py`` (SonyResearch/soundreactor_v2a_eval) and
``av_bench/data/{audio,video}_dataset.py`` (jnwnlee/av-benchmark); the transforms are
Synchformer's ``configs/sync.yaml`` (v-iashin/Synchformer):

- ``av_bench/data/video_dataset.py`` (``VideoDataset``): the reference video at 25 fps, its
  first ``duration_sec`` (8 s, 200 frames; shorter videos are refused), resized (short side 224,
  bicubic), centre-cropped to 224, scaled to [0, 1] and normalised with mean 0.5, std 0.5.
- ``av_bench/data/audio_dataset.py`` (``SynchformerAudioDataset``): the sound's channels
  averaged, torchaudio's ``Resample`` to 16 kHz (no mean removal), its first 8 s (128000
  samples; shorter sounds are refused).
- ``av_bench/extract.py`` / ``extract_video.py`` (``encode_audio_with_sync``,
  ``encode_video_with_sync``) and ``extraction_models.py`` (the mel settings): segments of
  0.64 s every 0.32 s: 16 frames every 8 (video), 10240 samples every 5120 (audio),
  (n - size) // step + 1 of them (24 in 8 s); each audio
  segment -> ``torchaudio.transforms.MelSpectrogram(16000, n_fft=1024, win_length=400,
  hop_length=160, n_mels=128)`` (periodic Hann, centred with reflect padding, power 2, HTK mel
  scale over 0-8000 Hz without area normalisation) [128, 65] -> log(x + 1e-6) -> zero-padded to
  66 frames -> (x + 4.2677393) / (2 x 4.5689974).
- ``av_bench/evaluate.py``: per clip, the logits of the first 14 segments' features
  (``[:, :14]``) and of the last 14 (``[:, -14:]``), each argmax -> |offset_grid[class]|;
  DeSync is the mean over every clip's two values (14 segments = 4.8 s: the start and end
  windows of an 8 s clip, overlapping by 1.6 s).

Clips other than 8 s (a maskvat extension; av-benchmark cuts longer clips to 8 s and refuses
shorter ones): the span read is the
first ``seconds`` (8 s by default, ``None``: all) of the common span, S = min(video segments,
audio segments) segments of it are used, and the two windows are the first and the last 14 of
those. A span under ``MIN_SECONDS`` (4.8 s: one window) gets no DeSync; at 4.8 s both windows are
the same. For 8 s clips the figure is av-benchmark's.

Known differences: the evaluator has the decoder scale the frames (libswscale through PyAV,
bilinear) to the size torchvision's resize gives, then crops, where av-benchmark decodes at the
source size and resizes with torchvision's antialiased bicubic (on uint8); the sound arrives as the evaluator
reads every metric's (mono at 44.1 kHz, soxr) before torchaudio's resampler to 16 kHz.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import librosa
import numpy as np
import torch
import torch.nn.functional as F

from maskvat.encoders.base import decode_size, frames_to_tensor
from maskvat.errors import MaskvatError
from maskvat.evaluation.sinc_resample import sinc_resample
from maskvat.evaluation.synchformer import PUBLISHED, Synchformer, load_synchformer, offset_grid

SAMPLE_RATE = 16000
FPS = 25.0
SEGMENT_FRAMES, FRAME_STEP = 16, 8  # 0.64 s every 0.32 s at 25 fps
SEGMENT_SAMPLES, SAMPLE_STEP = 10240, 5120  # the same at 16 kHz
N_FFT, WIN, HOP, MELS, FMAX = 1024, 400, 160, 128, 8000.0
SPEC_FRAMES = 66  # 65 STFT frames of a segment, zero-padded by one (AST's max_spec_t)
LOG_EPS = 1e-6
SPEC_MEAN, SPEC_STD = -4.2677393, 4.5689974  # AST's AudioSet statistics; av-benchmark divides by 2 x std
SIZE = 224
MEAN = STD = (0.5, 0.5, 0.5)
WINDOW = PUBLISHED.segments  # segments per window (14)
SECONDS = 8.0  # av-benchmark's duration
MIN_SECONDS = (SEGMENT_FRAMES + (WINDOW - 1) * FRAME_STEP) / FPS  # 4.8 s: one window


def segment_count(n: int, size: int, step: int) -> int:
    """Segments of ``size`` every ``step`` in ``n`` items: (n - size) // step + 1, 0 if n < size
    (``encode_*_with_sync``)."""
    return 0 if n < size else (n - size) // step + 1


def windows(segments: int, window: int = WINDOW) -> list[tuple[int, int]]:
    """The [start, end) segment ranges av-benchmark compares: the first ``window`` and the last
    ``window`` of ``segments``; [] when fewer than ``window``. 24 segments (8 s) -> [(0, 14),
    (10, 24)]."""
    if segments < window:
        return []
    return [(0, window), (segments - window, segments)]


class MelSegments(torch.nn.Module):
    """16 kHz sound [T] -> normalised log-mel of each segment [S, 66, 128] (time x bands),
    S = ``segment_count(T, 10240, 5120)``; see the module doc (torchaudio's ``MelSpectrogram``
    with av-benchmark's settings, log, pad, normalise)."""

    def __init__(self):
        super().__init__()
        self.register_buffer("window", torch.hann_window(WIN, periodic=True), persistent=False)
        banks = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=MELS, fmin=0.0, fmax=FMAX, htk=True, norm=None)
        self.register_buffer("banks", torch.tensor(banks, dtype=torch.float32), persistent=False)  # [128, 513]

    def power_mel(self, x: torch.Tensor) -> torch.Tensor:
        """Segments [S, 10240] -> mel power [S, 128, 65] (``MelSpectrogram``'s output)."""
        spec = torch.stft(x, N_FFT, hop_length=HOP, win_length=WIN, window=self.window, center=True,
                          pad_mode="reflect", normalized=False, return_complex=True)
        return self.banks @ (spec.real ** 2 + spec.imag ** 2)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        s = segment_count(len(wav), SEGMENT_SAMPLES, SAMPLE_STEP)
        if s == 0:
            raise MaskvatError(f"Synchformer needs at least {SEGMENT_SAMPLES / SAMPLE_RATE} s of sound, "
                               f"got {len(wav) / SAMPLE_RATE:.3f} s")
        x = wav.unfold(0, SEGMENT_SAMPLES, SAMPLE_STEP)[:s]  # [S, 10240]
        mel = (self.power_mel(x) + LOG_EPS).log()
        mel = F.pad(mel, (0, SPEC_FRAMES - mel.shape[-1]))
        return ((mel - SPEC_MEAN) / (2 * SPEC_STD)).transpose(1, 2)


def video_segments(frames: np.ndarray | torch.Tensor, size: int = SIZE) -> torch.Tensor:
    """Frames [N, H, W, 3] uint8 at 25 fps -> normalised segments [S, 16, 3, size, size],
    S = ``segment_count(N, 16, 8)`` (resize short side ``size`` (224) if the frames are not at
    that size already, centre crop rounded as torchvision's, mean 0.5, std 0.5)."""
    n = len(frames)
    s = segment_count(n, SEGMENT_FRAMES, FRAME_STEP)
    if s == 0:
        raise MaskvatError(f"Synchformer needs at least {SEGMENT_FRAMES} frames at {FPS:g} fps, got {n}")
    x = frames_to_tensor(frames, size, MEAN, STD, resize=size, keep_aspect=True, crop="round")  # [N, 3, size, size]
    return x.unfold(0, SEGMENT_FRAMES, FRAME_STEP)[:s].permute(0, 4, 1, 2, 3)  # [S, 16, 3, size, size]


def frame_size(width: int, height: int) -> tuple[int, int]:
    """(width, height) to decode a video at: short side 224, the long side truncated as
    torchvision's ``Resize(224)``."""
    return decode_size(width, height, size=SIZE, resize=SIZE, keep_aspect=True)


@dataclass
class Desync:
    """One clip: ``seconds`` = mean |offset| of its windows (DeSync); ``offsets`` the predicted
    signed offsets (s) of each window; ``windows`` their [start, end) seconds."""

    seconds: float
    offsets: list[float]
    windows: list[tuple[float, float]]


class DesyncScorer:
    """DeSync of sounds against reference pictures with Synchformer (see the module doc).

        scorer = DesyncScorer.from_pretrained("synchformer_state_dict.pth")
        video = scorer.video_features(frames)            # the reference's frames at 25 fps, once
        scorer.score(video, wav, 44100)                  # -> Desync, or None if too short

    ``seconds``: the first seconds of each clip read (None: all)."""

    sample_rate = SAMPLE_RATE
    fps = FPS

    def __init__(self, model: Synchformer, *, seconds: float | None = SECONDS, device: str | torch.device = "cpu",
                 source: str | None = None):
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.mel = MelSegments().to(self.device)
        self.seconds = seconds
        self.source = source
        self.grid = offset_grid(model.config)

    @classmethod
    def from_pretrained(cls, source: str | os.PathLike, **kwargs) -> "DesyncScorer":
        return cls(load_synchformer(source), source=str(source), **kwargs)

    def span(self, seconds: float) -> float:
        """The seconds of a clip of ``seconds`` that DeSync reads."""
        return seconds if self.seconds is None else min(seconds, self.seconds)

    @torch.no_grad()
    def video_features(self, frames: np.ndarray) -> torch.Tensor:
        """Reference frames [N, H, W, 3] uint8 at 25 fps (only the first ``seconds`` are used)
        -> video tower features [S, 8, D] (on the CPU)."""
        if self.seconds is not None:
            frames = frames[: int(round(self.seconds * FPS))]
        return self.model.video_features(video_segments(frames, self.model.config.image).to(self.device)).cpu()

    @torch.no_grad()
    def audio_features(self, wav: np.ndarray, sample_rate: int) -> torch.Tensor:
        """Sound [T] (mono, any rate) -> audio tower features [S, 6, D] (on the CPU):
        resampled to 16 kHz, the first ``seconds``, in segments."""
        x = torch.as_tensor(np.asarray(wav, np.float32))
        if x.ndim != 1:
            raise MaskvatError(f"Synchformer needs mono audio [T], got shape {tuple(x.shape)}")
        x = sinc_resample(x, int(sample_rate), SAMPLE_RATE)
        if self.seconds is not None:
            x = x[: int(round(self.seconds * SAMPLE_RATE))]
        return self.model.audio_features(self.mel(x.to(self.device))).cpu()

    @torch.no_grad()
    def compare(self, video: torch.Tensor, audio: torch.Tensor) -> Desync | None:
        """Tower features of one clip, video [Sv, 8, D] and audio [Sa, 6, D] -> its Desync over
        the first and last window of their common min(Sv, Sa) segments; None with fewer than one
        window."""
        s = min(len(video), len(audio))
        spans = windows(s)
        if not spans:
            return None
        v = torch.stack([video[a:b] for a, b in spans]).to(self.device)
        a = torch.stack([audio[a:b] for a, b in spans]).to(self.device)
        top = self.model.offset_logits(v, a).argmax(dim=-1).cpu().numpy()
        offsets = [float(self.grid[i]) for i in top]
        step = FRAME_STEP / FPS
        return Desync(float(np.mean(np.abs(offsets))), offsets,
                      [(a * step, (b - 1) * step + SEGMENT_FRAMES / FPS) for a, b in spans])

    def score(self, video: torch.Tensor, wav: np.ndarray, sample_rate: int) -> Desync | None:
        """The reference's ``video_features`` and a sound [T] -> Desync (None: under one window)."""
        return self.compare(video, self.audio_features(wav, sample_rate))
