"""Writing videos (H.264 + an audio track) and encoding audio streams with PyAV."""

from __future__ import annotations

import itertools
import os
from fractions import Fraction
from typing import Iterable

import av
import numpy as np

from maskvat.errors import MediaError
from maskvat.media.atomic import atomic_path

# Sample format each audio encoder takes, and its samples per frame when it sets none.
_AUDIO_FORMATS = {"aac": "fltp", "alac": "s16p", "flac": "s16", "pcm_s16le": "s16", "libopus": "flt"}
_DEFAULT_FRAME = 4096


def as_fraction(fps: float | Fraction) -> Fraction:
    """An exact frame rate. Fractions pass through; a float near an NTSC rate (23.976, 29.97,
    59.94) becomes k*1000/1001; any other float snaps to a denominator <= 1001."""
    if isinstance(fps, Fraction):
        return fps
    fps = float(fps)
    k = round(fps * 1.001)
    if fps != round(fps) and abs(fps * 1.001 - k) < 1e-3:
        return Fraction(k * 1000, 1001)
    return Fraction(fps).limit_denominator(1001)


def write_video(
    path: str | os.PathLike,
    frames: np.ndarray | Iterable[np.ndarray],
    fps: float | Fraction,
    audio: np.ndarray | None = None,
    sample_rate: int = 44100,
    *,
    video_codec: str = "libx264",
    audio_codec: str = "aac",
    crf: int = 18,
) -> None:
    """Write frames ([N, H, W, 3] uint8 RGB, or an iterable of [H, W, 3]) and optional mono audio [T].

    Frame n gets pts n in time base 1/fps, so it is shown at exactly n / fps. Atomic.
    """
    rate = as_fraction(fps)
    if rate <= 0:
        raise MediaError(path, f"frame rate {fps} is not positive")
    iterator = iter(frames)
    first = next(iterator, None)
    if first is None:
        raise MediaError(path, "no frames to write")
    with atomic_path(path) as tmp:
        with av.open(str(tmp), mode="w") as out:
            vstream = _add_video_stream(out, video_codec, rate, np.shape(first), crf)
            astream = add_audio_stream(out, audio_codec, sample_rate) if audio is not None else None
            for n, rgb in enumerate(itertools.chain([first], iterator)):
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb, dtype=np.uint8), format="rgb24")
                frame.pts = n
                frame.time_base = vstream.codec_context.time_base
                out.mux(vstream.encode(frame))
            out.mux(vstream.encode(None))
            if astream is not None:
                encode_audio(out, astream, audio, sample_rate)


def _add_video_stream(out, codec: str, rate: Fraction, shape: tuple, crf: int):
    height, width = shape[:2]
    stream = out.add_stream(codec, rate=rate)
    stream.width, stream.height = width, height
    stream.pix_fmt = "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"
    stream.codec_context.time_base = 1 / rate
    stream.time_base = 1 / rate
    if codec == "libx264":
        stream.options = {"crf": str(crf), "preset": "veryfast"}
    return stream


def add_audio_stream(out, codec: str, sample_rate: int):
    """A mono audio stream of ``codec`` at ``sample_rate`` in the output container ``out``."""
    if codec not in _AUDIO_FORMATS:
        raise MediaError(out.name, f"unsupported audio codec {codec!r} (choose from {sorted(_AUDIO_FORMATS)})")
    stream = out.add_stream(codec, rate=sample_rate)
    stream.layout = "mono"
    stream.format = _AUDIO_FORMATS[codec]
    stream.codec_context.time_base = Fraction(1, sample_rate)
    return stream


def encode_audio(out, stream, wav: np.ndarray, sample_rate: int) -> None:
    """Encode mono float ``wav`` [T] (clipped to [-1, 1]) into ``stream`` and mux it."""
    wav = np.clip(np.asarray(wav, dtype=np.float32), -1.0, 1.0)
    fmt = stream.format.name
    if fmt.startswith("s16"):
        data = np.round(wav * 32767.0).astype(np.int16)
    else:
        data = wav
    size = stream.codec_context.frame_size or _DEFAULT_FRAME
    for start in range(0, len(data), size):
        chunk = data[start : start + size]
        frame = av.AudioFrame.from_ndarray(chunk[None, :], format=fmt, layout="mono")
        frame.sample_rate = sample_rate
        frame.pts = start
        frame.time_base = Fraction(1, sample_rate)
        out.mux(stream.encode(frame))
    out.mux(stream.encode(None))
