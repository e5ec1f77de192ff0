"""Conditioning features of one video: the encoders a model was trained with, loaded once.

    pipe = FeaturePipeline.for_model(model.config)
    feats = pipe.visual("clip.mp4", start=0.0, duration=4.0)   # ClipFeatures
"""

from __future__ import annotations

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

    def visual(self, path: str | os.PathLike, start: float = 0.0, duration: float | None = None) -> ClipFeatures:
        """Read ``path`` (a file or a ``FrameArray``) at each encoder's frame rate and geometry,
        from ``start`` for ``duration`` seconds."""

        in_memory = isinstance(path, FrameArray)
        info = None if in_memory else probe(path)
        if duration is None:
            duration = (path.duration if in_memory else info.duration) - start
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
            if in_memory:
                frames = path.at(c.fps, size=size, start=start, duration=duration).frames
            else:
                frames = decode_frames(path, c.fps, size=size, start=start, duration=duration).frames
            out[name] = enc.encode_frames(frames[None])[0].float()
        return ClipFeatures(out["semantic"], out["sync"], duration)

    def audio_features(self, wav: np.ndarray | torch.Tensor) -> torch.Tensor:
        """wav [T] at 44.1 kHz -> [Na, Da]."""
        return self.audio.encode_audio(torch.as_tensor(np.asarray(wav))[None])[0].float()


def encoder_roles(cfg) -> dict[str, str | None]:
    """Role -> encoder name a model or SCAV config reads (None: a stream it does not use)."""
    return {"semantic": cfg.semantic_encoder if cfg.use_semantic else None,
            "sync": cfg.sync_encoder if cfg.use_sync else None, "audio": cfg.audio_encoder}
