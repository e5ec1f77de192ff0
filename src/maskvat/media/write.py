"""Writing videos (H.264 + an optional mono audio track) and encoding audio streams with PyAV."""

from __future__ import annotations

import itertools
import os
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Iterator

import av
import numpy as np
import soxr

from maskvat.atomic import atomic_path
from maskvat.errors import MediaError
from maskvat.media.audio import (
    SAMPLE_RATE,
    check_sample_rate,
    checked_mono,
    resample,
    to_pcm,
)
from maskvat.media.video import MAX_FPS

# Sample format each audio encoder takes (16-bit for the lossless ones).
AUDIO_SAMPLE_FORMATS = {"aac": "fltp", "alac": "s16p", "flac": "s16", "pcm_s16le": "s16", "libopus": "flt"}
# Encoders that take one sample rate only: the track is resampled to it (soxr).
ENCODER_SAMPLE_RATES = {"libopus": 48000}
_DEFAULT_FRAME = 4096  # samples per frame handed to encoders that accept any size


def as_fraction(fps: float | Fraction) -> Fraction:
    """An exact frame rate. Fractions pass through; a float near an NTSC rate (23.976, 29.97,
    59.94) becomes k*1000/1001; any other float snaps to a denominator <= 1001."""
    if isinstance(fps, Fraction):
        return fps
    fps = float(fps)
    if not np.isfinite(fps):
        return Fraction(0)
    k = round(fps * 1.001)
    if fps != round(fps) and abs(fps * 1.001 - k) < 1e-3:
        return Fraction(k * 1000, 1001)
    return Fraction(fps).limit_denominator(1001)


def write_video(
    path: str | os.PathLike,
    frames: np.ndarray | Iterable[np.ndarray],
    fps: float | Fraction,
    audio: np.ndarray | None = None,
    sample_rate: int = SAMPLE_RATE,
    *,
    video_codec: str = "libx264",
    audio_codec: str = "aac",
    crf: int = 18,
) -> None:
    """Write frames ([N, H, W, 3] uint8 RGB, or an iterable of [H, W, 3]) and optional mono audio [T].

    Frame n gets pts n in time base 1/fps, so it shows at exactly n / fps; audio sample i
    plays at i / sample_rate. audio_codec: "aac", "alac" (lossless, sample-exact in mp4),
    "flac", "pcm_s16le" (mov/mkv/avi) or "libopus" (webm/mkv, resampled to 48 kHz). Frames
    are consumed one at a time; the file appears only once complete (an exception from
    ``frames`` leaves nothing behind).
    """
    rate = as_fraction(fps)
    if not (0 < rate <= MAX_FPS):
        raise MediaError(path, f"frame rate {fps} is out of range (0, {MAX_FPS:g}]")
    wav = None if audio is None else checked_mono(path, audio)
    if wav is not None:
        check_audio_codec(path, audio_codec, sample_rate)
    iterator = iter(frames)
    first = next(iterator, None)
    if first is None:
        raise MediaError(path, "no frames to write")
    shape = _checked_frame(path, 0, first, None).shape
    with atomic_path(path) as tmp, open_output(path, tmp) as out:
        vstream = _add_video_stream(path, out, video_codec, rate, shape, crf)
        track = None
        if wav is not None:
            track = AudioTrack(out, add_audio_stream(path, out, audio_codec, sample_rate), wav, sample_rate)
        for n, rgb in enumerate(itertools.chain([first], iterator)):
            frame = av.VideoFrame.from_ndarray(_checked_frame(path, n, rgb, shape), format="rgb24")
            frame.pts = n
            frame.time_base = vstream.codec_context.time_base
            out.mux(vstream.encode(frame))
            if track is not None:
                track.write_until((n + 1) / rate)  # keep audio interleaved with video
        out.mux(vstream.encode(None))
        if track is not None:
            track.close()


def _checked_frame(path, n: int, rgb, shape: tuple | None) -> np.ndarray:
    """Frame n as a contiguous uint8 [H, W, 3] array of the first frame's shape, or a MediaError."""
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3 or 0 in rgb.shape:
        raise MediaError(path, f"frame {n} must be uint8 RGB of shape [H, W, 3], got {rgb.dtype} {rgb.shape}")
    if shape is not None and rgb.shape != shape:
        raise MediaError(path, f"frame {n} has shape {rgb.shape}, the first frame {shape}")
    return np.ascontiguousarray(rgb)


@contextmanager
def open_output(path, tmp: Path) -> Iterator[av.container.OutputContainer]:
    """Open ``tmp`` for writing in the container format that ``path``'s suffix names.

    FFmpeg failures while writing (header, encoding, muxing) become MediaErrors naming ``path``.
    """
    try:
        out = av.open(str(tmp), mode="w")
    except ValueError:
        raise MediaError(path, f"cannot write {Path(path).suffix or 'suffix-less'} files: unknown container") from None
    try:
        with out:
            yield out
    except av.error.FFmpegError as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise MediaError(path, f"cannot write: {reason}") from None


