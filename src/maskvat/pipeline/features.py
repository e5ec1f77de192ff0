"""Conditioning features of one video: the encoders a model was trained with, loaded once.

    pipe = FeaturePipeline.for_model(model.config)
    feats = pipe.visual("clip.mp4", start=0.0, duration=4.0)   # ClipFeatures
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np
import torch

from maskvat.encoders.base import decode_size, frame_geometry
from maskvat.encoders.registry import load_encoder
from maskvat.errors import MaskvatError
from maskvat.media import FrameArray, decode_frames, probe


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
               context: float = 0.0, edge: str = "repeat") -> ClipFeatures:
        """Read ``path`` (a file or a ``FrameArray``) at each encoder's frame rate and geometry,
        from ``start`` for ``duration`` seconds.

        context: seconds of picture read on each side of the span and cut off the features
        again, so that an encoder that looks across time (3-D convolutions) sees the video
        around a window, not an edge at its first and last frame. edge: what stands in for
        the context beyond the video's own start and end: "repeat" its first / last frame,
        or "none" (the encoder sees the video's edge there, as in training)."""

        if edge not in ("repeat", "none"):
            raise ValueError(f"edge must be 'repeat' or 'none', not {edge!r}")
        in_memory = isinstance(path, FrameArray)
        info = None if in_memory else probe(path)
        total = path.duration if in_memory else info.duration
        if duration is None:
            duration = total - start
        if in_memory:
            height, width = path.frames.shape[1:3]
        else:
            width, height = info.video.display_size if info.video is not None else (1, 1)
        out = {}
        for name, enc in (("semantic", self.semantic), ("sync", self.sync)):
            if enc is None:
                out[name] = None
                continue
            c = enc.config
            size = decode_size(width, height, **frame_geometry(c))
            n = int(math.floor(duration * c.fps + 1e-6))
            before, after = context_frames(c.fps, c.rate, context, start, duration, total, edge)
            first = start - before / c.fps
            pad = min(before, max(0, math.ceil(-first * c.fps - 1e-6)))  # grid times before the video's start
            read = dict(size=size, start=max(0.0, first + pad / c.fps), duration=(before + n + after - pad) / c.fps)
            frames = path.at(c.fps, **read).frames if in_memory else decode_frames(path, c.fps, **read).frames
            if pad:  # the video's first frame stands in for the picture before it
                frames = np.concatenate([np.repeat(frames[:1], pad, 0), frames])
            feats = enc.encode_frames(frames[None])[0].float()
            stride = max(1, round(c.fps / c.rate))
            out[name] = feats[before // stride: before // stride + math.ceil(n / stride)]
        return ClipFeatures(out["semantic"], out["sync"], duration)

    def audio_features(self, wav: np.ndarray | torch.Tensor) -> torch.Tensor:
        """wav [T] at 44.1 kHz -> [Na, Da]."""
        return self.audio.encode_audio(torch.as_tensor(np.asarray(wav))[None])[0].float()


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
