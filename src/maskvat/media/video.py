"""Decoding a video's frames at a requested frame rate and size.

Target times are exact: frame n of the result is the source frame on screen at
``start + n / fps``, whatever the source's rate (23.976, 29.97, 60, variable).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import av
import numpy as np

from maskvat.errors import MediaError
from maskvat.media._open import corrupt, open_media
from maskvat.media.probe import probe

MAX_OUTPUT_SIDE = 8192
_EPS = 1e-6


@dataclass
class Frames:
    """Decoded frames on a regular time grid.

    frames: [N, H, W, 3] uint8 RGB
    times: [N] float64, exactly start + n / fps
    source_times: [N] float64, presentation time of the source frame shown at each time
    """

    frames: np.ndarray
    times: np.ndarray
    source_times: np.ndarray
    fps: float

    def __len__(self) -> int:
        return len(self.frames)


def target_times(start: float, duration: float, fps: float) -> np.ndarray:
    """[N] times start + n/fps for n < floor(duration * fps + 1e-6)."""
    n = int(math.floor(duration * fps + _EPS))
    return start + np.arange(n, dtype=np.float64) / fps


def decode_frames(
    path: str | os.PathLike,
    fps: float,
    size: tuple[int, int] | None = None,
    start: float = 0.0,
    duration: float | None = None,
    *,
    max_duration: float = 3600.0,
    max_pixels: int = 8192 * 8192,
) -> Frames:
    """Frames of ``path`` at ``fps`` from ``start`` for ``duration`` seconds (default: to the end).

    size: (width, height) of the result; None keeps the source size. Each source frame is
    resized as soon as it is decoded, so large inputs never sit in memory at full size.
    """
    if not (0 < fps <= 1000):
        raise MediaError(path, f"requested frame rate {fps} is out of range (0, 1000]")
    if size is not None and not all(0 < int(s) <= MAX_OUTPUT_SIDE for s in size):
        raise MediaError(path, f"requested frame size {size} is out of range (1..{MAX_OUTPUT_SIDE})")
    info = probe(path)
    v = info.video
    if v is None:
        raise MediaError(path, "has no video stream")
    if v.width * v.height > max_pixels:
        raise MediaError(path, f"frame size {v.width}x{v.height} exceeds the limit of {max_pixels} pixels")
    if start < 0 or start >= v.duration:
        raise MediaError(path, f"start {start:.3f} s is outside the video (duration {v.duration:.3f} s)")
    if duration is None:
        duration = v.duration - start
    if duration <= 0:
        raise MediaError(path, f"requested duration {duration} s is not positive")
    if duration > max_duration:
        raise MediaError(path, f"duration {duration:.1f} s exceeds the limit of {max_duration:.0f} s")
    times = target_times(start, duration, fps)
    if len(times) == 0:
        raise MediaError(path, f"{duration:.3f} s at {fps} fps gives no frame")
    width, height = size if size is not None else (v.width, v.height)
    frames, source_times = _decode_at(path, times, int(width), int(height))
    return Frames(frames=frames, times=times, source_times=source_times, fps=float(fps))


def _decode_at(path, times: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """For each target time, the last source frame whose pts <= time (+eps), resized."""
    out = np.zeros((len(times), height, width, 3), dtype=np.uint8)
    src = np.full(len(times), np.nan)
    i = 0  # next target to fill
    prev = None  # (time, rgb) of the frame on screen before the current one
    with open_media(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        _seek_before(container, stream, times[0])
        t = None
        try:
            for frame in container.decode(stream):
                t = frame.time
                if t is None:
                    continue
                # Every target strictly before this frame's time shows the previous frame.
                while i < len(times) and times[i] + _EPS < t:
                    if prev is not None:
                        src[i], out[i] = prev
                    i += 1
                if i >= len(times):
                    break
                prev = (t, _to_rgb(frame, width, height))
        except av.error.FFmpegError as exc:
            raise corrupt(path, exc, at=t) from None
    while i < len(times) and prev is not None:  # the last frame stays on screen to the end
        src[i], out[i] = prev
        i += 1
    missing = np.isnan(src)
    if missing.all():
        raise MediaError(path, "no frame could be decoded")
    if missing.any():  # targets before the first decoded frame show that first frame
        first = int(np.argmax(~missing))
        out[:first], src[:first] = out[first], src[first]
    return out, src


def _to_rgb(frame, width: int, height: int) -> np.ndarray:
    """[H, W, 3] uint8. Scale in the source pixel format, then convert: swscale doing both
    in one call shifts colour levels (a grey of 86 came back as 84)."""
    if (frame.width, frame.height) != (width, height):
        frame = frame.reformat(width=width, height=height)
    return frame.to_ndarray(format="rgb24")


def _seek_before(container, stream, t: float) -> None:
    """Seek to a keyframe at or before time ``t`` (no-op near the start)."""
    if t <= 0.5 or stream.time_base is None:
        return
    container.seek(int(t / stream.time_base), stream=stream, backward=True, any_frame=False)