def _add_video_stream(path, out, codec: str, rate: Fraction, shape: tuple, crf: int) -> av.VideoStream:
    height, width = shape[:2]
    stream = _add_stream(path, out, codec, "video", rate=rate)
    stream.width, stream.height = width, height
    # 4:2:0 needs even sides; odd-sized frames keep full chroma instead of being cropped.
    stream.pix_fmt = "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"
    stream.codec_context.time_base = 1 / rate
    stream.time_base = 1 / rate
    if codec == "libx264":
        stream.options = {"crf": str(crf), "preset": "veryfast"}
    return stream


def check_audio_codec(path, codec: str, sample_rate: int) -> None:
    """Raise a MediaError unless ``codec`` is one this module can encode at ``sample_rate``."""
    if codec not in AUDIO_SAMPLE_FORMATS:
        raise MediaError(path, f"unsupported audio codec {codec!r} (choose from {', '.join(AUDIO_SAMPLE_FORMATS)})")
    check_sample_rate(path, sample_rate)


def add_audio_stream(path, out, codec: str, sample_rate: int) -> av.AudioStream:
    """A mono ``codec`` stream in the output container ``out`` (for ``path``), at ``sample_rate``
    unless the encoder takes one rate only (opus: 48 kHz; :class:`AudioTrack` resamples)."""
    check_audio_codec(path, codec, sample_rate)
    rate = ENCODER_SAMPLE_RATES.get(codec, sample_rate)
    stream = _add_stream(path, out, codec, "audio", rate=rate)
    stream.layout = "mono"
    stream.format = AUDIO_SAMPLE_FORMATS[codec]
    stream.codec_context.time_base = Fraction(1, rate)
    return stream


def _add_stream(path, out, codec: str, kind: str, rate):
    try:
        found = av.codec.Codec(codec, "w")
    except av.codec.codec.UnknownCodecError:
        raise MediaError(path, f"unknown {kind} codec {codec!r}") from None
    if found.type != kind:
        raise MediaError(path, f"{codec!r} is not a {kind} codec")
    try:
        return out.add_stream(codec, rate=rate)
    except ValueError as exc:  # "'wav' format does not support 'libx264' codec"
        raise MediaError(path, f"cannot write {kind} codec {codec!r} to this container ({exc})") from None


class AudioTrack:
    """Feeds a mono track at ``sample_rate`` to an audio stream in encoder-sized frames, as far
    in time as asked, so that audio packets can be interleaved with video ones.

    wav: the track [T], or an iterator of float32 pieces [t] that are read only as far as the
    muxing has reached (a long track never needs to be in memory whole). start: the time of
    sample 0 in seconds on the output's clock. A stream at another rate (opus: 48 kHz) gets
    the track resampled to its rate (soxr; piece by piece for an iterator).
    """

    def __init__(self, out, stream: av.AudioStream, wav: np.ndarray | Iterator[np.ndarray], sample_rate: int,
                 start: float = 0.0):
        rate = stream.codec_context.sample_rate or sample_rate
        if not isinstance(wav, Iterator):  # an array (or anything np.asarray takes)
            wav = np.asarray(wav, dtype=np.float32)
            pieces = iter([resample(wav, sample_rate, rate) if rate != sample_rate else wav])
        else:
            pieces = iter(wav) if rate == sample_rate else _resampled(wav, sample_rate, rate)
        self.out, self.stream, self.sample_rate = out, stream, rate
        self.first_pts = int(round(start * rate))
        self.format = stream.format.name
        self.size = stream.codec_context.frame_size or _DEFAULT_FRAME
        self.done = 0  # samples handed to the encoder so far
        self._pieces, self._held = pieces, np.zeros(0, np.float32)

    def _take(self, n: int) -> np.ndarray:
        """The next ``n`` samples of the track (fewer at its end)."""
        while len(self._held) < n:
            piece = next(self._pieces, None)
            if piece is None:
                break
            self._held = np.concatenate([self._held, np.asarray(piece, np.float32)])
        chunk, self._held = self._held[:n], self._held[n:]
        return chunk

    def write_until(self, seconds: float | None) -> None:
        """Encode and mux every frame that starts before ``seconds`` on the output clock (None: all)."""
        end = None if seconds is None else round(seconds * self.sample_rate) - self.first_pts
        while end is None or self.done < end:
            chunk = self._take(self.size)
            if not len(chunk):
                break
            clipped = np.clip(chunk, -1.0, 1.0)
            data = to_pcm(clipped, 16) if self.format.startswith("s16") else clipped
            frame = av.AudioFrame.from_ndarray(data[None], format=self.format, layout="mono")
            frame.sample_rate = self.sample_rate
            frame.pts = self.first_pts + self.done
            frame.time_base = Fraction(1, self.sample_rate)
            self.out.mux(self.stream.encode(frame))
            self.done += len(chunk)

    def close(self) -> None:
        """Encode what is left and flush the encoder."""
        self.write_until(None)
        self.out.mux(self.stream.encode(None))


def _resampled(pieces: Iterable[np.ndarray], orig_sr: int, target_sr: int) -> Iterator[np.ndarray]:
    """Float32 pieces [t] at ``orig_sr`` -> the same sound at ``target_sr``, piece by piece (soxr HQ)."""
    stream = soxr.ResampleStream(orig_sr, target_sr, 1, dtype="float32", quality="HQ")
    for piece in pieces:
        yield stream.resample_chunk(np.asarray(piece, np.float32))
    yield stream.resample_chunk(np.zeros(0, np.float32), last=True)
