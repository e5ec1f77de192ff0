"""What a media file holds: container, duration, and its first video and audio streams."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from fractions import Fraction

import av

from maskvat.errors import MediaError
from maskvat.media._open import corrupt, open_media


@dataclass(frozen=True)
class VideoStreamInfo:
    index: int
    codec: str
    width: int
    height: int
    fps: Fraction  # average frame rate (exact, e.g. 30000/1001)
    duration: float  # seconds
    frame_count: int | None
    variable_frame_rate: bool
    pix_fmt: str | None


@dataclass(frozen=True)
class AudioStreamInfo:
    index: int
    codec: str
    sample_rate: int
    channels: int
    duration: float  # seconds


@dataclass(frozen=True)
class MediaInfo:
    path: str
    container: str
    duration: float  # seconds: the longest of the streams and the container's own figure
    size_bytes: int
    video: VideoStreamInfo | None
    audio: AudioStreamInfo | None

    def to_dict(self) -> dict:
        """A JSON-ready dict (fractions become ``{"num", "den", "value"}``)."""
        d = asdict(self)
        if self.video is not None:
            fps = self.video.fps
            d["video"]["fps"] = {"num": fps.numerator, "den": fps.denominator, "value": float(fps)}
        return d


def probe(path: str | os.PathLike) -> MediaInfo:
    """Describe a media file. Raises MediaError for files that are not usable media."""
    with open_media(path) as container:
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


def _stream_duration(stream, container) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / av.time_base
    return 0.0


def _video_info(path, container) -> VideoStreamInfo | None:
    if not container.streams.video:
        return None
    s = container.streams.video[0]
    ctx = s.codec_context
    if not ctx.width or not ctx.height:
        raise MediaError(path, "has a video stream with no frame size (corrupt header?)")
    rate = s.average_rate or s.guessed_rate or s.base_rate
    if not rate:
        raise MediaError(path, "has a video stream with no frame rate")
    duration, count, vfr = _scan_video_timing(path, container, s)
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
    )


def _scan_video_timing(path, container, stream) -> tuple[float, int, bool]:
    """Read packet timestamps (no decoding): exact duration, frame count and VFR flag."""
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
    vfr = len(deltas) > 1 and (max(deltas) - min(deltas)) > max(1, step // 100)
    start = stream.start_time if stream.start_time is not None else pts[0]
    end = pts[-1] + (last_dur or step)
    duration = float((end - start) * tb)
    _check_complete(path, stream, len(pts), duration)
    return duration, len(pts), bool(vfr)


def _check_complete(path, stream, count: int, duration: float) -> None:
    """Raise if the header promises clearly more video than the packets present (a cut file)."""
    promised_frames = stream.frames or 0
    promised_seconds = float(stream.duration * stream.time_base) if stream.duration and stream.time_base else 0.0
    if promised_frames and count < 0.98 * promised_frames - 1:
        raise MediaError(path, f"is truncated: its header promises {promised_frames} video frames, only {count} are present")
    if promised_seconds and duration < 0.95 * promised_seconds - 0.1:
        raise MediaError(
            path, f"is truncated: its header promises {promised_seconds:.2f} s of video, only {duration:.2f} s are present"
        )


def _audio_info(container) -> AudioStreamInfo | None:
    if not container.streams.audio:
        return None
    s = container.streams.audio[0]
    ctx = s.codec_context
    return AudioStreamInfo(
        index=s.index,
        codec=ctx.name,
        sample_rate=int(ctx.sample_rate or 0),
        channels=int(ctx.channels or 0),
        duration=_stream_duration(s, container),
    )
