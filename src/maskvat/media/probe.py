"""What a media file holds: container, duration, and its first video and audio streams.

Times in maskvat are measured on one timeline per file whose origin (t = 0) is the
presentation time of the first video frame (of the first audio sample, for audio-only
files): :func:`timeline_origin`. Most files start at 0; MPEG-TS and some camera files do
not, and measuring from the video's start keeps frames and audio in sync.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from fractions import Fraction
from typing import Iterator

import av

from maskvat.errors import MediaError
from maskvat.media._open import corrupt, open_media

# FFmpeg demuxers that render text files as "video" (ANSI art): a .txt or .nfo file opens as
# a 640x400 video with the tty demuxer. A text file is never media to maskvat.
TEXT_ART_FORMATS = frozenset({"tty", "bin", "xbin", "idf", "adf"})


@dataclass(frozen=True)
class VideoStreamInfo:
    index: int
    codec: str
    width: int
    height: int
    fps: Fraction  # average frame rate (exact, e.g. 30000/1001)
    duration: float  # seconds, from the first frame to the end of the last one
    frame_count: int | None
    variable_frame_rate: bool
    pix_fmt: str | None
    start_time: float = 0.0  # seconds on the container's clock at which the first frame shows


@dataclass(frozen=True)
class AudioStreamInfo:
    index: int
    codec: str
    sample_rate: int
    channels: int
    duration: float  # seconds
    start_time: float = 0.0  # seconds on the container's clock


@dataclass(frozen=True)
class MediaInfo:
    path: str
    container: str
    duration: float  # seconds: the longest of the streams and the container's own figure
    size_bytes: int
    video: VideoStreamInfo | None
    audio: AudioStreamInfo | None

    def to_dict(self) -> dict:
        """A JSON-ready dict (the frame rate becomes ``{"num", "den", "value"}``)."""
        d = asdict(self)
        if self.video is not None:
            fps = self.video.fps
            d["video"]["fps"] = {"num": fps.numerator, "den": fps.denominator, "value": float(fps)}
        return d


def probe(path: str | os.PathLike) -> MediaInfo:
    """Describe a media file, reading its packets' timestamps but decoding nothing.

    Raises MediaError for anything that is not usable media (missing, empty, not media,
    truncated, no streams).
    """
    with open_input(path) as container:
        video = _video_info(path, container)
        audio = _audio_info(container)
        if video is None and audio is None:
            raise MediaError(path, "has neither a video nor an audio stream")
        durations = [s.duration for s in (video, audio) if s is not None]
        if container.duration:
            durations.append(container.duration / av.time_base)
        return MediaInfo(
            path=str(path),
            container=container.format.name,
            duration=float(max(durations)),
            size_bytes=os.path.getsize(path),
            video=video,
            audio=audio,
        )


@contextmanager
def open_input(path: str | os.PathLike) -> Iterator[av.container.InputContainer]:
    """Open ``path`` for reading: a MediaError for anything that is not a readable media file."""
    with open_media(path) as container:
        if container.format.name in TEXT_ART_FORMATS:
            raise MediaError(path, "is a text file, not a media file FFmpeg can read as video or audio")
        yield container


def video_stream(container: av.container.InputContainer) -> av.VideoStream | None:
    """The first real video stream: cover art (an "attached picture", as in music files) is skipped."""
    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:
            return stream
    return None


def audio_stream(container: av.container.InputContainer) -> av.AudioStream | None:
    """The first audio stream, or None."""
    return container.streams.audio[0] if container.streams.audio else None


def timeline_origin(container: av.container.InputContainer) -> float:
    """Seconds on the container's clock that maskvat calls t = 0: the video's start, else the audio's."""
    for stream in (video_stream(container), audio_stream(container)):
        if stream is not None and stream.start_time is not None and stream.time_base:
            return float(stream.start_time * stream.time_base)
    return 0.0


def _video_info(path, container) -> VideoStreamInfo | None:
    s = video_stream(container)
    if s is None:
        return None
    ctx = s.codec_context
    if not ctx.width or not ctx.height:
        raise MediaError(path, "has a video stream with no frame size (corrupt header?)")
    rate = s.average_rate or s.guessed_rate or s.base_rate
    if not rate:
        raise MediaError(path, "has a video stream with no frame rate")
    start, duration, count, vfr = _scan_video_timing(path, container, s)
    return VideoStreamInfo(
        index=s.index,
        codec=ctx.name,
        width=ctx.width,
        height=ctx.height,
        fps=Fraction(rate.numerator, rate.denominator),
        duration=duration,
        frame_count=count,
        variable_frame_rate=vfr,
        pix_fmt=ctx.pix_fmt,
        start_time=start,
    )


def _scan_video_timing(path, container, stream) -> tuple[float, float, int, bool]:
    """Read packet timestamps (no decoding): start, duration (s), frame count and VFR flag."""
    pts: list[int] = []
    last_dur = 0
    try:
        for packet in container.demux(stream):
            if packet.pts is None:
                continue
            pts.append(packet.pts)
            last_dur = packet.duration or last_dur
    except av.error.FFmpegError as exc:
        raise corrupt(path, exc) from None
    if not pts:
        raise MediaError(path, "has a video stream with no frames")
    pts.sort()
    tb = stream.time_base
    deltas = {b - a for a, b in zip(pts, pts[1:])}
    step = min(deltas) if deltas else (last_dur or 0)
    # Timestamps rounded to a coarse time base (Matroska: 1 ms) jitter by one tick at a
    # constant rate, hence the tolerance.
    vfr = len(deltas) > 1 and (max(deltas) - min(deltas)) > max(1, step // 100)
    start = stream.start_time if stream.start_time is not None else pts[0]
    end = pts[-1] + (last_dur or step)
    duration = float((end - start) * tb)
    _check_complete(path, stream, len(pts), duration)
    return float(start * tb), duration, len(pts), bool(vfr)


def _check_complete(path, stream, count: int, duration: float) -> None:
    """Raise if the header promises clearly more video than the packets present (a cut file)."""
    check_complete(path, stream.frames or 0, count, "video frames", slack=1)
    check_complete(path, declared_duration(stream) or 0.0, duration, "s of video", slack=0.1)


def check_complete(path, promised: float, present: float, what: str, slack: float) -> None:
    """Raise "truncated or corrupt" if ``present`` falls clearly short of what a header promised."""
    if promised and present < 0.95 * promised - slack:
        digits = 0 if float(slack).is_integer() else 2
        raise MediaError(
            path,
            f"is truncated or corrupt: its header promises {promised:.{digits}f} {what}, "
            f"only {present:.{digits}f} are present",
        )


def declared_duration(stream) -> float | None:
    """The stream's duration in seconds as its header states it, or None."""
    if stream.duration is None or not stream.time_base:
        return None
    return float(stream.duration * stream.time_base)


def _audio_info(container) -> AudioStreamInfo | None:
    s = audio_stream(container)
    if s is None:
        return None
    ctx = s.codec_context
    start = float(s.start_time * s.time_base) if s.start_time is not None and s.time_base else 0.0
    return AudioStreamInfo(
        index=s.index,
        codec=ctx.name,
        sample_rate=int(ctx.sample_rate or 0),
        channels=int(ctx.channels or 0),
        duration=_stream_duration(s, container),
        start_time=start,
    )


def _stream_duration(stream, container) -> float:
    declared = declared_duration(stream)
    if declared is not None:
        return declared
    if container.duration:
        return container.duration / av.time_base
    return 0.0
