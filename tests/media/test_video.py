"""decode_frames: exact target times, the right source frame at each, any input rate."""

from __future__ import annotations

import math
from fractions import Fraction

import av
import numpy as np
import pytest
from media_helpers import encode_frames, frame_index, grey_level, indexed_frames

from maskvat.media import decode_frames, probe, write_video


def on_screen(t: float, src_fps: float) -> int:
    """Index of the constant-rate source frame on screen at time t."""
    return math.floor(t * src_fps + 1e-6)


@pytest.mark.parametrize("fps", [25, Fraction(30000, 1001), 60, Fraction(24000, 1001)])
def test_same_rate_decode_returns_every_frame_at_exact_times(make_video, fps):
    n = 48
    path = make_video("v.mp4", n, fps)
    got = decode_frames(path, float(fps))
    assert len(got) == n and got.frames.shape == (n, 48, 64, 3) and got.frames.dtype == np.uint8
    np.testing.assert_array_equal(got.times, np.arange(n) / float(fps))
    assert [frame_index(f) for f in got.frames] == list(range(n))
    np.testing.assert_allclose(got.source_times, np.arange(n) / float(fps), atol=1e-4)


def test_probe_reports_exact_rate_duration_and_count(make_video):
    path = make_video("v.mp4", 60, Fraction(30000, 1001))
    v = probe(path).video
    assert v.fps == Fraction(30000, 1001) and v.start_time == 0.0
    assert v.frame_count == 60 and not v.variable_frame_rate
    assert v.duration == pytest.approx(60 * 1001 / 30000, abs=1e-6)
    assert (v.width, v.height, v.codec, v.pix_fmt) == (64, 48, "h264", "yuv420p")


def test_ntsc_source_at_25fps_picks_the_frame_on_screen(make_video):
    src_fps = 30000 / 1001
    path = make_video("ntsc.mp4", 59, Fraction(30000, 1001))
    got = decode_frames(path, 25)
    assert len(got) == math.floor(59 / src_fps * 25 + 1e-6) == 49
    expected = [on_screen(t, src_fps) for t in got.times]
    assert expected != list(range(len(got)))  # the two grids really differ
    assert [frame_index(f) for f in got.frames] == expected
    np.testing.assert_allclose(got.source_times, np.array(expected) / src_fps, atol=1e-4)


def test_60fps_source_at_25fps_resized_keeps_levels(make_video):
    path = make_video("v60.mp4", 58, 60)
    got = decode_frames(path, 25, size=(32, 16))
    assert got.frames.shape == (len(got), 16, 32, 3)
    expected = [on_screen(t, 60) for t in got.times]
    # Levels within 1 of the source: scaling and RGB conversion in one swscale call shifts them by 2.
    for rgb, i in zip(got.frames, expected):
        assert abs(float(rgb.mean()) - grey_level(i)) <= 1.0, (i, rgb.mean())


def test_variable_frame_rate(vfr_video):
    path, pts_ms = vfr_video
    assert probe(path).video.variable_frame_rate
    got = decode_frames(path, 20, duration=0.75)
    assert len(got) == 15
    shown = [max(i for i, p in enumerate(pts_ms) if p / 1000 <= t + 1e-6) for t in got.times]
    assert [frame_index(f) for f in got.frames] == shown
    np.testing.assert_allclose(got.source_times, [pts_ms[i] / 1000 for i in shown], atol=1e-9)
    assert set(shown) != set(range(len(pts_ms)))  # frames 1, 4 were on screen between targets


@pytest.mark.parametrize("start", [0.3, 1.0, 1.234])
def test_start_offset_seeks_into_a_short_gop_video(tmp_path, start):
    """Keyframes every 5 frames and B-frames: the seek lands on a keyframe after frame 0."""
    src_fps = Fraction(30000, 1001)
    path = encode_frames(tmp_path / "gop.mp4", indexed_frames(59), range(59), 1 / src_fps, gop=5, bframes=2)
    got = decode_frames(path, 10, start=start, duration=0.6)
    np.testing.assert_allclose(got.times, start + np.arange(6) / 10, atol=1e-12)
    assert [frame_index(f) for f in got.frames] == [on_screen(t, float(src_fps)) for t in got.times]


