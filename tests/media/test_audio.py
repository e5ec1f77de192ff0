"""Audio: mono 44.1 kHz from anything, windows, resampling, wav/flac writing, sample-exact ALAC."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest
import soundfile as sf
from media_helpers import SR, clicks, indexed_frames

from maskvat.errors import MediaError
from maskvat.media import (
    decode_frames,
    fit_length,
    probe,
    read_audio,
    resample,
    write_audio,
    write_video,
)


def assert_pcm_equal(back: np.ndarray, wav: np.ndarray, bits: int) -> None:
    """back is wav, clipped to [-1, 1 - step] and quantised to ``bits`` bits: within half a step."""
    step = 2.0 ** (1 - bits)
    np.testing.assert_allclose(back, np.clip(wav, -1, 1 - step), rtol=0, atol=step / 2 + 1e-7)


def noise(n: int, seed: int = 0, scale: float = 0.2) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(n) * scale).astype(np.float32)


def test_stereo_48k_becomes_mono_44k_with_the_right_pitch(tmp_path):
    sr, f0 = 48000, 1000.0
    t = np.arange(sr) / sr
    stereo = np.stack([np.sin(2 * np.pi * f0 * t), 0.5 * np.sin(2 * np.pi * f0 * t)], axis=1) * 0.5
    sf.write(tmp_path / "s.wav", stereo.astype(np.float32), sr, subtype="FLOAT")
    wav = read_audio(tmp_path / "s.wav")
    assert wav.dtype == np.float32 and wav.shape == (44100,)
    spectrum = np.abs(np.fft.rfft(wav * np.hanning(len(wav))))
    assert np.fft.rfftfreq(len(wav), 1 / 44100)[spectrum.argmax()] == pytest.approx(f0, abs=1)
    assert np.abs(wav[1000:-1000]).max() == pytest.approx(0.375, abs=0.005)  # the mean of the two channels


@pytest.mark.parametrize("suffix,subtype,bits", [
    ("wav", "PCM_16", 16),
    ("flac", "PCM_16", 16),
    ("flac", "PCM_24", 24),
    ("wav", "FLOAT", None),
])
def test_write_read_round_trip(tmp_path, suffix, subtype, bits):
    wav = noise(4410)
    wav[:3] = [1.5, -1.5, 0.0]  # out of range: clipped in PCM, kept in float
    path = tmp_path / f"x.{suffix}"
    write_audio(path, wav, subtype=subtype)
    back = read_audio(path)
    assert back.shape == wav.shape
    if bits is None:
        np.testing.assert_array_equal(back, wav)
    else:
        assert_pcm_equal(back, wav, bits)


def test_write_audio_refuses_bad_requests(tmp_path):
    for name, wav, kwargs, problem in [
        ("x.mp3", np.zeros(10), {}, "must end in .wav or .flac"),
        ("x.flac", np.zeros(10), {"subtype": "FLOAT"}, "cannot write FLOAT"),
        ("x.wav", np.zeros((2, 10)), {}, "expected mono"),
        ("x.wav", np.array([0.0, np.nan]), {}, "NaN"),
        ("x.wav", np.zeros(10), {"sample_rate": 0}, "sample rate"),
    ]:
        with pytest.raises(MediaError, match=problem):
            write_audio(tmp_path / name, wav, **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_window_equals_the_same_samples_of_a_full_read(tmp_path):
    """A window is decoded and resampled on its own, yet matches the full read sample for sample."""
    sf.write(tmp_path / "n.flac", noise(3 * 48000, seed=3), 48000, subtype="PCM_24")
    full = read_audio(tmp_path / "n.flac")
    assert len(full) == 3 * SR
    for start, duration in [(0.0, 0.5), (1.2345, 0.7), (2.5, 0.5)]:
        part = read_audio(tmp_path / "n.flac", start=start, duration=duration)
        first = round(start * SR)
        assert len(part) == round(duration * SR)
        np.testing.assert_allclose(part, full[first : first + len(part)], rtol=0, atol=1e-5)
    tail = read_audio(tmp_path / "n.flac", start=2.9)
    np.testing.assert_allclose(tail, full[round(2.9 * SR) :], rtol=0, atol=1e-5)


def test_window_past_the_end_is_zero_padded(tmp_path):
    wav = np.linspace(-0.5, 0.5, SR, dtype=np.float32)
    write_audio(tmp_path / "r.wav", wav, subtype="FLOAT")
    part = read_audio(tmp_path / "r.wav", start=0.75, duration=0.5)
    assert len(part) == SR // 2
    np.testing.assert_array_equal(part[: SR // 4], wav[3 * SR // 4 :])
    assert not part[SR // 4 :].any()


@pytest.mark.parametrize("fps", [25, Fraction(30000, 1001)])
def test_alac_in_mp4_is_sample_exact(make_video, fps):
    """The lab benchmark's contract: a click at frame k's time lands at sample round(k / fps * 44100)."""
    n = 50
    ks = [0, 3, 17, 41, 49]
    audio = clicks(round(n / fps * SR), [round(k / fps * SR) for k in ks])
    audio[10000:14000] = noise(4000, seed=1, scale=0.05)  # some signal besides the clicks
    path = make_video("clicks.mp4", n, fps, audio=audio, audio_codec="alac")
    back = read_audio(path)
    assert back.shape == audio.shape
    assert_pcm_equal(back, audio, 16)  # 16-bit quantisation only
    assert list(np.flatnonzero(np.abs(back) > 0.5)) == [round(k / fps * SR) for k in ks]


def test_aac_in_mp4_starts_and_ends_exactly(make_video):
    """AAC's 1024 priming samples are cut by the mp4 edit list; its padded last frame by the stream duration."""
    n_samples = 2 * SR + 137
    at = [1000, 44100, 80000]
    path = make_video("aac.mp4", 50, 25, audio=clicks(n_samples, at), audio_codec="aac")
    back = read_audio(path)
    assert back.shape == (n_samples,)
    peaks = [p - 200 + int(np.argmax(np.abs(back[p - 200 : p + 200]))) for p in at]
    assert peaks == at


