"""The muxed copy of every common input: a container that holds the video stream untouched plus
the new sound (the input's own where it can), chosen before any work; the sound in sync."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest
from media_helpers import SR, clicks, encode_frames, frame_index, indexed_frames

from maskvat.errors import MediaError
from maskvat.media import decode_frames, mux_audio, muxed_suffix, probe, read_audio


def has_codec(name: str) -> bool:
    return name in av.codecs_available


# (file name, encoder, PyAV muxer, pixel format, fps, B-frames, suffix of the muxed copy)
INPUTS = [
    ("clip.mp4", "libx264", None, "yuv420p", 25, 2, ".mp4"),
    ("clip.mov", "libx264", None, "yuv420p", 25, 2, ".mov"),
    ("clip.mkv", "libx264", None, "yuv420p", 25, 2, ".mkv"),
    ("clip.webm", "libvpx-vp9", None, "yuv420p", 25, None, ".webm"),  # Opus sound, as WebM requires
    ("clip.avi", "mpeg4", None, "yuv420p", 25, 2, ".avi"),  # MPEG-4 part 2 with B-frames
    ("clip.ts", "libx264", "mpegts", "yuv420p", 25, 2, ".ts"),
    ("clip.gif", "gif", None, "rgb8", 10, None, ".mov"),  # Matroska refuses GIF; QuickTime holds it
    ("clip.flv", "libx264", None, "yuv420p", 25, None, ".mkv"),  # a container not kept: Matroska
    ("av1.mp4", "libsvtav1", None, "yuv420p", 25, None, ".mp4"),  # AV1 decodes with libdav1d, not an encoder
    ("hevc.mp4", "libx265", None, "yuv420p", 25, None, ".mp4"),
    ("hevc10.mkv", "libx265", None, "yuv420p10le", 25, None, ".mkv"),  # 10-bit HEVC
    ("h264_10bit.mp4", "libx264", None, "yuv420p10le", 25, 2, ".mp4"),  # 10-bit H.264 (High 10)
    ("prores.mov", "prores_ks", None, "yuv422p10le", 25, None, ".mov"),  # an editor's intermediate
    ("clip29.mp4", "libx264", None, "yuv420p", Fraction(30000, 1001), 2, ".mp4"),  # NTSC 29.97
    ("hevc.ts", "libx265", "mpegts", "yuv420p", 25, None, ".ts"),
    ("mpeg2.ts", "mpeg2video", "mpegts", "yuv420p", 25, 2, ".ts"),  # broadcast
    ("vp8.webm", "libvpx", None, "yuv420p", 25, None, ".webm"),
]


def video_packets(path) -> list[tuple[bytes, bool]]:
    with av.open(str(path)) as c:
        return [(bytes(p), p.is_keyframe) for p in c.demux(c.streams.video[0]) if p.size]


@pytest.mark.parametrize("name,codec,fmt,pix_fmt,fps,bframes,expected", INPUTS, ids=[i[0] for i in INPUTS])
def test_muxed_copy_of_every_common_input(tmp_path, name, codec, fmt, pix_fmt, fps, bframes, expected):
    if not has_codec(codec):
        pytest.skip(f"this PyAV has no {codec} encoder")
    n = 10 if codec == "gif" else 20
    src = encode_frames(tmp_path / name, indexed_frames(n), range(n), 1 / Fraction(fps), bframes=bframes,
                        codec=codec, pix_fmt=pix_fmt, container_format=fmt)
    assert muxed_suffix(src) == expected
    info = probe(src).video
    out = tmp_path / f"out{expected}"
    at = round(0.3 * SR)
    mux_audio(src, clicks(round(info.duration * SR), [at]), SR, out)
    assert video_packets(out) == video_packets(src)  # the video stream, untouched
    back = read_audio(out)
    assert len(back) >= round(info.duration * SR) - 1
    assert abs(int(np.argmax(np.abs(back))) - at) <= 2  # the click where it was put (opus: resampled)
    shown = [frame_index(f) for f in decode_frames(out, fps).frames]
    assert shown == [frame_index(f) for f in decode_frames(src, fps).frames]  # the same frames at the same times
    assert shown[0] == 0 and shown[-1] >= n - 2


def test_wrong_output_container_is_refused_before_writing(tmp_path):
    src = encode_frames(tmp_path / "a.gif", indexed_frames(5), range(5), Fraction(1, 10), codec="gif", pix_fmt="rgb8")
    with pytest.raises(MediaError, match=r"cannot hold the input's gif video .* write \.mov instead"):
        mux_audio(src, np.zeros(SR // 4, np.float32), SR, tmp_path / "a.mkv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.gif"]


@pytest.mark.parametrize("suffix,codec", [(".mkv", None), (".mp4", "alac")])
def test_sound_plays_at_its_true_time_in_the_whole_video(make_video, tmp_path, suffix, codec):
    """A sound generated from 0.6 s (``--start 0.6``) sits at 0.6 s in the copy, silence before."""
    src = make_video("v" + suffix, 50, 25)  # 2 s
    wav = clicks(round(0.8 * SR), [0, round(0.5 * SR)])  # events at 0.6 s and 1.1 s of the video
    mux_audio(src, wav, SR, tmp_path / ("out" + suffix), audio_codec=codec, start=0.6)
    back = read_audio(tmp_path / ("out" + suffix))
    assert len(back) == 2 * SR
    assert list(np.flatnonzero(np.abs(back) > 0.5)) == [round(0.6 * SR), round(1.1 * SR)]
    with pytest.raises(MediaError, match="outside the video"):
        mux_audio(src, wav, SR, tmp_path / ("late" + suffix), start=2.5)


def two_video_streams(path, n=20, fps=25):
    """An mp4 with two video streams: indexed frames first, then plain grey ones."""
    frames, tb = indexed_frames(n), Fraction(1, fps)
    with av.open(str(path), "w") as out:
        streams = [out.add_stream("libx264", rate=fps) for _ in range(2)]
        for s in streams:
            s.width, s.height, s.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
            s.codec_context.time_base = tb
        for i, rgb in enumerate(frames):
            for s, img in zip(streams, (rgb, np.full_like(rgb, 128))):
                f = av.VideoFrame.from_ndarray(img, format="rgb24")
                f.pts, f.time_base = i, tb
                out.mux(s.encode(f))
        for s in streams:
            out.mux(s.encode(None))
    return path


def test_a_file_with_two_video_streams_uses_the_first_and_the_copy_holds_it_alone(tmp_path):
    src = two_video_streams(tmp_path / "two.mp4")
    assert muxed_suffix(src) == ".mp4"
    mux_audio(src, clicks(round(0.8 * SR), [round(0.3 * SR)]), SR, tmp_path / "out.mp4")
    with av.open(str(tmp_path / "out.mp4")) as c:
        assert len(c.streams.video) == 1 and len(c.streams.audio) == 1
    assert video_packets(tmp_path / "out.mp4") == video_packets(src)  # (video_packets reads the first stream)
    assert [frame_index(f) for f in decode_frames(src, 25).frames][:3] == [0, 1, 2]  # the frames of the first


@pytest.mark.parametrize("audio_seconds", [0.3, 2.5])  # the old sound ends early / runs past the video
def test_the_sound_lasts_the_video_whatever_the_old_sound_lasted(make_video, tmp_path, audio_seconds):
    from maskvat.pipeline.limits import requested_duration

    src = make_video("v.mp4", 25, 25, audio=np.zeros(round(audio_seconds * SR), np.float32))  # 1 s of video
    assert probe(src).audio is not None
    assert requested_duration(src) == pytest.approx(probe(src).video.duration)
    mux_audio(src, clicks(SR, [round(0.5 * SR)]), SR, tmp_path / "out.mp4")
    back = read_audio(tmp_path / "out.mp4")
    assert abs(len(back) - SR) <= 1 and abs(int(np.argmax(np.abs(back))) - round(0.5 * SR)) <= 2
