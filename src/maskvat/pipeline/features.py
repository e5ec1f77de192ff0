"""Conditioning features of one video: the encoders a model was trained with, loaded once.

    pipe = FeaturePipeline.for_model(model.config)
    feats = pipe.visual("clip.mp4", start=0.0, duration=4.0)   # ClipFeatures
"""

from __future__ import annotations

import math
import os
from contextlib import closing
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np
import torch

from maskvat.encoders.base import decode_size, frame_geometry
from maskvat.encoders.registry import load_encoder
from maskvat.errors import MaskvatError
from maskvat.media import FrameArray, Grid, MediaInfo, decode_grids, probe


@dataclass
class ClipFeatures:
    """semantic: [Ns, Ds] at the semantic encoder's rate; sync: [Ny, Dy] (None when unused)."""

    semantic: torch.Tensor | None
    sync: torch.Tensor | None
    duration: float


class FeaturePipeline:
    """The semantic, sync and audio encoders a model was trained with, loaded once."""

    def __init__(self, semantic=None, sync=None, audio=None):
        self.semantic, self.sync, self.audio = semantic, sync, audio

    @classmethod
    def for_model(cls, cfg, sources: dict[str, str] | None = None, *, audio: bool = False,
                  device: str | torch.device = "cpu") -> "FeaturePipeline":
        """The encoders ``cfg`` (a model or SCAV config) names, on ``device``. sources: weights
        (hub id, folder or file) keyed by role ("semantic", "sync", "audio") or by the encoder's
        name (default: each encoder's own); a key that is neither one of the model's roles nor
        one of its encoders is refused. ``audio``: also load the audio encoder."""

        names = encoder_roles(cfg)
        sources = dict(sources or {})
        known = set(names) | {n for n in names.values() if n}
        for key in sources:
            if key not in known:
                raise MaskvatError(f"encoder weights for {key!r}: this model's encoders are "
                                   + ", ".join(f"{r}={n}" for r, n in names.items() if n))
        pick = {r: sources.get(r) or sources.get(n) for r, n in names.items()}
        sem = load_encoder(names["semantic"], pick["semantic"]) if cfg.use_semantic else None
        syn = load_encoder(names["sync"], pick["sync"]) if cfg.use_sync else None
        aud = load_encoder(names["audio"], pick["audio"]) if audio else None
        return cls(*(None if e is None else e.to(device) for e in (sem, syn, aud)))

    def visual(self, path: str | os.PathLike, start: float = 0.0, duration: float | None = None, *,
               context: float = 0.0, edge: str = "repeat", info: MediaInfo | None = None) -> ClipFeatures:
        """Read ``path`` (a file or a ``FrameArray``) at each encoder's frame rate and geometry,
        from ``start`` for ``duration`` seconds (default: to the end).

        context: seconds of picture read on each side of the span and cut off the features
        again, so that an encoder that looks across time (3-D convolutions) sees the video
        around a window, not an edge at its first and last frame. edge: what stands in for
        the context beyond the video's own start and end: "repeat" its first / last frame,
        or "none" (the encoder sees the video's edge there, as in training). info: the
        file's ``probe``, to skip probing it again."""
        total = path.duration if isinstance(path, FrameArray) else (info or probe(path)).duration
        span = (start, total - start if duration is None else duration)
        with closing(self.visual_windows(path, [span], context=context, edge=edge, info=info)) as windows:
            return next(windows)

    def visual_windows(self, path: str | os.PathLike, spans: Sequence[tuple[float, float]], *,
                       context: float = 0.0, edge: str = "repeat",
                       info: MediaInfo | None = None) -> Iterator[ClipFeatures]:
        """``visual`` for each (start, duration) span in s, in order, from ONE decode pass of a
        file (``maskvat.media.decode_grids``): every encoder's frames at its rate and geometry
        are taken from the same pass, and each span's features come as soon as its frames are
        decoded, so that a caller works on one window while the pass waits. Spans must not
        end before an earlier one. Frames held: about two spans' worth at each encoder's rate
        and size (the lab model, 4 s windows with 0.5 s context: 25 + 8 frames of 64 x 64 x 3
        bytes a second, about 2 MB a window), however long the video. The features are
        exactly those of ``visual`` on each span alone."""
        if edge not in ("repeat", "none"):
            raise ValueError(f"edge must be 'repeat' or 'none', not {edge!r}")
        ends = [s + d for s, d in spans]
        if any(b < a for a, b in zip(ends, ends[1:])):
            raise ValueError("spans must not end before an earlier one")
        in_memory = isinstance(path, FrameArray)
        if in_memory:
            total, (height, width) = path.duration, path.frames.shape[1:3]
        else:
            info = info or probe(path)
            total = info.duration
            width, height = info.video.display_size if info.video is not None else (1, 1)
        encoders = [(name, enc) for name, enc in (("semantic", self.semantic), ("sync", self.sync)) if enc is not None]
        reads = [[_Read(enc.config, size=decode_size(width, height, **frame_geometry(enc.config)), start=start,
                        duration=duration, total=total, context=context, edge=edge) for _, enc in encoders]
                 for start, duration in spans]

        def features(i: int, frames: list[np.ndarray]) -> ClipFeatures:
            out = {name: read.features(enc, f) for (name, enc), read, f in zip(encoders, reads[i], frames)}
            return ClipFeatures(out.get("semantic"), out.get("sync"), spans[i][1])

        if in_memory or not encoders:
            for i in range(len(spans)):
                yield features(i, [path.at(r.fps, **r.grid).frames for r in reads[i]])
            return
        grids = [Grid(r.fps, **r.grid) for rs in reads for r in rs]
        done: dict[int, np.ndarray] = {}
        i, k = 0, len(encoders)
        with closing(decode_grids(path, grids, video=info.video)) as passes:
            for j, frames in passes:
                done[j] = frames.frames
                while i < len(spans) and all(i * k + e in done for e in range(k)):
                    yield features(i, [done.pop(i * k + e) for e in range(k)])
                    i += 1

    def audio_features(self, wav: np.ndarray | torch.Tensor) -> torch.Tensor:
        """wav [T] at 44.1 kHz -> [Na, Da]."""
        return self.audio.encode_audio(torch.as_tensor(np.asarray(wav))[None])[0].float()