def test_audio_that_starts_after_the_video_is_preceded_by_silence(tmp_path):
    """Sample i of read_audio plays with the video frame at i / 44100 s, even if the audio starts late."""
    path = tmp_path / "late.mkv"
    tone = np.full(SR // 2, 0.5, np.float32)
    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=25)
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        a = out.add_stream("flac", rate=SR)
        a.layout, a.format = "mono", "s16"
        for i, rgb in enumerate(indexed_frames(25)):
            f = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            f.pts, f.time_base = i, Fraction(1, 25)
            out.mux(v.encode(f))
        out.mux(v.encode(None))
        f = av.AudioFrame.from_ndarray((tone * 32767).astype(np.int16)[None], format="s16", layout="mono")
        f.sample_rate, f.pts, f.time_base = SR, SR // 4, Fraction(1, SR)  # starts at 0.25 s
        out.mux(a.encode(f))
        out.mux(a.encode(None))
    assert probe(path).audio.start_time == pytest.approx(0.25, abs=1e-3)
    wav = read_audio(path)
    assert len(wav) == SR // 4 + SR // 2
    assert not wav[: SR // 4 - 50].any() and np.allclose(wav[SR // 4 + 50 :], 0.5, atol=1e-3)
    assert len(decode_frames(path, 25)) == 25


def test_transport_stream_keeps_audio_in_sync_with_frames(tmp_path):
    """MPEG-TS: both clocks start after 0 and AAC priming is not cut; clicks still land on their frames."""
    at = [round(k / 25 * SR) for k in (3, 17, 41)]
    path = tmp_path / "v.ts"
    write_video(path, indexed_frames(50), 25, audio=clicks(2 * SR, at))
    info = probe(path)
    assert info.video.start_time > 0 and info.audio.start_time != info.video.start_time
    back = read_audio(path)
    assert [p - 200 + int(np.argmax(np.abs(back[p - 200 : p + 200]))) for p in at] == at


def test_resample_and_fit_length():
    x = np.sin(np.linspace(0, 100, 16000)).astype(np.float32)
    assert resample(x, 16000, 44100).shape == (44100,)
    assert resample(np.stack([x, x]), 16000, 8000).shape == (2, 8000)
    assert resample(x, 44100, 44100) is x
    np.testing.assert_array_equal(fit_length(x, 10), x[:10])
    padded = fit_length(np.stack([x, x]), 16010)
    assert padded.shape == (2, 16010) and not padded[:, -10:].any()
    np.testing.assert_array_equal(padded[:, :16000], np.stack([x, x]))
