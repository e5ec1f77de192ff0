"""decode_frames: exact target times, the right source frame at each, any input rate."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from conftest import frame_index
from maskvat.media import decode_frames, probe


@pytest.mark.parametrize("fps", [25, Fraction(30000, 1001), 60, Fraction(24000, 1001)])
def test_same_rate_decode_returns_every_frame_at_exact_times(make_video, fps):
    n = 48
    path = make_video("v.mp4", n, fps)
    got = decode_frames(path, float(fps))
    assert len(got) == n
    np.testing.assert_allclose(got.times, np.arange(n) / float(fps), atol=1e-12)
    assert [frame_index(f) for f in got.frames] == list(range(n))


def test_probe_reports_exact_rate_duration_and_count(make_video):
    path = make_video("v.mp4", 60, Fraction(30000, 1001))
    v = probe(path).video
    assert v.fps == Fraction(30000, 1001)
    assert v.frame_count == 60 and not v.variable_frame_rate
    assert v.duration == pytest.approx(60 * 1001 / 30000, abs=1e-6)


def test_ntsc_source_at_25fps_picks_the_frame_on_screen(make_video):
    src_fps = 30000 / 1001
    path = make_video("ntsc.mp4", 59, Fraction(30000, 1001))
    got = decode_frames(path, 25)
    assert len(got) == math.floor(59 / src_fps * 25 + 1e-6)
    expected = [math.floor(t * src_fps + 1e-6) for t in got.times]
    assert [frame_index(f) for f in got.frames] == expected
    np.testing.assert_allclose(got.source_times, np.array(expected) / src_fps, atol=1e-4)


def test_60fps_source_at_25fps_and_size(make_video):
    path = make_video("v60.mp4", 58, 60)
    got = decode_frames(path, 25, size=(32, 16))
    assert got.frames.shape == (len(got), 16, 32, 3)
    assert [frame_index(f) for f in got.frames] == [math.floor(t * 60 + 1e-6) for t in got.times]


def test_variable_frame_rate(vfr_video):
    path, pts_ms = vfr_video
    assert probe(path).video.variable_frame_rate
    got = decode_frames(path, 20, duration=0.75)
    assert len(got) == 15
    for t, rgb in zip(got.times, got.frames):
        on_screen = max(i for i, p in enumerate(pts_ms) if p / 1000 <= t + 1e-6)
        assert frame_index(rgb) == on_screen, t


def test_start_offset_seeks_and_keeps_the_grid(make_video):
    path = make_video("v.mp4", 50, 25)
    got = decode_frames(path, 10, start=1.2, duration=0.5)
    np.testing.assert_allclose(got.times, 1.2 + np.arange(5) / 10)
    assert [frame_index(f) for f in got.frames] == [30, 32, 35, 37, 40]
