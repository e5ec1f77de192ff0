"""Shared fixtures: tiny synthetic videos whose frames say which source frame they are."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from maskvat.media import write_video

SR = 44100


def grey_level(i: int) -> int:
    """Grey level that frame i of a fixture video carries (decodable back to i for i < 60)."""
    return 10 + 4 * i


def frame_index(rgb: np.ndarray) -> int:
    """Which fixture frame a decoded image shows (mean grey level -> index)."""
    return int(round((float(rgb.mean()) - 10) / 4))


def indexed_frames(n: int, size=(64, 48)) -> np.ndarray:
    """[n, H, W, 3] uint8 solid frames, frame i at grey_level(i)."""
    w, h = size
    return np.stack([np.full((h, w, 3), grey_level(i), np.uint8) for i in range(n)])


@pytest.fixture
def make_video(tmp_path):
    """make_video(name, n_frames, fps, audio=None, audio_codec="aac") -> path of an indexed-frames video."""

    def make(name, n, fps, audio=None, audio_codec="aac", size=(64, 48)):
        path = tmp_path / name
        write_video(path, indexed_frames(n, size), fps, audio=audio, audio_codec=audio_codec)
        return path

    return make


@pytest.fixture
def vfr_video(tmp_path):
    """A variable-frame-rate mp4: frame i (grey_level(i)) shown from PTS_MS[i] milliseconds."""
    pts_ms = [0, 40, 50, 130, 200, 210, 400, 450, 700, 720]
    path = tmp_path / "vfr.mp4"
    frames = indexed_frames(len(pts_ms))
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=100)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        s.codec_context.time_base = Fraction(1, 1000)
        for rgb, pts in zip(frames, pts_ms):
            f = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            f.pts, f.time_base = pts, Fraction(1, 1000)
            out.mux(s.encode(f))
        out.mux(s.encode(None))
    return path, pts_ms
