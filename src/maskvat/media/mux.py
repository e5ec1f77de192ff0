"""Muxing a generated track into a copy of a video, without re-encoding the video."""

from __future__ import annotations

import os
from pathlib import Path

import av
import numpy as np

from maskvat.errors import MediaError
from maskvat.media._open import corrupt, open_media
from maskvat.media.atomic import atomic_path
from maskvat.media.audio import fit_length
from maskvat.media.probe import probe
from maskvat.media.write import add_audio_stream, encode_audio

# Audio codec used by default for each output container (by file suffix).
DEFAULT_AUDIO_CODEC = {".mp4": "aac", ".m4v": "aac", ".mov": "aac", ".mkv": "flac"}


def mux_audio(
    video_path: str | os.PathLike,
    audio: np.ndarray,
    sample_rate: int,
    out_path: str | os.PathLike,
    *,
    audio_codec: str | None = None,
) -> None:
    """Write a copy of ``video_path`` to ``out_path`` whose only audio track is ``audio`` [T].

    The video stream's packets are copied as they are (same bytes, same timestamps); any
    audio the input had is dropped. ``audio`` is trimmed or zero-padded to the video
    stream's duration. The input is never overwritten; the output is written atomically.
    """
    src, dst = Path(video_path), Path(out_path)
    if dst.exists() and src.exists() and dst.resolve() == src.resolve():
        raise MediaError(dst, "output would overwrite the input video; choose another name")
    codec = audio_codec or DEFAULT_AUDIO_CODEC.get(dst.suffix.lower())
    if codec is None:
        raise MediaError(dst, f"unsupported output container {dst.suffix!r} (use {', '.join(DEFAULT_AUDIO_CODEC)})")
    info = probe(src)
    if info.video is None:
        raise MediaError(src, "has no video stream")
    wav = fit_length(np.asarray(audio, dtype=np.float32), int(round(info.video.duration * sample_rate)))
    with open_media(src) as inp, atomic_path(dst) as tmp:
        with av.open(str(tmp), mode="w") as out:
            vin = inp.streams.video[0]
            vout = out.add_stream_from_template(vin)
            aout = add_audio_stream(out, codec, sample_rate)
            _copy_packets(src, inp, vin, out, vout)
            encode_audio(out, aout, wav, sample_rate)


def _copy_packets(path, inp, vin, out, vout) -> None:
    try:
        for packet in inp.demux(vin):
            if packet.dts is None:  # the demuxer's end-of-stream flush packet
                continue
            packet.stream = vout
            out.mux(packet)
    except av.error.FFmpegError as exc:
        raise corrupt(path, exc) from None
