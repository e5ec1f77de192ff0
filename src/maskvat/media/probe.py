"""What a media file holds: container, duration, and its first video and audio streams.

Times in maskvat are measured on one timeline per file whose origin (t = 0) is the
presentation time of the first video frame (of the first audio sample, for audio-only
files): :func:`timeline_origin`. Most files start at 0; MPEG-TS and some camera files do
not, and measuring from the video's start keeps frames and audio in sync.

Video is described as a player shows it: frames that an MP4 edit list leaves out (the
pre-roll of a stream-copied cut, frames past the edit's end) are not counted, the duration
ends where the edit (or the last shown frame) ends, and ``rotation`` is the display
rotation (phone video) that :func:`maskvat.media.decode_frames` applies.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from fractions import Fraction
from typing import Iterator

import av
import numpy as np

from maskvat.errors import MediaError
from maskvat.media._open import corrupt, open_media

# FFmpeg demuxers that render text files as "video" (ANSI art): a .txt or .nfo file opens as
# a 640x400 video with the tty demuxer. A text file is never media to maskvat.
TEXT_ART_FORMATS = frozenset({"tty", "bin", "xbin", "idf", "adf"})
# FFmpeg's software AV1 decoders; its own "av1" decoder only drives hardware decoders.
AV1_DECODERS = ("libdav1d", "libaom-av1")


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
    rotation: int = 0  # degrees (0, 90, 180, 270) a player turns the stored frames clockwise to show them

    @property
    def display_size(self) -> tuple[int, int]:
        """(width, height) of the frames as shown, after ``rotation``."""
        return (self.height, self.width) if self.rotation in (90, 270) else (self.width, self.height)


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
            d["video"]["display_width"], d["video"]["display_height"] = self.video.display_size
        return d


def probe(path: str | os.PathLike) -> MediaInfo:
    """Describe a media file from its packets' timestamps, decoding only the first video frame.

    That frame gives the display rotation and proves the video can be decoded here. Raises
    MediaError for anything that is not usable media (missing, empty, not media, truncated,
    no streams, video in a codec the installed PyAV cannot decode, such as AV1 without
    libdav1d or libaom-av1).
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


def read_comment(path: str | os.PathLike) -> str | None:
    """The comment tag of ``path``'s container (what ``write_audio`` and ``mux_audio`` write with
    ``comment=``; the key in any case), or None. MediaError if the file cannot be opened."""
    with open_input(path) as container:
        tags = {k.lower(): v for k, v in container.metadata.items()}
    return tags.get("comment") or None


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
    if ctx is None:
        raise MediaError(path, "has a video stream in a codec that the installed PyAV (FFmpeg) cannot decode")
    if not ctx.width or not ctx.height:
        raise MediaError(path, "has a video stream with no frame size (corrupt header?)")
    rate = s.average_rate or s.guessed_rate or s.base_rate
    if not rate:
        raise MediaError(path, "has a video stream with no frame rate")
    t = _scan_video(path, container, s)
    return VideoStreamInfo(
        index=s.index,
        codec=ctx.codec.canonical_name,  # "av1", not the decoder's name ("libdav1d")
        width=ctx.width,
        height=ctx.height,
        fps=Fraction(rate.numerator, rate.denominator),
        duration=t.duration,
        frame_count=t.count,
        variable_frame_rate=t.variable,
        pix_fmt=ctx.pix_fmt,
        start_time=t.start,
        rotation=t.rotation,
    )


@dataclass(frozen=True)
class _Timing:
    start: float
    duration: float
    count: int
    variable: bool
    rotation: int


