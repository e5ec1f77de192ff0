"""Shared fixtures: tiny synthetic videos (64x48, about 1-2 s) written with ``write_video``.

The helpers that build them live in ``tests/media/media_helpers.py``.
"""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).with_name("media")))
sys.path.insert(0, str(Path(__file__).parent))  # model_helpers
from media_helpers import SIZE, encode_frames, indexed_frames  # noqa: E402

from maskvat.media import write_video  # noqa: E402


@pytest.fixture
def make_video(tmp_path):
    """make_video(name, n_frames, fps, audio=None, audio_codec="aac") -> path of an indexed-frames video."""

    def make(name, n, fps, audio=None, audio_codec="aac", size=SIZE):
        path = tmp_path / name
        write_video(path, indexed_frames(n, size), fps, audio=audio, audio_codec=audio_codec)
        return path

    return make


@pytest.fixture
def vfr_video(tmp_path):
    """A variable-frame-rate mp4: frame i (grey_level(i)) shown from PTS_MS[i] milliseconds."""
    pts_ms = [0, 40, 50, 130, 200, 210, 400, 450, 700, 720]
    path = encode_frames(tmp_path / "vfr.mp4", indexed_frames(len(pts_ms)), pts_ms, Fraction(1, 1000), rate=100)
    return path, pts_ms


@pytest.fixture(scope="module")
def one_torch_thread():
    """Run torch on one thread: on a busy 2-core machine, its thread pool makes the small
    convolutions of the tiny test models 30-60x slower than one thread."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)

