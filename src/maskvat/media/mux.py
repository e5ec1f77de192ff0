"""Muxing a generated track into a copy of a video, without re-encoding the video."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import av
import numpy as np

from maskvat.errors import MediaError
from maskvat.media._open import corrupt
from maskvat.atomic import atomic_path
from maskvat.media.audio import checked_mono, fit_length
from maskvat.media.probe import open_input, probe
from maskvat.media.write import (
    AudioTrack,
    add_audio_stream,
    check_audio_codec,
    open_output,
)

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
    audio, subtitle or data stream the input had is dropped. ``audio`` sample 0 plays with
    the first video frame, and the track is trimmed or zero-padded to the video stream's
    duration. audio_codec defaults to aac for .mp4/.m4v/.mov and flac for .mkv. The input
    is never overwritten; the output is written atomically.
    """
    src, dst = Path(video_path), Path(out_path)
    _refuse_overwrite(src, dst)
    codec = audio_codec or DEFAULT_AUDIO_CODEC.get(dst.suffix.lower())
    if codec is None:
        raise MediaError(dst, f"unsupported output container {dst.suffix!r} (use {', '.join(DEFAULT_AUDIO_CODEC)})")
    check_audio_codec(dst, codec, sample_rate)
    wav = checked_mono(dst, audio)
    video = probe(src).video
    if video is None:
        raise MediaError(src, "has no video stream")
    wav = fit_length(wav, int(round(video.duration * sample_rate)))
    with open_input(src) as inp, atomic_path(dst) as tmp, open_output(dst, tmp) as out:
        vin = inp.streams[video.index]
        vout = out.add_stream_from_template(vin)
        track = AudioTrack(out, add_audio_stream(dst, out, codec, sample_rate), wav, sample_rate,
                           first_pts=int(round(video.start_time * sample_rate)))
        for packet in _demux(src, inp, vin):
            packet.stream = vout
            out.mux(packet)
            if packet.dts is not None:
                track.write_until(float(packet.dts * packet.time_base))  # keep audio interleaved with video
        track.close()


def _refuse_overwrite(src: Path, dst: Path) -> None:
    """Writing the output over the input (same path, link or hard link) would destroy it."""
    if dst.exists() and src.exists() and os.path.samefile(src, dst):
        raise MediaError(dst, "output would overwrite the input video; choose another name")


def _demux(path, inp, stream) -> Iterator[av.Packet]:
    """The stream's packets; a demuxing failure is the input's fault ("truncated or corrupt")."""
    try:
        for packet in inp.demux(stream):
            if packet.size:  # empty: the demuxer's end-of-stream flush packet. (Not "dts is None":
                yield packet  # Matroska stores no dts, so its first reordered frames have none.)
    except av.error.FFmpegError as exc:
        raise corrupt(path, exc) from None