class _Read:
    """What one encoder reads for one span: its frame grid, widened by ``context`` (whole
    feature steps) and clipped at the video's start (the first frame repeated in front)."""

    def __init__(self, config, *, size, start: float, duration: float, total: float, context: float, edge: str):
        c = self.config = config
        self.fps, self.n = c.fps, int(math.floor(duration * c.fps + 1e-6))
        self.before, after = context_frames(c.fps, c.rate, context, start, duration, total, edge)
        first = start - self.before / c.fps
        self.pad = min(self.before, max(0, math.ceil(-first * c.fps - 1e-6)))  # grid times before the video's start
        self.grid = dict(size=size, start=max(0.0, first + self.pad / c.fps),
                         duration=(self.before + self.n + after - self.pad) / c.fps)

    def features(self, encoder, frames: np.ndarray) -> torch.Tensor:
        """frames [N, H, W, 3] of ``grid`` -> the span's features [n / stride, D]."""
        if self.pad:  # the video's first frame stands in for the picture before it
            frames = np.concatenate([np.repeat(frames[:1], self.pad, 0), frames])
        feats = encoder.encode_frames(frames[None])[0].float()
        stride = max(1, round(self.config.fps / self.config.rate))
        return feats[self.before // stride: self.before // stride + math.ceil(self.n / stride)]


def context_frames(fps: float, rate: float, context: float, start: float, duration: float, total: float,
                   edge: str = "repeat") -> tuple[int, int]:
    """(frames before, frames after) to read around a span of ``duration`` s from ``start`` at
    ``fps``, for ``context`` s on each side: whole feature steps (fps / rate frames each),
    and with ``edge="none"`` no further than the video (``total`` s) reaches. Pure function."""
    stride = max(1, round(fps / rate))
    want = stride * math.ceil(context * fps / stride - 1e-9) if context > 0 else 0
    if edge == "repeat":
        return want, want
    n = int(math.floor(duration * fps + 1e-6))
    have_before = int(math.floor(start * fps + 1e-6))
    have_after = max(0, int(math.floor(total * fps + 1e-6)) - have_before - n)
    return min(want, stride * (have_before // stride)), min(want, stride * (have_after // stride))


def encoder_roles(cfg) -> dict[str, str | None]:
    """Role -> encoder name a model or SCAV config reads (None: a stream it does not use)."""
    return {"semantic": cfg.semantic_encoder if cfg.use_semantic else None,
            "sync": cfg.sync_encoder if cfg.use_sync else None, "audio": cfg.audio_encoder}