def test_start_offset_matches_decoding_from_zero(make_video):
    path = make_video("v.mp4", 50, 25)
    whole = decode_frames(path, 10)
    part = decode_frames(path, 10, start=1.2, duration=0.5)
    np.testing.assert_array_equal(part.frames, whole.frames[12:17])
    assert [frame_index(f) for f in part.frames] == [30, 32, 35, 37, 40]


def test_times_count_from_the_first_frame_of_a_stream_that_starts_late(tmp_path):
    """MPEG-TS starts its clock after 0; frame 0 is still at t = 0."""
    path = tmp_path / "v.ts"
    write_video(path, indexed_frames(25), 25)
    assert probe(path).video.start_time > 0
    got = decode_frames(path, 25)
    assert [frame_index(f) for f in got.frames] == list(range(25))
    np.testing.assert_allclose(got.source_times, np.arange(25) / 25, atol=1e-6)


def test_requested_duration_sets_the_count(make_video):
    path = make_video("v.mp4", 10, 25)  # 0.4 s
    got = decode_frames(path, 25, start=0.2, duration=0.2)
    assert [frame_index(f) for f in got.frames] == [5, 6, 7, 8, 9]
    assert len(decode_frames(path, 7)) == math.floor(0.4 * 7 + 1e-6)


@pytest.mark.parametrize("fps,exact", [
    (Fraction(30000, 1001), Fraction(30000, 1001)),
    (29.97, Fraction(30000, 1001)),
    (30000 / 1001, Fraction(30000, 1001)),
    (23.976, Fraction(24000, 1001)),
    (59.94, Fraction(60000, 1001)),
    (12.5, Fraction(25, 2)),
])
def test_write_video_shows_frame_n_at_exactly_n_over_fps(tmp_path, fps, exact):
    path = tmp_path / "v.mp4"
    write_video(path, (rgb for rgb in indexed_frames(12)), fps)  # any iterable of frames
    with av.open(str(path)) as c:
        shown = [(f.pts * f.time_base, frame_index(f.to_ndarray(format="rgb24"))) for f in c.decode(video=0)]
    assert shown == [(n / exact, n) for n in range(12)]
    assert probe(path).video.fps == exact


def test_several_grids_from_one_pass_are_what_each_decode_gives(tmp_path, monkeypatch):
    """decode_grids: overlapping windows at two rates and sizes from one open of the file, each
    equal to its own decode_frames, handed over in the order they complete."""
    import maskvat.media.video as video

    src_fps = Fraction(30000, 1001)
    path = encode_frames(tmp_path / "gop.mp4", indexed_frames(59), range(59), 1 / src_fps, gop=12, bframes=2)
    info = probe(path).video
    grids = [video.Grid(25.0, 0.6, 0.8, (64, 48)), video.Grid(8.0, 0.6, 0.8, (32, 32)),
             video.Grid(25.0, 1.1, 0.7, (64, 48)), video.Grid(8.0, 1.1, 0.7, (32, 32)), video.Grid(10.0, 1.5)]
    opens = []
    real = video.open_input
    monkeypatch.setattr(video, "open_input", lambda p: opens.append(p) or real(p))
    got = list(video.decode_grids(path, grids, video=info))
    assert len(opens) == 1  # one pass, and no probe: the probed stream was given
    assert [j for j, _ in got] == [1, 0, 3, 2, 4]  # by the time of each grid's last frame (1.225, 1.36, 1.6, 1.74, 1.9 s)
    for j, frames in got:
        g = grids[j]
        alone = decode_frames(path, g.fps, g.size, g.start, g.duration)
        np.testing.assert_array_equal(frames.frames, alone.frames)
        np.testing.assert_array_equal(frames.source_times, alone.source_times)
        np.testing.assert_array_equal(frames.times, alone.times)
    assert [frame_index(f) for f in dict(got)[2].frames] == [on_screen(t, float(src_fps)) for t in dict(got)[2].times]
