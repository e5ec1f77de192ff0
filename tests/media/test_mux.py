"""mux_audio: the video stream is copied untouched, the audio fits the video, the input is safe."""

from __future__ import annotations

import av
import numpy as np
import pytest

from maskvat.errors import MediaError
from maskvat.media import mux_audio, probe, read_audio


def _video_packets(path):
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        return [(bytes(p), float(p.pts * p.time_base), float(p.dts * p.time_base), p.is_keyframe)
                for p in c.demux(s) if p.dts is not None]


@pytest.mark.parametrize("seconds", [1.0, 3.5])  # shorter than the video: padded; longer: trimmed
def test_video_packets_identical_and_audio_fits(make_video, tmp_path, seconds):
    src = make_video("in.mp4", 50, 25, audio=np.zeros(44100, np.float32))
    wav = (np.random.default_rng(1).standard_normal(int(seconds * 44100)) * 0.1).astype(np.float32)
    out = tmp_path / "out.mp4"
    mux_audio(src, wav, 44100, out)
    assert _video_packets(out) == _video_packets(src)
    info = probe(out)
    assert info.audio.codec == "aac" and info.audio.sample_rate == 44100
    with av.open(str(out)) as c:
        assert len(c.streams.video) == 1 and len(c.streams.audio) == 1
    back = read_audio(out)
    assert abs(len(back) - 2.0 * 44100) <= 1024  # within one AAC frame of the video's 2 s
    if seconds < 2.0:
        assert np.abs(back[int(1.2 * 44100):]).max() < 0.01  # the padded tail is silent


def test_lossless_mux_into_mkv_keeps_samples(make_video, tmp_path):
    src = make_video("in.mp4", 25, 25)
    wav = np.sin(np.linspace(0, 300, 44100)).astype(np.float32) * 0.5
    mux_audio(src, wav, 44100, tmp_path / "out.mkv")
    back = read_audio(tmp_path / "out.mkv")
    np.testing.assert_allclose(back, wav, atol=2 / 32768)


def test_refuses_to_overwrite_input(make_video):
    src = make_video("in.mp4", 10, 25)
    before = src.read_bytes()
    with pytest.raises(MediaError, match="overwrite the input"):
        mux_audio(src, np.zeros(100, np.float32), 44100, src)
    assert src.read_bytes() == before


def test_unknown_container_is_refused(make_video, tmp_path):
    with pytest.raises(MediaError, match="unsupported output container"):
        mux_audio(make_video("in.mp4", 10, 25), np.zeros(10, np.float32), 44100, tmp_path / "x.avi2")
