"""Frames already in memory, usable wherever a video file is: ``FrameArray(frames, fps)``.

    clip = FrameArray(frames, fps=30000 / 1001)      # frames [N, H, W, 3] uint8 RGB; frame n shows from n / fps
    grid = clip.at(fps=8, size=(224, 224))           # Frames, on the same time grid decode_frames would use

Sampling follows ``decode_frames``: frame n of the result is the source frame on screen at
``start + n / fps``; resizing goes through the same swscale scaler. The frames are taken as
shown (upright): unlike a file's display rotation, which ``decode_frames`` applies, an
array carries none.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from maskvat.errors import MediaError
from maskvat.media.video import (
    _EPS,
    MAX_FPS,
    MAX_OUTPUT_SIDE,
    Frames,
    _check_request,
    target_times,
)


@dataclass
class FrameArray:
    """frames: [N, H, W, 3] uint8 RGB at ``fps``; ``name`` labels it in error messages."""

    frames: np.ndarray
    fps: float
    name: str = "<frames>"

    def __post_init__(self):
        f = self.frames
        if not isinstance(f, np.ndarray) or f.ndim != 4 or f.shape[-1] != 3:
            shape = getattr(f, "shape", type(f).__name__)
            raise MediaError(self.name, f"frames must be an array [N, H, W, 3] (RGB), not {shape}")
        if f.dtype != np.uint8:
            raise MediaError(self.name, f"frames must be uint8 (0-255), not {f.dtype}")
        if len(f) == 0:
            raise MediaError(self.name, "holds no frames")
        if not all(0 < s <= MAX_OUTPUT_SIDE for s in f.shape[1:3]):
            raise MediaError(self.name, f"frame size {f.shape[2]}x{f.shape[1]} is out of range")
        if not (isinstance(self.fps, (int, float)) and 0 < self.fps <= MAX_FPS and math.isfinite(self.fps)):
            raise MediaError(self.name, f"frame rate {self.fps} is out of range (0, {MAX_FPS:g}]")

    def __str__(self) -> str:
        return self.name

    @property
    def duration(self) -> float:
        return len(self.frames) / self.fps

    def at(self, fps: float, size: tuple[int, int] | None = None, start: float = 0.0,
           duration: float | None = None) -> Frames:
        """Frames at ``fps`` from ``start`` for ``duration`` s, resized to (width, height) ``size``."""
        import av
        from av.video.reformatter import VideoReformatter

        _check_request(self.name, fps, size, start, duration)
        if start >= self.duration:
            raise MediaError(self.name, f"start {start:.3f} s is beyond the end ({self.duration:.3f} s)")
        duration = self.duration - start if duration is None else duration
        times = target_times(start, duration, fps)
        if len(times) == 0:
            raise MediaError(self.name, f"{duration:.3f} s at {fps} fps gives no frame")
        idx = np.minimum(np.floor(times * self.fps + _EPS).astype(np.int64), len(self.frames) - 1)
        h, w = self.frames.shape[1:3]
        width, height = (int(size[0]), int(size[1])) if size is not None else (w, h)
        picked = self.frames[idx]
        if (width, height) != (w, h):
            scaler = VideoReformatter()
            picked = np.stack([scaler.reformat(av.VideoFrame.from_ndarray(np.ascontiguousarray(p), format="rgb24"),
                                               width=width, height=height).to_ndarray() for p in picked])
        return Frames(frames=picked, times=times, source_times=idx / self.fps, fps=float(fps))
