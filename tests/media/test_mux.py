"""mux_audio: the video stream is copied untouched, the audio fits the video, the input is safe."""

from __future__ import annotations

import os
from fractions import Fraction

import av
import numpy as np
import pytest
from media_helpers import SR, encode_frames, indexed_frames

from maskvat.errors import MediaError
from maskvat.media import decode_frames, mux_audio, probe, read_audio


def video_packets(path) -> list[tuple]:
    """Every video packet of ``path``: (payload bytes, pts, dts in seconds as exact fractions or None, keyframe)."""

    def seconds(ts, tb):
        return None if ts is None else ts * tb

    with av.open(str(path)) as c:
        s = c.streams.video[0]
        return [(bytes(p), seconds(p.pts, p.time_base), seconds(p.dts, p.time_base), p.is_keyframe)
                for p in c.demux(s) if p.size]


def stream_kinds(path) -> list[str]:
    with av.open(str(path)) as c:
        return [s.type for s in c.streams]


def noise(seconds: float, seed: int = 1) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(round(seconds * SR)) * 0.1).astype(np.float32)


@pytest.mark.parametrize("seconds", [1.0, 3.5])  # shorter than the 2 s video: padded; longer: trimmed
def test_aac_mux_copies_video_packets_and_fits_the_audio(make_video, tmp_path, seconds):
    src = make_video("in.mp4", 50, 25, audio=np.full(SR, 0.5, np.float32))  # its own track is dropped
    out = tmp_path / "out.mp4"
    mux_audio(src, noise(seconds), SR, out)
    packets = video_packets(out)
    assert len(packets) == 50 and packets == video_packets(src)
    assert stream_kinds(out) == ["video", "audio"]
    info = probe(out)
    assert info.audio.codec == "aac" and info.audio.sample_rate == SR and info.audio.channels == 1
    back = read_audio(out)
    assert len(back) == 2 * SR  # exact: the mp4 edit list cuts the priming, packet durations the padding
    loud = np.abs(back) > 0.02
    assert loud[: SR // 2].mean() > 0.5
    if seconds < 2.0:
        assert not loud[int(1.1 * SR) :].any()  # the padded tail is silent
    else:
        assert loud[-SR // 2 :].mean() > 0.5


def test_alac_mux_is_sample_exact_trimmed_and_padded(make_video, tmp_path):
    src = make_video("in.mp4", 25, 25, audio=np.full(SR, 0.5, np.float32))  # 1 s; its own track goes
    for seconds in (0.6, 1.7):
        wav = noise(seconds, seed=2)
        out = tmp_path / f"out{seconds}.mp4"
        mux_audio(src, wav, SR, out, audio_codec="alac")
        assert stream_kinds(out) == ["video", "audio"]
        back = read_audio(out)
        expected = np.pad(wav, (0, max(0, SR - len(wav))))[:SR]
        np.testing.assert_allclose(back, expected, rtol=0, atol=0.5 / 32768 + 1e-7)


def test_ntsc_b_frame_packets_survive_mp4_to_mkv_and_back(tmp_path):
    """29.97 fps, B-frames, short GOPs (pts != dts). Matroska keeps pts only, rounded to 1 ms,
    and its first reordered packets come back without dts: they must still be copied."""
    src = encode_frames(tmp_path / "in.mp4", indexed_frames(30), range(30), Fraction(1001, 30000), gop=5, bframes=2)
    want = video_packets(src)
    assert any(p[1] != p[2] for p in want)  # really reordered frames
    wav = noise(1.0)
    mux_audio(src, wav, SR, tmp_path / "out.mkv")
    got = video_packets(tmp_path / "out.mkv")
    assert [(p[0], p[3]) for p in got] == [(p[0], p[3]) for p in want]
    assert all(abs(g[1] - w[1]) <= Fraction(1, 1000) for g, w in zip(got, want))
    assert got[0][2] is None  # no dts stored for the first reordered packets
    assert probe(tmp_path / "out.mkv").audio.codec == "flac"
    n = round(30 * 1001 / 30000 * SR)
    expected = np.pad(wav, (0, max(0, n - len(wav))))[:n]
    np.testing.assert_allclose(read_audio(tmp_path / "out.mkv"), expected, rtol=0, atol=0.5 / 32768 + 1e-7)

    mux_audio(tmp_path / "out.mkv", wav, SR, tmp_path / "back.mp4")
    assert [(p[0], p[3]) for p in video_packets(tmp_path / "back.mp4")] == [(p[0], p[3]) for p in want]
    # Matroska's 1 ms rounding makes the copy end at 1.000 s, not 1.001: sampled mid-frame, its
    # frames are the source's (the 30th ends past the grid)
    fps = float(Fraction(30000, 1001))
    back = decode_frames(tmp_path / "back.mp4", fps, start=0.5 / fps)
    assert len(back) == 29 and probe(tmp_path / "back.mp4").video.frame_count == 30
    np.testing.assert_array_equal(back.frames, decode_frames(src, fps, start=0.5 / fps).frames[:29])


def test_refuses_to_overwrite_the_input(make_video, tmp_path):
    src = make_video("in.mp4", 10, 25)
    before = src.read_bytes()
    (tmp_path / "link.mp4").symlink_to(src)
    os.link(src, tmp_path / "hard.mp4")
    for out in (src, tmp_path / "link.mp4", tmp_path / "hard.mp4", tmp_path / "." / "in.mp4"):
        with pytest.raises(MediaError, match="overwrite the input"):
            mux_audio(src, np.zeros(100, np.float32), SR, out)
    assert src.read_bytes() == before


def test_bad_requests_are_refused_and_leave_nothing(make_video, tmp_path):
    src = make_video("in.mp4", 10, 25)
    for out, kwargs, problem in [
        ("x.avi2", {}, "unsupported output container"),
        ("x.mp4", {"audio_codec": "mp3x"}, "unsupported audio codec"),
        ("x.mp4", {"audio": np.zeros((2, 100))}, "expected mono"),
        ("x.mp4", {"sample_rate": -1}, "sample rate"),
    ]:
        args = {"audio": np.zeros(100, np.float32), "sample_rate": SR} | kwargs
        with pytest.raises(MediaError, match=problem):
            mux_audio(src, args["audio"], args["sample_rate"], tmp_path / out, audio_codec=kwargs.get("audio_codec"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]
