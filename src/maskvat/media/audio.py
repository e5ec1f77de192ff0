"""Audio: read any media's audio as mono 44.1 kHz float32, resample, write wav/flac."""

from __future__ import annotations

import os

import av
import numpy as np
import soundfile as sf
import soxr

from maskvat.errors import MediaError
from maskvat.media._open import corrupt, open_media
from maskvat.media.atomic import atomic_path

SAMPLE_RATE = 44100


def read_audio(
    path: str | os.PathLike,
    sample_rate: int = SAMPLE_RATE,
    start: float = 0.0,
    duration: float | None = None,
) -> np.ndarray:
    """The first audio stream of ``path`` as mono float32 at ``sample_rate``.

    Returns wav: [T]. Channels are averaged; resampling uses soxr (high quality).
    ``start``/``duration`` (seconds) cut the result on the output sample grid.
    """
    if start < 0 or (duration is not None and duration <= 0):
        raise MediaError(path, f"invalid audio window start={start} duration={duration}")
    native, native_sr = _decode_mono(path)
    wav = resample(native, native_sr, sample_rate)
    first = int(round(start * sample_rate))
    if first >= len(wav) and len(wav) > 0:
        raise MediaError(path, f"start {start:.3f} s is beyond the audio's end ({len(wav) / sample_rate:.3f} s)")
    last = len(wav) if duration is None else first + int(round(duration * sample_rate))
    return np.ascontiguousarray(wav[first:last], dtype=np.float32)


def _decode_mono(path) -> tuple[np.ndarray, int]:
    """Decode the whole first audio stream to mono float32 at its native rate."""
    with open_media(path) as container:
        if not container.streams.audio:
            raise MediaError(path, "has no audio stream")
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate
        if not rate:
            raise MediaError(path, "has an audio stream with no sample rate")
        # Planar float at the native rate and layout; channels are averaged here, since
        # FFmpeg's own stereo->mono downmix scales L+R by 1/sqrt(2) rather than 1/2.
        resampler = av.AudioResampler(format="fltp", rate=rate)
        chunks: list[np.ndarray] = []
        t = None
        try:
            for frame in container.decode(stream):
                t = frame.time
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().mean(axis=0))
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().mean(axis=0))
        except av.error.FFmpegError as exc:
            raise corrupt(path, exc, at=t) from None
    if not chunks:
        raise MediaError(path, "has an audio stream with no decodable samples")
    return np.concatenate(chunks).astype(np.float32, copy=False), int(rate)


def resample(wav: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample along the last axis with soxr (HQ). wav: [T] or [C, T] float."""
    if orig_sr == target_sr:
        return wav
    if wav.ndim == 1:
        return soxr.resample(wav, orig_sr, target_sr, quality="HQ").astype(wav.dtype, copy=False)
    return np.stack([resample(ch, orig_sr, target_sr) for ch in wav])


def fit_length(wav: np.ndarray, n: int) -> np.ndarray:
    """Trim or zero-pad the last axis of ``wav`` to exactly ``n`` samples."""
    have = wav.shape[-1]
    if have >= n:
        return wav[..., :n]
    pad = [(0, 0)] * (wav.ndim - 1) + [(0, n - have)]
    return np.pad(wav, pad)


def write_audio(path: str | os.PathLike, wav: np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
    """Write mono ``wav`` [T] to .wav (16-bit PCM) or .flac (16-bit), atomically; clips to [-1, 1]."""
    suffix = str(path).lower().rsplit(".", 1)[-1]
    if suffix not in ("wav", "flac"):
        raise MediaError(path, "audio output must end in .wav or .flac")
    wav = np.asarray(wav, dtype=np.float32)
    if wav.ndim != 1:
        raise MediaError(path, f"expected mono audio [T], got shape {wav.shape}")
    if not np.all(np.isfinite(wav)):
        raise MediaError(path, "audio to write contains NaN or infinite samples")
    with atomic_path(path) as tmp:
        sf.write(str(tmp), np.clip(wav, -1.0, 1.0), sample_rate, subtype="PCM_16", format=suffix.upper())
