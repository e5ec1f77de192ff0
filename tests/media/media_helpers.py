"""Helpers for media tests: tiny synthetic videos whose frames say which source frame they are.

Frame i of a fixture video is a solid grey of level ``grey_level(i)``; ``frame_index``
reads the index back from a decoded image, so tests can check which source frame a
decoder returned at each time. (A module of its own, not conftest.py: ``from conftest
import`` is ambiguous when several conftest.py files exist.)
"""

from __future__ import annotations

import struct
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

SR = 44100
SIZE = (64, 48)  # (width, height) of fixture videos


def grey_level(i: int) -> int:
    """Grey level that frame i of a fixture video carries (decodable back to i for i < 60)."""
    return 10 + 4 * i


def frame_index(rgb: np.ndarray) -> int:
    """Which fixture frame a decoded image [H, W, 3] shows (mean grey level -> index)."""
    return int(round((float(rgb.mean()) - 10) / 4))


def indexed_frames(n: int, size=SIZE) -> np.ndarray:
    """[n, H, W, 3] uint8 solid frames, frame i at grey_level(i)."""
    w, h = size
    return np.stack([np.full((h, w, 3), grey_level(i), np.uint8) for i in range(n)])


def encode_frames(path, frames, pts, time_base: Fraction, *, rate=None, gop=None, bframes=None,
                  codec="libx264", pix_fmt="yuv420p", rotate=None, container_format=None):
    """Write frames [N, H, W, 3] with explicit pts (in ``time_base``), bypassing write_video.

    rate: the nominal frame rate (default 1 / time_base); gop: keyframe interval (short
    GOPs make seeking land on a keyframe after 0); bframes: max consecutive B-frames (x264,
    mpeg4). codec: any PyAV video encoder ("libx264", "mpeg4", "libvpx-vp9", "gif", ...).
    rotate: degrees a player turns the frames clockwise, as a phone's ``rotate=90`` tag says
    (stored as the display matrix; FFmpeg's own angle is counter-clockwise).
    """
    with av.open(str(path), "w", format=container_format) as out:
        s = out.add_stream(codec, rate=rate or 1 / time_base)
        s.width, s.height, s.pix_fmt = frames.shape[2], frames.shape[1], pix_fmt
        s.codec_context.time_base = time_base
        if rotate is not None:
            s.set_display_rotation(-rotate)
        options = {"preset": "veryfast"} if codec == "libx264" else {}
        if gop:
            options["g"] = str(gop)
            if codec == "libx264":
                options.update(keyint_min=str(gop), sc_threshold="0")
        if bframes is not None:
            options["bf"] = str(bframes)
        s.options = options
        for rgb, p in zip(frames, pts):
            f = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            f.pts, f.time_base = int(p), time_base
            out.mux(s.encode(f))
        out.mux(s.encode(None))
    return path


def clicks(n_samples: int, at: list[int], value: float = 0.9) -> np.ndarray:
    """[n_samples] float32 silence with single-sample clicks at the given sample indices."""
    wav = np.zeros(n_samples, np.float32)
    wav[at] = value
    return wav


def stream_copy_cut(src, dst, drop: int):
    """What ``ffmpeg -ss T -i src -c copy dst`` makes of an MP4: the video packets copied from the
    start, timestamps moved ``drop`` frames earlier. The first ``drop`` frames fall before 0:
    the muxer writes an edit list that starts the shown video at frame ``drop``, and keeps
    the earlier frames as the pre-roll that the shown ones are decoded from."""
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        vin = inp.streams.video[0]
        vout = out.add_stream_from_template(vin, opaque=True)
        shift = None
        for packet in inp.demux(vin):
            if not packet.size:
                continue
            shift = shift or round(drop * packet.duration)  # a frame's duration, in the stream's ticks
            packet.pts -= shift
            packet.dts -= shift
            packet.stream = vout
            out.mux(packet)
    return dst


def set_edit_duration(path, seconds: float):
    """Shorten an MP4's one-entry video edit list to ``seconds``: the frames after it stay in the
    file but are not shown (as in stream-copied cuts that end between keyframes)."""
    data = bytearray(Path(path).read_bytes())
    at = _box(data, [b"moov", b"trak", b"edts", b"elst"])
    timescale = struct.unpack(">I", data[_box(data, [b"moov", b"mvhd"]) + 20:][:4])[0]  # mvhd version 0
    assert data[at + 8] == 0 and struct.unpack(">I", data[at + 12:at + 16])[0] == 1  # version 0, one entry
    struct.pack_into(">I", data, at + 16, round(seconds * timescale))  # the entry's segment duration
    Path(path).write_bytes(bytes(data))
    return path


def _box(data: bytearray, names: list[bytes], start: int = 0, end: int | None = None) -> int:
    """Offset of the ISO-BMFF box at the path ``names`` (first match at each level)."""
    end = len(data) if end is None else end
    while start < end:
        size, name = struct.unpack(">I4s", data[start:start + 8])
        if name == names[0]:
            return start if len(names) == 1 else _box(data, names[1:], start + 8, start + size)
        start += size
    raise KeyError(names[0])
