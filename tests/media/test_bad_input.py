"""Every bad input gives a MediaError naming the file and the problem, and leaves nothing behind."""

from __future__ import annotations

import av
import numpy as np
import pytest
import soundfile as sf

from maskvat.errors import MediaError
from maskvat.media import decode_frames, probe, read_audio, write_video


@pytest.fixture
def faststart_video(tmp_path):
    """A 4 s noisy mp4 whose index sits at the front, so that cutting it keeps it openable."""
    path = tmp_path / "fs.mp4"
    frames = (np.random.default_rng(0).random((100, 48, 64, 3)) * 255).astype(np.uint8)
    with av.open(str(path), "w", options={"movflags": "faststart"}) as out:
        s = out.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        for i, rgb in enumerate(frames):
            f = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            f.pts = i
            out.mux(s.encode(f))
        out.mux(s.encode(None))
    return path


def _cut(src, dst, fraction=0.5):
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * fraction)])
    return dst


def test_missing_directory_empty_and_text(tmp_path):
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "notes.mp4").write_text("not a video at all\n" * 50)
    cases = {
        tmp_path / "missing.mp4": "no such file",
        tmp_path: "is a directory",
        tmp_path / "empty.mp4": "is empty",
        tmp_path / "notes.mp4": "not a media file",
    }
    for path, problem in cases.items():
        for fn in (probe, lambda p: decode_frames(p, 25), read_audio):
            with pytest.raises(MediaError, match=problem) as exc:
                fn(path)
            assert str(path) in str(exc.value)


def test_truncated_files(make_video, faststart_video, tmp_path):
    tail_index = _cut(make_video("v.mp4", 50, 25), tmp_path / "cut_tail_index.mp4")
    with pytest.raises(MediaError, match="truncated or corrupt"):
        probe(tail_index)
    front_index = _cut(faststart_video, tmp_path / "cut_front_index.mp4")
    with pytest.raises(MediaError, match="is truncated: its header promises 100 video frames"):
        decode_frames(front_index, 25)


def test_missing_streams(make_video, tmp_path):
    sf.write(tmp_path / "a.wav", np.zeros(4410, np.float32), 44100)
    with pytest.raises(MediaError, match="has no video stream"):
        decode_frames(tmp_path / "a.wav", 25)
    silent_video = make_video("silent.mp4", 10, 25)
    with pytest.raises(MediaError, match="has no audio stream"):
        read_audio(silent_video)


def test_absurd_requests(make_video):
    path = make_video("v.mp4", 25, 25)
    for kwargs, problem in [
        (dict(fps=0), "frame rate"),
        (dict(fps=5000), "frame rate"),
        (dict(fps=25, size=(0, 10)), "frame size"),
        (dict(fps=25, size=(100000, 10)), "frame size"),
        (dict(fps=25, max_pixels=1000), "exceeds the limit"),
        (dict(fps=25, start=7.0), "outside the video"),
        (dict(fps=25, duration=10.0, max_duration=5.0), "exceeds the limit"),
    ]:
        with pytest.raises(MediaError, match=problem):
            decode_frames(path, **kwargs)
    with pytest.raises(MediaError, match="beyond the audio"):
        read_audio(make_video("a.mp4", 25, 25, audio=np.zeros(44100, np.float32)), start=5.0)


def test_failed_write_leaves_no_file(tmp_path):
    def frames():
        yield np.zeros((48, 64, 3), np.uint8)
        raise RuntimeError("source died")

    with pytest.raises(RuntimeError):
        write_video(tmp_path / "o.mp4", frames(), 25)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(MediaError, match="no frames"):
        write_video(tmp_path / "o.mp4", [], 25)
    assert list(tmp_path.iterdir()) == []
