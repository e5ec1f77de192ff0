"""Decoding a video's frames at a requested frame rate and size.

Target times are exact: frame n of the result is the source frame on screen at
``start + n / fps``, whatever the source's rate (23.976, 29.97, 60, variable). Times are
seconds from the first video frame (see :func:`maskvat.media.probe.timeline_origin`).
Frames come out as a player shows them: turned by the file's display rotation (phone video
stored sideways with a rotation flag), without the frames an MP4 edit list leaves out.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from maskvat.errors import MediaError
from maskvat.media._open import corrupt
from maskvat.media.probe import VideoStreamInfo, open_input, probe

MAX_OUTPUT_SIDE = 8192
MAX_FPS = 1000.0
MAX_OUTPUT_BYTES = 32 * 2**30  # refuse requests whose frames alone would not fit in memory
_EPS = 1e-6
_NO_SEEK_BEFORE = 0.5  # seconds: closer to the start than this, decoding from 0 is as fast


@dataclass
class Frames:
    """Decoded frames on a regular time grid.

    frames: [N, H, W, 3] uint8 RGB
    times: [N] float64, exactly start + n / fps
    source_times: [N] float64, presentation time of the source frame shown at each time
    fps: the requested rate
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

    size: (width, height) of the result, as shown; None keeps the source's displayed size.
    Frames are turned by the file's display rotation (``probe(path).video.rotation``, e.g. a
    phone's portrait video stored as landscape), so the result is upright as a player shows it.
    Each source frame is resized as soon as it is decoded, so large inputs never sit in
    memory at full size.
    Returns :class:`Frames` with frames [N, H, W, 3] uint8, N = floor(duration * fps + 1e-6);
    targets past the last source frame repeat it. Limits (MediaError beyond them): fps in
    (0, 1000], output sides 1..8192, source width*height <= max_pixels, duration <= max_duration.
    """
    _check_request(path, fps, size, start, duration)
    v = probe(path).video
    if v is None:
        raise MediaError(path, "has no video stream")
    if v.width * v.height > max_pixels:
        raise MediaError(path, f"frame size {v.width}x{v.height} exceeds the limit of {max_pixels} pixels")
    if start >= v.duration:
        raise MediaError(path, f"start {start:.3f} s is beyond the end of the video ({v.duration:.3f} s)")
    duration = v.duration - start if duration is None else duration
    if duration > max_duration:
        raise MediaError(path, f"duration {duration:.1f} s exceeds the limit of {max_duration:g} s")
    times = target_times(start, duration, fps)
    if len(times) == 0:
        raise MediaError(path, f"{duration:.3f} s at {fps} fps gives no frame")
    width, height = (int(size[0]), int(size[1])) if size is not None else v.display_size
    _check_memory(path, len(times), width, height)
    frames, source_times = _decode_at(path, v, times, width, height)
    return Frames(frames=frames, times=times, source_times=source_times, fps=float(fps))


def _check_request(path, fps, size, start, duration) -> None:
    """Refuse absurd requests before opening anything."""
    if not (0 < fps <= MAX_FPS):
        raise MediaError(path, f"requested frame rate {fps} is out of range (0, {MAX_FPS:g}]")
    if size is not None and (len(size) != 2 or not all(0 < int(s) <= MAX_OUTPUT_SIDE for s in size)):
        raise MediaError(path, f"requested frame size {size} is out of range (1..{MAX_OUTPUT_SIDE} per side)")
    if not start >= 0:
        raise MediaError(path, f"start {start} s is negative")
    if duration is not None and not duration > 0:
        raise MediaError(path, f"requested duration {duration} s is not positive")


def _check_memory(path, n: int, width: int, height: int) -> None:
    need = n * width * height * 3
    if need > MAX_OUTPUT_BYTES:
        raise MediaError(
            path,
            f"{n} frames of {width}x{height} would need {need / 2**30:.0f} GiB; "
            "ask for a smaller size, a lower fps or a shorter duration",
        )


def _decode_at(path, v: VideoStreamInfo, times: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """For each target time, the last source frame whose time <= target (+1e-6), resized.

    Returns frames [N, height, width, 3] uint8 and source_times [N] (s from the first frame).
    Seeks to the keyframe before the first target; if the demuxer lands after it, decodes
    again from the start rather than return the wrong frames.
    """
    seek = times[0] > _NO_SEEK_BEFORE
    out, src = _decode_pass(path, v, times, width, height, seek)
    if seek and src[0] > times[0] + _EPS:
        out, src = _decode_pass(path, v, times, width, height, seek=False)
    return out, src


def _decode_pass(path, v, times, width, height, seek: bool) -> tuple[np.ndarray, np.ndarray]:
    out = np.zeros((len(times), height, width, 3), dtype=np.uint8)
    src = np.full(len(times), np.nan)
    i = 0  # next target to fill
    shown = None  # (time, rgb) of the latest source frame at or before times[i]
    reformatters = (VideoReformatter(), VideoReformatter())
    with open_input(path) as container:
        stream = container.streams[v.index]
        stream.thread_type = "AUTO"
        if seek:
            container.seek(int((v.start_time + times[0]) / stream.time_base), stream=stream, backward=True)
        t = None
        try:
            for frame in container.decode(stream):
                if frame.time is None:
                    continue
                t = frame.time - v.start_time
                while i < len(times) and times[i] + _EPS < t:  # targets before this frame see the previous one
                    if shown is not None:
                        src[i], out[i] = shown
                    i += 1
                if i >= len(times):
                    break
                shown = (t, _to_rgb(frame, width, height, reformatters, v.rotation))
        except av.error.FFmpegError as exc:
            raise corrupt(path, exc, at=t) from None
    while i < len(times) and shown is not None:  # the last frame stays on screen to the end
        src[i], out[i] = shown
        i += 1
    return _fill_leading(path, out, src)


def _fill_leading(path, out: np.ndarray, src: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Targets before the first decodable frame show that frame; no frame at all is an error."""
    missing = np.isnan(src)
    if missing.all():
        raise MediaError(path, "is corrupt: none of its video frames could be decoded")
    if missing[0]:
        first = int(np.argmax(~missing))
        out[:first], src[:first] = out[first], src[first]
    return out, src


def _to_rgb(frame: av.VideoFrame, width: int, height: int, reformatters=None, rotation: int = 0) -> np.ndarray:
    """[height, width, 3] uint8 RGB of a decoded frame, turned ``rotation`` degrees clockwise.

    Scales in the source pixel format, then converts: asking swscale for both in one
    ``reformat(width, height, format="rgb24")`` call shifts colour levels (a grey of 86
    came back as 84). Scaling first also keeps full-size RGB copies of huge frames out of memory.
    ``reformatters``: a (scaler, converter) pair kept for a whole decode pass; a new
    swscale context per frame (``frame.reformat``) costs about 8 ms even for tiny frames.
    """
    scaler, converter = reformatters or (VideoReformatter(), VideoReformatter())
    stored = (height, width) if rotation in (90, 270) else (width, height)  # scale before turning
    if (frame.width, frame.height) != stored:
        frame = scaler.reformat(frame, width=stored[0], height=stored[1])
    rgb = converter.reformat(frame, format="rgb24").to_ndarray()
    return np.ascontiguousarray(np.rot90(rgb, k=-rotation // 90)) if rotation else rgb
