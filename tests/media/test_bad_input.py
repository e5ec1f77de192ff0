"""Every bad input gives a MediaError naming the file and the problem, and leaves nothing behind."""

from __future__ import annotations

import re
import struct

import av
import numpy as np
import pytest
import soundfile as sf
from media_helpers import SR, indexed_frames

from maskvat.errors import MediaError
from maskvat.media import (
    decode_frames,
    mux_audio,
    probe,
    read_audio,
    write_audio,
    write_video,
)

READERS = {
    "probe": probe,
    "decode_frames": lambda p: decode_frames(p, 25),
    "read_audio": read_audio,
    "mux_audio": lambda p: mux_audio(p, np.zeros(10, np.float32), SR, p.with_name("muxed.mp4")),
}


def raises_naming(path, problem: str):
    """pytest.raises for a MediaError whose message is "<path>: ...<problem>..."."""
    return pytest.raises(MediaError, match=f"^{re.escape(str(path))}: .*{problem}")


@pytest.fixture
def faststart_video(tmp_path):
    """A 4 s noisy mp4 with audio whose index sits at the front, so that a cut copy still opens."""
    path = tmp_path / "fs.mp4"
    frames = (np.random.default_rng(0).random((100, 48, 64, 3)) * 255).astype(np.uint8)
    audio = (np.random.default_rng(1).standard_normal(4 * SR) * 0.1).astype(np.float32)
    with av.open(str(path), "w", options={"movflags": "faststart"}) as out:
        s = out.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        a = out.add_stream("aac", rate=SR)
        a.layout = "mono"
        for i, rgb in enumerate(frames):
            f = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            f.pts = i
            out.mux(s.encode(f))
        out.mux(s.encode(None))
        for k in range(0, len(audio), 1024):
            f = av.AudioFrame.from_ndarray(audio[None, k : k + 1024], format="fltp", layout="mono")
            f.sample_rate, f.pts = SR, k
            out.mux(a.encode(f))
        out.mux(a.encode(None))
    return path


def _cut(src, dst, fraction=0.5):
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * fraction)])
    return dst


@pytest.mark.parametrize("reader", READERS)
def test_missing_directory_empty_and_text(tmp_path, reader):
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "notes.mp4").write_text("not a video at all\n" * 50)
    (tmp_path / "notes.txt").write_text("FFmpeg's tty demuxer shows this as ANSI-art video\n" * 20)
    cases = {
        tmp_path / "missing.mp4": "no such file",
        tmp_path: "is a directory",
        tmp_path / "empty.mp4": r"is empty \(0 bytes\)",
        tmp_path / "notes.mp4": "not a media file",
        tmp_path / "notes.txt": "is a text file, not a media file",
    }
    for path, problem in cases.items():
        with raises_naming(path, problem):
            READERS[reader](path)
    assert not (tmp_path / "muxed.mp4").exists()


@pytest.mark.parametrize("reader", READERS)
def test_mp4_cut_in_half_with_its_index_at_the_end(make_video, tmp_path, reader):
    """The moov atom is lost: the file does not even open."""
    cut = _cut(make_video("v.mp4", 50, 25, audio=np.zeros(2 * SR, np.float32)), tmp_path / "cut.mp4")
    with raises_naming(cut, "truncated or corrupt"):
        READERS[reader](cut)


@pytest.mark.parametrize("reader", READERS)
def test_mp4_cut_in_half_with_its_index_in_front(faststart_video, tmp_path, reader):
    """The file opens and its index promises 4 s; half the packets are gone."""
    cut = _cut(faststart_video, tmp_path / "cut.mp4")
    with raises_naming(cut, "truncated or corrupt"):
        READERS[reader](cut)


