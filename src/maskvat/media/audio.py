"""Audio: read any media's audio as mono float32 (44.1 kHz by default), resample, write wav/flac.

Sample i of what :func:`read_audio` returns plays at ``start + i / sample_rate`` seconds from
the file's origin (its first video frame), the same clock as
:func:`maskvat.media.decode_frames` uses, so frames and audio read from one file line up.
"""

from __future__ import annotations

import math
import os
import sys
from fractions import Fraction
from typing import Iterator

import av
import numpy as np
import soundfile as sf
import soxr

from maskvat.atomic import atomic_path
from maskvat.errors import MediaError
from maskvat.media._open import corrupt
from maskvat.media.probe import (
    audio_stream,
    check_complete,
    declared_duration,
    open_input,
    timeline_origin,
)

SAMPLE_RATE = 44100
MAX_SAMPLE_RATE = 768_000
_MARGIN = 0.1  # seconds of native audio decoded beyond a window, so resampling sees its context

# The soundfile subtypes write_audio accepts for each suffix (float only in wav).
_WRITE_SUBTYPES = {"wav": ("PCM_16", "PCM_24", "FLOAT"), "flac": ("PCM_16", "PCM_24")}


def read_audio(
    path: str | os.PathLike,
    sample_rate: int = SAMPLE_RATE,
    start: float = 0.0,
    duration: float | None = None,
) -> np.ndarray:
    """The first audio stream of ``path`` as mono float32 at ``sample_rate``: wav [T].

    Channels are averaged; resampling uses soxr (HQ). ``start``/``duration`` (seconds) cut
    a window on the output sample grid: T = round(duration * sample_rate); a window reaching
    past the end of the audio is zero-padded. Only the window (plus a short margin) is kept
    in memory, and decoding stops after it.
    """
    _check_request(path, sample_rate, start, duration)
    with open_input(path) as container:
        stream = audio_stream(container)
        if stream is None:
            raise MediaError(path, "has no audio stream")
        rate = int(stream.codec_context.sample_rate or 0)
        if not rate:
            raise MediaError(path, "has an audio stream with no sample rate")
        first = int(round(start * sample_rate))
        n_out = None if duration is None else int(round(duration * sample_rate))
        s0, s1 = _native_window(first, n_out, rate, sample_rate)
        native, length = _decode_window(path, container, stream, rate, s0, s1)
    if first > 0 and first * rate >= length * sample_rate:
        raise MediaError(path, f"start {start:.3f} s is beyond the end of the audio ({length / rate:.3f} s)")
    wav = resample(native, rate, sample_rate)
    offset = first - s0 * sample_rate // rate  # s0 lies on the output grid: this is exact
    if n_out is None:
        n_out = max(0, len(wav) - offset)
    return np.ascontiguousarray(fit_length(wav[offset:], n_out), dtype=np.float32)


def check_sample_rate(path, sample_rate) -> None:
    """Raise a MediaError naming ``path`` unless ``sample_rate`` is a plausible rate in Hz."""
    if not (isinstance(sample_rate, (int, np.integer)) and 0 < sample_rate <= MAX_SAMPLE_RATE):
        raise MediaError(path, f"sample rate {sample_rate!r} is not an integer in 1..{MAX_SAMPLE_RATE}")


def _check_request(path, sample_rate, start, duration) -> None:
    check_sample_rate(path, sample_rate)
    if not start >= 0:
        raise MediaError(path, f"start {start} s is negative")
    if duration is not None and not duration > 0:
        raise MediaError(path, f"requested duration {duration} s is not positive")


