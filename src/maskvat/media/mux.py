"""Muxing a generated track into a copy of a video, without re-encoding the video.

    suffix = muxed_suffix("clip.webm")                       # ".webm": where the copy can be written
    mux_audio("clip.webm", wav, 44100, "out/clip_maskvat" + suffix, start=12.0)

The copy keeps the input's container where that container can hold the input's video
stream untouched plus a new sound track (MP4, M4V, MOV, Matroska, WebM with VP8/VP9/AV1,
MPEG-TS, AVI); otherwise it is Matroska (.mkv, which holds almost any codec), or QuickTime
(.mov) for the few Matroska refuses (GIF). :func:`muxed_suffix` answers before any work.
"""

from __future__ import annotations

import io
import itertools
import os
from pathlib import Path
from typing import Iterator

import av
import numpy as np
import soundfile as sf

from maskvat.atomic import atomic_path
from maskvat.errors import MediaError
from maskvat.media._open import corrupt
from maskvat.media.audio import checked_mono
from maskvat.media.probe import open_input, probe, video_stream
from maskvat.media.write import (
    AudioTrack,
    add_audio_stream,
    check_audio_codec,
    open_output,
)

# Output containers a muxed copy can take, by file suffix: (FFmpeg muxer, audio codec).
CONTAINERS = {
    ".mp4": ("mp4", "aac"),
    ".m4v": ("ipod", "aac"),
    ".mov": ("mov", "aac"),
    ".mkv": ("matroska", "flac"),
    ".webm": ("webm", "libopus"),  # WebM takes only VP8/VP9/AV1 video and Opus/Vorbis sound
    ".ts": ("mpegts", "aac"),
    ".m2ts": ("mpegts", "aac"),
    ".mts": ("mpegts", "aac"),
    ".avi": ("avi", "pcm_s16le"),  # AVI stores no presentation times: only AVI keeps its B-frames right
}
FALLBACK_SUFFIXES = (".mkv", ".mov")  # for inputs whose own container cannot take the copy
# MPEG-TS "accepts" any codec but gives players a stream type only for these.
_TS_VIDEO_CODECS = frozenset({"h264", "hevc", "mpeg1video", "mpeg2video", "mpeg4", "vc1"})
DEFAULT_AUDIO_CODEC = {suffix: codec for suffix, (_, codec) in CONTAINERS.items()}


def muxed_suffix(video_path: str | os.PathLike) -> str:
    """The suffix of the container :func:`mux_audio` should write ``video_path``'s copy in.

    The input's own suffix where its container can hold the video stream as it is plus a
    new sound track, else ".mkv", else ".mov" (GIF). Reads only the header; raises a
    MediaError if the file has no video stream or no container here can hold it.
    """
    path = Path(video_path)
    own = path.suffix.lower()
    candidates = ((own,) if own in CONTAINERS else ()) + tuple(s for s in FALLBACK_SUFFIXES if s != own)
    with open_input(path) as inp:
        stream = video_stream(inp)
        if stream is None:
            raise MediaError(path, "has no video stream")
        for suffix in candidates:
            if _can_hold(suffix, stream):
                return suffix
        codec = stream.codec_context.codec.canonical_name if stream.codec_context else "its"
    raise MediaError(path, f"no output container here can hold its {codec} video untouched "
                           f"(tried {', '.join(candidates)})")


def _can_hold(suffix: str, stream) -> bool:
    """Whether ``suffix``'s muxer takes ``stream`` copied as it is, plus its sound codec (nothing is written)."""
    muxer, audio_codec = CONTAINERS[suffix]
    if muxer == "mpegts" and (stream.codec_context is None or stream.codec_context.codec.canonical_name
                              not in _TS_VIDEO_CODECS):
        return False
    try:
        with av.open(io.BytesIO(), "w", format=muxer) as out:
            out.add_stream_from_template(stream, opaque=True)
            out.add_stream(audio_codec)
    except (ValueError, av.error.FFmpegError):  # "'matroska' format does not support 'gif' codec"
        return False
    return True