def test_cut_at_a_packet_boundary_is_still_caught(faststart_video, tmp_path):
    """Cut exactly between two packets, the decoders see no error: the index's promise reveals the cut."""
    with av.open(str(faststart_video)) as c:
        positions = sorted(p.pos for p in c.demux() if p.size)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(faststart_video.read_bytes()[: positions[len(positions) // 2]])
    with raises_naming(cut, r"header promises 4.00 s of audio, only 1.\d\d are present"):
        read_audio(cut)
    with raises_naming(cut, r"header promises 4.00 s of video, only [123].\d\d are present"):
        decode_frames(cut, 25)


def test_video_whose_frames_cannot_be_decoded(make_video, tmp_path):
    """Container intact, every coded frame zeroed."""
    data = bytearray(make_video("v.mp4", 25, 25).read_bytes())
    at = data.find(b"mdat")
    size = struct.unpack(">I", data[at - 4 : at])[0]
    data[at + 4 : at - 4 + size] = bytes(size - 8)
    (tmp_path / "zeroed.mp4").write_bytes(data)
    # the packets are all there, but probe decodes the first frame: refused before any work
    for read in (probe, lambda p: decode_frames(p, 25)):
        with raises_naming(tmp_path / "zeroed.mp4", "corrupt: none of its h264 video frames could be decoded"):
            read(tmp_path / "zeroed.mp4")


def test_missing_streams(make_video, tmp_path):
    sf.write(tmp_path / "a.wav", np.zeros(4410, np.float32), SR)
    assert probe(tmp_path / "a.wav").video is None
    with raises_naming(tmp_path / "a.wav", "has no video stream"):
        decode_frames(tmp_path / "a.wav", 25)
    with raises_naming(tmp_path / "a.wav", "has no video stream"):
        mux_audio(tmp_path / "a.wav", np.zeros(10, np.float32), SR, tmp_path / "o.mp4")
    silent = make_video("silent.mp4", 10, 25)
    with raises_naming(silent, "has no audio stream"):
        read_audio(silent)
    assert not (tmp_path / "o.mp4").exists()


@pytest.mark.parametrize("kwargs,problem", [
    (dict(fps=0), "frame rate 0 is out of range"),
    (dict(fps=-25), "frame rate -25 is out of range"),
    (dict(fps=5000), "frame rate 5000 is out of range"),
    (dict(fps=float("nan")), "frame rate nan is out of range"),
    (dict(fps=25, size=(0, 10)), "frame size"),
    (dict(fps=25, size=(64, -1)), "frame size"),
    (dict(fps=25, size=(100000, 10)), "frame size"),
    (dict(fps=25, max_pixels=64 * 48 - 1), "frame size 64x48 exceeds the limit of 3071 pixels"),
    (dict(fps=25, start=7.0), "start 7.000 s is beyond the end of the video"),
    (dict(fps=25, start=-1.0), "start -1.0 s is negative"),
    (dict(fps=25, duration=0), "duration 0 s is not positive"),
    (dict(fps=25, duration=10.0, max_duration=5.0), "duration 10.0 s exceeds the limit of 5 s"),
    (dict(fps=25, max_duration=0.5), "duration 1.0 s exceeds the limit"),
    (dict(fps=1000, size=(8192, 8192), duration=3000.0, max_duration=3600), "GiB"),
])
def test_absurd_frame_requests(make_video, kwargs, problem):
    path = make_video("v.mp4", 25, 25)
    with raises_naming(path, problem):
        decode_frames(path, **kwargs)


def test_absurd_audio_requests(make_video):
    path = make_video("a.mp4", 25, 25, audio=np.zeros(SR, np.float32))
    for kwargs, problem in [
        (dict(start=5.0), "start 5.000 s is beyond the end of the audio"),
        (dict(start=-0.1), "negative"),
        (dict(duration=-1.0), "not positive"),
        (dict(sample_rate=0), "sample rate 0 is not an integer"),
        (dict(sample_rate=44100.5), "sample rate 44100.5 is not an integer"),
    ]:
        with raises_naming(path, problem):
            read_audio(path, **kwargs)


def test_failed_writes_leave_no_file(tmp_path):
    def dying_source():
        yield np.zeros((48, 64, 3), np.uint8)
        yield np.zeros((48, 64, 3), np.uint8)
        raise RuntimeError("source died")

    with pytest.raises(RuntimeError, match="source died"):
        write_video(tmp_path / "o.mp4", dying_source(), 25, audio=np.zeros(SR, np.float32))
    frames = indexed_frames(3)
    for name, args, kwargs, problem in [
        ("o.mp4", ([], 25), {}, "no frames to write"),
        ("o.mp4", ([frames[0], frames[1, :, :32]], 25), {}, r"frame 1 has shape \(48, 32, 3\)"),
        ("o.mp4", (frames.astype(np.float32), 25), {}, "frame 0 must be uint8 RGB"),
        ("o.mp4", (frames[..., 0], 25), {}, "frame 0 must be uint8 RGB"),
        ("o.mp4", (frames, 0), {}, "frame rate 0 is out of range"),
        ("o.mp4", (frames, 25, np.zeros((2, 10))), {}, "expected mono audio"),
        ("o.mp4", (frames, 25, np.zeros(10)), {"audio_codec": "mp3"}, "unsupported audio codec 'mp3'"),
        ("o.mp4", (frames, 25), {"video_codec": "nonsense"}, "unknown video codec 'nonsense'"),
        ("o.mp4", (frames, 25), {"video_codec": "aac"}, "'aac' is not a video codec"),
        ("o.wav", (frames, 25), {}, "cannot write video codec 'libx264' to this container"),
        ("o.xyz", (frames, 25), {}, "cannot write .xyz files"),
    ]:
        with raises_naming(tmp_path / name, problem):
            write_video(tmp_path / name, *args, **kwargs)
    with raises_naming(tmp_path / "o.wav", "NaN"):
        write_audio(tmp_path / "o.wav", np.array([0.0, np.inf]))
    assert list(tmp_path.iterdir()) == []