def _native_window(first: int, n_out: int | None, rate: int, sample_rate: int) -> tuple[int, int | None]:
    """Native sample range [s0, s1) covering output samples [first, first + n_out) plus a margin.

    s0 is a multiple of rate / gcd(rate, sample_rate), so it falls exactly on an output
    sample, and resampling the window gives the same samples as resampling everything.
    s1 is None for "to the end".
    """
    step = rate // math.gcd(rate, sample_rate)
    margin = int(_MARGIN * rate)
    s0 = max(0, (first * rate // sample_rate - margin) // step * step)
    if n_out is None:
        return s0, None
    return s0, -(-(first + n_out) * rate // sample_rate) + margin


def _decode_window(path, container, stream, rate: int, s0: int, s1: int | None) -> tuple[np.ndarray, int]:
    """Mono float32 native samples [s0, s1) of ``stream`` (s1 None: to the end), and the
    native index where the audio ends.

    Native index 0 is the file's origin: audio that starts later is preceded by silence,
    audio before it is dropped. Decoding stops once s1 is reached (the end returned is
    then only a lower bound); audio that ends clearly before its header said is an error.
    """
    origin = timeline_origin(container)
    chunks: list[np.ndarray] = []
    first = pos = None  # native index of the first decoded sample, of the next one
    for t, block in _mono_blocks(path, container, stream, rate):
        if pos is None:
            first = pos = int(round(((t or 0.0) - origin) * rate))
        chunks.append(block[max(0, s0 - pos) : None if s1 is None else max(0, s1 - pos)])
        pos += len(block)
        if s1 is not None and pos >= s1:
            break
    else:
        if pos is None:
            raise MediaError(path, "has an audio stream with no decodable samples")
        check_complete(path, declared_duration(stream) or 0.0, (pos - first) / rate, "s of audio", slack=0.1)
    lead = np.zeros(max(0, min(first, pos if s1 is None else s1) - s0), np.float32)  # audio starting late
    native = np.concatenate([lead, *chunks])
    return native[: max(0, pos - s0)], pos


def _mono_blocks(path, container, stream, rate: int) -> Iterator[tuple[float | None, np.ndarray]]:
    """Yield (time in s, samples averaged over channels [n] float32) for each decoded frame.

    Codecs with fixed frame sizes (AAC: 1024) pad the last frame and FFmpeg decodes the
    padding; where the container states that frame's true length in samples (MP4/MOV
    packet durations), the padding is cut. Decoding errors become "truncated or corrupt"
    MediaErrors.
    """
    to_float = av.AudioResampler(format="fltp", rate=rate)  # any sample format -> planar float
    held = None  # the latest frame, yielded once another follows: only the last one is cut
    t = None
    try:
        for frame in container.decode(stream):
            if held is not None:
                yield held[:2]
            t = frame.time
            held = (t, _mono(to_float.resample(frame)), _exact_length(frame, rate))
    except av.error.FFmpegError as exc:
        raise corrupt(path, exc, at=t) from None
    if held is not None:
        t, block, length = held
        yield t, block[:length] if length is not None and 0 < length < len(block) else block


def _mono(frames: list[av.AudioFrame]) -> np.ndarray:
    """Planar float frames -> [n] float32, channels averaged (FFmpeg's own stereo->mono
    downmix scales L+R by 1/sqrt(2) rather than 1/2)."""
    blocks = [f.to_ndarray().mean(axis=0) for f in frames]
    return np.concatenate(blocks) if blocks else np.zeros(0, np.float32)


def _exact_length(frame: av.AudioFrame, rate: int) -> int | None:
    """The frame's declared duration in samples, if its time base counts samples (else None)."""
    if frame.duration and frame.time_base == Fraction(1, rate):
        return int(frame.duration)
    return None


def resample(wav: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample along the last axis with soxr (HQ). wav: [T] or [C, T] float -> [T'] or [C, T']."""
    if orig_sr == target_sr:
        return wav
    if wav.ndim == 1:
        return soxr.resample(wav, orig_sr, target_sr, quality="HQ").astype(wav.dtype, copy=False)
    return np.stack([resample(ch, orig_sr, target_sr) for ch in wav])


def fit_length(wav: np.ndarray, n: int) -> np.ndarray:
    """Trim or zero-pad the last axis of ``wav`` [..., T] to exactly ``n`` samples: [..., n]."""
    have = wav.shape[-1]
    if have >= n:
        return wav[..., :n]
    pad = [(0, 0)] * (wav.ndim - 1) + [(0, n - have)]
    return np.pad(wav, pad)


def write_audio(
    path: str | os.PathLike,
    wav: np.ndarray,
    sample_rate: int = SAMPLE_RATE,
    *,
    subtype: str = "PCM_16",
    comment: str | None = None,
) -> None:
    """Write mono ``wav`` [T] to a .wav or .flac file (by suffix), atomically.

    subtype: "PCM_16" (default), "PCM_24", or "FLOAT" (wav only). PCM output is clipped
    to [-1, 1); float output is written as it is. comment: the file's comment tag (WAV's
    INFO ICMT, FLAC's COMMENT), which :func:`maskvat.media.probe.read_comment` reads back.
    """
    wav = checked_mono(path, wav)
    with SoundWriter(path, sample_rate, subtype=subtype, comment=comment) as out:
        out.write(wav)


class SoundWriter:
    """A mono .wav or .flac file written piece by piece, atomically: the file appears, complete,
    when the ``with`` block ends without an exception; on any exception (Ctrl-C included) the
    partial file is removed and a file already at ``path`` is left as it was.

        with SoundWriter("out/clip.wav", 44100, comment=tag) as out:
            for piece in pieces:          # float32 [t] each
                out.write(piece)

    subtype and comment as for :func:`write_audio`; ``frames`` counts the samples written.
    Bad arguments are MediaErrors raised before anything is written."""

    def __init__(self, path: str | os.PathLike, sample_rate: int = SAMPLE_RATE, *, subtype: str = "PCM_16",
                 comment: str | None = None):
        suffix = os.path.splitext(str(path))[1].lower().lstrip(".")
        if suffix not in _WRITE_SUBTYPES:
            raise MediaError(path, "audio output must end in .wav or .flac")
        if subtype not in _WRITE_SUBTYPES[suffix]:
            raise MediaError(path, f"cannot write {subtype} samples to .{suffix} (choose from {_WRITE_SUBTYPES[suffix]})")
        check_sample_rate(path, sample_rate)
        self.path, self.sample_rate, self.subtype, self.comment = path, sample_rate, subtype, comment
        self.format = suffix.upper()
        self.frames = 0
        self._atomic = self._file = None

    def __enter__(self) -> "SoundWriter":
        self._atomic = atomic_path(self.path)
        tmp = self._atomic.__enter__()
        try:
            self._file = sf.SoundFile(str(tmp), "w", self.sample_rate, 1, subtype=self.subtype, format=self.format)
            if self.comment:
                self._file.comment = self.comment  # (before the samples: WAV writes its INFO chunk ahead of them)
        except BaseException:
            self._atomic.__exit__(*sys.exc_info())
            raise
        return self

    def write(self, wav: np.ndarray) -> None:
        """Append mono samples [t] (float; PCM subtypes are clipped to [-1, 1))."""
        wav = checked_mono(self.path, wav)
        if self.subtype == "PCM_16":
            data = to_pcm(wav, 16)
        elif self.subtype == "PCM_24":
            data = to_pcm(wav, 24) << 8  # soundfile takes int32 samples left-aligned
        else:
            data = wav
        self._file.write(data)
        self.frames += len(wav)

    def __exit__(self, *exc) -> bool:
        try:
            self._file.close()
        except BaseException:
            if exc[0] is None:  # the file could not be finished: remove it, report why
                self._atomic.__exit__(*sys.exc_info())
                raise
        return bool(self._atomic.__exit__(*exc))


def to_pcm(wav: np.ndarray, bits: int) -> np.ndarray:
    """Float [T] -> signed integers of ``bits`` bits (int16 for 16, else int32), scaled by
    2**(bits-1) and clipped, so that a decoder's division by 2**(bits-1) gives back ``wav``
    to within half a step."""
    scale = 2 ** (bits - 1)
    ints = np.clip(np.round(np.asarray(wav, dtype=np.float64) * scale), -scale, scale - 1)
    return ints.astype(np.int16 if bits == 16 else np.int32)


def checked_mono(path, wav: np.ndarray) -> np.ndarray:
    """``wav`` as a finite mono float32 array [T], or a MediaError naming ``path``."""
    wav = np.asarray(wav, dtype=np.float32)
    if wav.ndim != 1:
        raise MediaError(path, f"expected mono audio of shape [T], got shape {wav.shape}")
    if not np.all(np.isfinite(wav)):
        raise MediaError(path, "audio to write contains NaN or infinite samples")
    return wav