def mux_audio(
    video_path: str | os.PathLike,
    audio: np.ndarray | str | os.PathLike,
    sample_rate: int,
    out_path: str | os.PathLike,
    *,
    audio_codec: str | None = None,
    start: float = 0.0,
    comment: str | None = None,
) -> None:
    """Write a copy of ``video_path`` to ``out_path`` whose only audio track is ``audio``.

    audio: samples [T] at ``sample_rate``, or the path of a mono .wav/.flac file at
    ``sample_rate`` (read block by block as the muxing reaches it, so that an hour of sound
    never needs to be in memory). The video stream's packets are copied as they are (same
    bytes, same timestamps, the display rotation kept); any audio, subtitle or data stream
    the input had is dropped. Sample 0 plays at ``start`` seconds of the video (0: with its
    first frame); the track is silent before it, and trimmed or zero-padded to the video's
    duration, so a sound generated for part of a video plays at its true time in the whole
    video. out_path's suffix picks the container (:data:`CONTAINERS`; :func:`muxed_suffix`
    says which one fits an input); audio_codec defaults to the container's (aac, flac for
    .mkv, opus for .webm, 16-bit PCM for .avi). comment: the output's comment tag (MPEG-TS
    has none; :func:`maskvat.media.probe.read_comment` reads it back). The input is never
    overwritten; the output is written atomically (an interrupted mux leaves no file).
    """
    src, dst = Path(video_path), Path(out_path)
    _refuse_overwrite(src, dst)
    codec = audio_codec or DEFAULT_AUDIO_CODEC.get(dst.suffix.lower())
    if codec is None:
        raise MediaError(dst, f"unsupported output container {dst.suffix!r} (use {', '.join(CONTAINERS)})")
    check_audio_codec(dst, codec, sample_rate)
    from_file = isinstance(audio, (str, os.PathLike))
    pieces = _file_pieces(Path(audio), sample_rate) if from_file else iter([checked_mono(dst, audio)])
    video = probe(src).video
    if video is None:
        raise MediaError(src, "has no video stream")
    if not 0 <= start < video.duration:
        raise MediaError(src, f"sound start {start:.3f} s is outside the video (0 to {video.duration:.3f} s)")
    lead = int(round(start * sample_rate))
    placed = _placed(pieces, lead, int(round(video.duration * sample_rate)))
    track_audio = placed if from_file else np.concatenate(list(placed))  # an array: resampled whole, as before
    with open_input(src) as inp, atomic_path(dst) as tmp, open_output(dst, tmp) as out:
        if comment:
            out.metadata["comment"] = comment
        vin = inp.streams[video.index]
        try:  # opaque: the stream is copied, so no encoder is looked up (AV1 decodes with "libdav1d")
            vout = out.add_stream_from_template(vin, opaque=True)
        except ValueError as exc:
            raise MediaError(dst, f"cannot hold the input's {video.codec} video ({exc}); "
                                  f"write {muxed_suffix(src)} instead") from None
        track = AudioTrack(out, add_audio_stream(dst, out, codec, sample_rate), track_audio, sample_rate,
                           start=video.start_time)
        for packet in _demux(src, inp, vin):
            packet.stream = vout
            out.mux(packet)
            if packet.dts is not None:
                track.write_until(float(packet.dts * packet.time_base))  # keep audio interleaved with video
        track.close()


_BLOCK = 1 << 16  # samples read from a sound file at a time


def _file_pieces(path: Path, sample_rate: int) -> Iterator[np.ndarray]:
    """A mono sound file's samples as float32 pieces [t]; a MediaError naming it if it cannot be
    read, is not mono or is not at ``sample_rate`` (checked before the first piece)."""
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise MediaError(path, f"cannot read the sound to mux ({exc})") from None
    if info.channels != 1 or info.samplerate != sample_rate:
        raise MediaError(path, f"the sound to mux must be mono at {sample_rate} Hz, not {info.channels} channels "
                               f"at {info.samplerate} Hz")

    def pieces():
        yield from sf.blocks(str(path), blocksize=_BLOCK, dtype="float32", always_2d=False)

    return pieces()


def _placed(pieces: Iterator[np.ndarray], lead: int, total: int) -> Iterator[np.ndarray]:
    """``lead`` zeros, then the pieces, trimmed or zero-padded to ``total`` samples in all."""
    left = total
    for piece in itertools.chain([np.zeros(min(lead, total), np.float32)], pieces):
        if left <= 0:
            return
        piece = np.asarray(piece, np.float32)[:left]
        left -= len(piece)
        yield piece
    while left > 0:
        yield np.zeros(min(left, _BLOCK), np.float32)
        left -= _BLOCK
def _refuse_overwrite(src: Path, dst: Path) -> None:
    """Writing the output over the input (same path, link or hard link) would destroy it."""
    if dst.exists() and src.exists() and os.path.samefile(src, dst):
        raise MediaError(dst, "output would overwrite the input video; choose another name")


def _demux(path, inp, stream) -> Iterator[av.Packet]:
    """The stream's packets; a demuxing failure is the input's fault ("truncated or corrupt").

    Packets an edit list leaves out ("discard") are kept where a shown packet follows them
    (the pre-roll that shown frames are decoded from); the ones after the last shown packet
    lie past the edit's end, no shown frame needs them, and they are dropped, so that the
    copy does not show them.
    """
    held: list[av.Packet] = []
    try:
        for packet in inp.demux(stream):
            if not packet.size:  # the demuxer's end-of-stream flush packet. (Not "dts is None":
                continue  # Matroska stores no dts, so its first reordered frames have none.)
            if packet.is_discard:
                held.append(packet)
                continue
            yield from held
            held.clear()
            yield packet
    except av.error.FFmpegError as exc:
        raise corrupt(path, exc) from None