def _scan_video(path, container, stream) -> _Timing:
    """Read every packet's timestamps, decoding until the first frame: what a player shows.

    Packets an edit list leaves out (FFmpeg flags them "discard": the pre-roll before a
    stream-copied cut, frames past the edit's end) are decoded by players but never shown,
    so they count towards the header's promise only, not as frames or time.
    """
    total = 0  # every packet, as the header counts them
    shown: list[tuple[int, int]] = []  # (pts, duration) of the packets a player shows
    untimed = 0  # shown packets without a timestamp (still frames on screen)
    first = _FirstFrame(stream)
    try:
        for packet in container.demux(stream):
            if not packet.size:  # the demuxer's end-of-stream flush packet
                continue
            total += 1
            if not packet.is_discard:
                if packet.pts is None:
                    untimed += 1
                else:
                    shown.append((packet.pts, packet.duration or 0))
            first.feed(packet)
    except av.error.FFmpegError as exc:
        raise corrupt(path, exc) from None
    if not shown:
        raise MediaError(path, "has a video stream with no frames")
    rotation = first.rotation(path)
    shown.sort()
    pts = np.array([p for p, _ in shown], dtype=np.int64)
    tb = stream.time_base
    gaps = np.diff(pts)
    gaps = gaps[gaps > 0]
    last_pts, last_dur = shown[-1]
    step = int(np.median(gaps)) if len(gaps) else (last_dur or round(1 / (stream.average_rate or 25) / tb))
    start = stream.start_time if stream.start_time is not None else int(pts[0])
    natural_end = last_pts + (last_dur or step)
    end = natural_end
    if stream.duration and last_pts < start + stream.duration <= natural_end + step:
        end = start + stream.duration  # the container's (or edit list's) own end of the last frame
    _check_complete(path, stream, total, float((natural_end - start) * tb))
    return _Timing(start=float(start * tb), duration=float((end - start) * tb), count=len(shown) + untimed,
                   variable=_is_variable_rate(gaps, step, 0.001 / tb), rotation=rotation)


def _is_variable_rate(gaps: np.ndarray, step: int, ticks_per_ms: float = 0.0) -> bool:
    """True if the intervals between frames (in time-base ticks) genuinely vary.

    Timestamps rounded to milliseconds (Matroska, and files remuxed from it) jitter by 1 ms
    at a constant rate, and a single missing or odd timestamp (a dropped frame) makes one
    long interval: neither is a variable rate. Variable means more than one interval, and
    more than 5% of them, off the typical (median) interval ``step`` by more than a tick,
    1 ms and 1%.
    """
    off = np.abs(np.asarray(gaps) - step) > max(1, round(ticks_per_ms), step // 100)
    return bool(off.sum() > max(1, 0.05 * len(gaps)))


def decoder(stream) -> av.CodecContext:
    """The decoder FFmpeg picked for ``stream`` (for AV1: libdav1d, else libaom-av1, else its
    hardware-only "av1"). A function of its own so that tests can stand in another build's choice."""
    return stream.codec_context


class _FirstFrame:
    """Decodes a stream's packets until one frame comes out: its display rotation, and proof
    that the installed FFmpeg can decode the stream (AV1 needs libdav1d or libaom-av1)."""

    def __init__(self, stream):
        self.ctx, self.frame, self.error = decoder(stream), None, None

    def feed(self, packet) -> None:
        if self.frame is not None:
            return
        try:
            frames = self.ctx.decode(packet)
        except av.error.FFmpegError as exc:  # a damaged packet, or no usable decoder: try the next one
            self.error = exc
            return
        self.frame = frames[0] if frames else None

    def rotation(self, path) -> int:
        """Clockwise display rotation in degrees, or a MediaError if no frame could be decoded."""
        if self.frame is None:
            try:
                frames = self.ctx.decode(None)  # frames the decoder still holds
                self.frame = frames[0] if frames else None
            except av.error.FFmpegError as exc:
                self.error = exc
        if self.frame is None:
            raise MediaError(path, _undecodable(self.ctx, self.error))
        return (-round(self.frame.rotation / 90) * 90) % 360  # FFmpeg's angle is counter-clockwise


def _undecodable(ctx, error) -> str:
    codec = ctx.codec.canonical_name
    if ctx.codec.name == "av1":  # FFmpeg's own AV1 decoder only drives hardware decoders
        return ("has AV1 video, which the installed PyAV can decode only with hardware (FFmpeg's 'av1' decoder; "
                f"software decoding needs {' or '.join(AV1_DECODERS)}, which it lacks): re-encode the video "
                "(e.g. to H.264) or install a PyAV built with dav1d")
    reason = getattr(error, "strerror", None) or (str(error) if error else "no frame came out")
    return f"is corrupt: none of its {codec} video frames could be decoded ({reason})"


def _check_complete(path, stream, count: int, duration: float) -> None:
    """Raise if the header promises clearly more video than the packets present (a cut file).

    ``count``: every packet, shown or not; ``duration``: seconds from the start to the end of
    the last shown packet. Where the header states the stream's duration (MP4: the edit
    list's), that is the promise; its frame count, which also counts frames an edit list
    leaves out (a stream-copied cut's pre-roll), is the promise only where it states no
    duration."""
    declared = declared_duration(stream)
    if declared:
        check_complete(path, declared, duration, "s of video", slack=0.1)
    else:
        check_complete(path, stream.frames or 0, count, "video frames", slack=1)


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
