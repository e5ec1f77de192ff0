"""Helpers for media tests: tiny synthetic videos whose frames say which source frame they are.

Frame i of a fixture video is a solid grey of level ``grey_level(i)``; ``frame_index``
reads the index back from a decoded image, so tests can check which source frame a
decoder returned at each time. (A module of its own, not conftest.py: ``from conftest
import`` is ambiguous when several conftest.py files exist.)
"""

from __future__ import annotations

from fractions import Fraction

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


def encode_frames(path, frames, pts, time_base: Fraction, *, rate=None, gop=None, bframes=None):
    """Write frames [N, H, W, 3] with explicit pts (in ``time_base``) as H.264, bypassing write_video.

    rate: the nominal frame rate (default 1 / time_base); gop: keyframe interval (short
    GOPs make seeking land on a keyframe after 0); bframes: max consecutive B-frames.
    """
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=rate or 1 / time_base)
        s.width, s.height, s.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        s.codec_context.time_base = time_base
        options = {"preset": "veryfast"}
        if gop:
            options.update(g=str(gop), keyint_min=str(gop), sc_threshold="0")
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
