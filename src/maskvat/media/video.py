"""Decoding a video's frames at a requested frame rate and size.

Target times are exact: frame n of the result is the source frame on screen at
``start + n / fps``, whatever the source's rate (23.976, 29.97, 60, variable). Times are
seconds from the first video frame (see :func:`maskvat.media.probe.timeline_origin`).
Frames come out as a player shows them: turned by the file's display rotation (phone video
stored sideways with a rotation flag), without the frames an MP4 edit list leaves out.

``decode_grids`` serves several requests (rates, spans, sizes: the windows of a long video
and the encoders that read each) from one sequential pass, handing each over as soon as
it is complete; ``decode_frames`` is its one-request case.
"""

from __future__ import annotations

import math
import os
from contextlib import closing
from dataclasses import dataclass
from typing import Iterator, Sequence

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


@dataclass(frozen=True)
class Grid:
    """One request of a decode pass: frames at ``fps`` from ``start`` for ``duration`` seconds
    (the times of :func:`target_times`), as (width, height) ``size``; None keeps the shown size."""

    fps: float
    start: float = 0.0
    duration: float | None = None
    size: tuple[int, int] | None = None


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
    Each source frame shown at a target is resized as soon as it is decoded, so large inputs
    never sit in memory at full size.
    Returns :class:`Frames` with frames [N, H, W, 3] uint8, N = floor(duration * fps + 1e-6);
    targets past the last source frame repeat it. Limits (MediaError beyond them): fps in
    (0, 1000], output sides 1..8192, source width*height <= max_pixels, duration <= max_duration.
    """
    with closing(decode_grids(path, [Grid(fps, start, duration, size)], max_duration=max_duration,
                              max_pixels=max_pixels)) as passes:
        return next(passes)[1]


def decode_grids(
    path: str | os.PathLike,
    grids: Sequence[Grid],
    *,
    video: VideoStreamInfo | None = None,
    max_duration: float = 3600.0,
    max_pixels: int = 8192 * 8192,
) -> Iterator[tuple[int, Frames]]:
    """Frames for several requests (``grids``: rates, spans, sizes) from ONE sequential decode
    pass of ``path``'s video: yields ``(index into grids, Frames)`` for each grid as soon as its
    last frame is decoded (so grids that end earlier come first; ties in the given order),
    each exactly what ``decode_frames`` returns for it. Only the frames of grids not yet
    yielded are held, so a caller that works on each grid as it comes (the windows of a long
    video) holds about one window's frames. ``video``: the file's probed video stream, to
    skip probing it again. Requests are checked before anything is decoded (MediaError).
    """
    for g in grids:
        _check_request(path, g.fps, g.size, g.start, g.duration)
    if video is None:
        video = probe(path).video
    v = video
    if v is None:
        raise MediaError(path, "has no video stream")
    if v.width * v.height > max_pixels:
        raise MediaError(path, f"frame size {v.width}x{v.height} exceeds the limit of {max_pixels} pixels")
    times, sizes = [], []
    for g in grids:
        if g.start >= v.duration:
            raise MediaError(path, f"start {g.start:.3f} s is beyond the end of the video ({v.duration:.3f} s)")
        duration = v.duration - g.start if g.duration is None else g.duration
        if duration > max_duration:
            raise MediaError(path, f"duration {duration:.1f} s exceeds the limit of {max_duration:g} s")
        t = target_times(g.start, duration, g.fps)
        if len(t) == 0:
            raise MediaError(path, f"{duration:.3f} s at {g.fps} fps gives no frame")
        size = (int(g.size[0]), int(g.size[1])) if g.size is not None else v.display_size
        _check_memory(path, len(t), *size)
        times.append(t)
        sizes.append(size)
    return _one_pass(path, v, times, sizes, [g.fps for g in grids])


def _one_pass(path, v, times, sizes, rates) -> Iterator[tuple[int, Frames]]:
    if not times:
        return
    seek = min(t[0] for t in times) > _NO_SEEK_BEFORE
    try:
        yield from _decode_pass(path, v, times, sizes, rates, seek)
    except _SeekMissed:  # the demuxer landed after the first target: decode from the start instead
        yield from _decode_pass(path, v, times, sizes, rates, seek=False)


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


class _SeekMissed(Exception):
    """A seek landed after the first frame asked for (raised before anything is yielded)."""


class _Target:
    """One grid's frames as a decode pass fills them: out [N, H, W, 3], src [N] (NaN: unfilled)."""

    def __init__(self, times: np.ndarray, size: tuple[int, int]):
        self.times, self.size, self.i = times, size, 0
        self.out = np.zeros((len(times), size[1], size[0], 3), dtype=np.uint8)
        self.src = np.full(len(times), np.nan)

    def fill_before(self, t: float, shown) -> None:
        """Targets before source time ``t`` (or every one left, for t = inf) show ``shown``."""
        while self.i < len(self.times) and self.times[self.i] + _EPS < t:
            if shown is not None:
                self.src[self.i], self.out[self.i] = shown.time, shown.rgb(self.size)
            self.i += 1

    @property
    def done(self) -> bool:
        return self.i >= len(self.times)


class _Shown:
    """The source frame on screen: its time, and its RGB at each size asked for (converted once)."""

    def __init__(self, time: float, frame: av.VideoFrame, rotation: int, reformatters: dict):
        self.time, self.frame, self.rotation, self.reformatters, self.cache = time, frame, rotation, reformatters, {}

    def rgb(self, size: tuple[int, int]) -> np.ndarray:
        if size not in self.cache:
            pair = self.reformatters.setdefault(size, (VideoReformatter(), VideoReformatter()))
            self.cache[size] = _to_rgb(self.frame, size[0], size[1], pair, self.rotation)
        return self.cache[size]


def _decode_pass(path, v, times, sizes, rates, seek: bool) -> Iterator[tuple[int, Frames]]:
    order = sorted(range(len(times)), key=lambda j: (times[j][-1], j))  # the order grids complete in
    targets: dict[int, _Target] = {}  # grids not yet yielded (allocated when first needed)
    first = min(t[0] for t in times)
    reformatters: dict = {}
    shown = None  # the latest source frame at or before the next target
    with open_input(path) as container:
        stream = container.streams[v.index]
        stream.thread_type = "AUTO"
        if seek:
            container.seek(int((v.start_time + first) / stream.time_base), stream=stream, backward=True)
        t = None
        try:
            for frame in container.decode(stream):
                if frame.time is None:
                    continue
                t = frame.time - v.start_time
                if shown is None and seek and t > first + _EPS:
                    raise _SeekMissed
                for j in order:
                    if j not in targets and times[j][0] + _EPS < t:
                        targets[j] = _Target(times[j], sizes[j])
                    if j in targets:
                        targets[j].fill_before(t, shown)
                while order and order[0] in targets and targets[order[0]].done:
                    j = order.pop(0)
                    yield j, _frames(path, targets.pop(j), rates[j])
                if not order:
                    break
                shown = _Shown(t, frame, v.rotation, reformatters)
        except av.error.FFmpegError as exc:
            raise corrupt(path, exc, at=t) from None
    for j in order:  # the last frame stays on screen to the end
        target = targets.pop(j, None) or _Target(times[j], sizes[j])
        target.fill_before(np.inf, shown)
        yield j, _frames(path, target, rates[j])


def _frames(path, target: _Target, fps: float) -> Frames:
    out, src = _fill_leading(path, target.out, target.src)
    return Frames(frames=out, times=target.times, source_times=src, fps=float(fps))


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
