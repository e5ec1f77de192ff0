"""Audio: mono 44.1 kHz from anything, resampling, wav/flac writing, sample-exact ALAC in mp4."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from maskvat.media import fit_length, read_audio, resample, write_audio


def test_stereo_48k_becomes_mono_44k_with_the_right_pitch(tmp_path):
    sr, f0 = 48000, 1000.0
    t = np.arange(sr) / sr
    stereo = np.stack([np.sin(2 * np.pi * f0 * t), 0.5 * np.sin(2 * np.pi * f0 * t)], axis=1) * 0.5
    sf.write(tmp_path / "s.wav", stereo.astype(np.float32), sr)
    wav = read_audio(tmp_path / "s.wav")
    assert wav.dtype == np.float32 and wav.ndim == 1
    assert len(wav) == pytest.approx(44100, abs=2)
    spectrum = np.abs(np.fft.rfft(wav * np.hanning(len(wav))))
    assert np.fft.rfftfreq(len(wav), 1 / 44100)[spectrum.argmax()] == pytest.approx(f0, abs=2)
    assert np.abs(wav).max() == pytest.approx(0.375, abs=0.01)  # the mean of the two channels


@pytest.mark.parametrize("suffix", ["wav", "flac"])
def test_write_read_round_trip(tmp_path, suffix):
    wav = (np.random.default_rng(0).standard_normal(4410) * 0.2).astype(np.float32)
    path = tmp_path / f"x.{suffix}"
    write_audio(path, wav)
    back = read_audio(path)
    assert len(back) == len(wav)
    np.testing.assert_allclose(back, np.clip(wav, -1, 1), atol=1 / 32767 + 1e-6)


def test_read_audio_window(tmp_path):
    wav = np.arange(44100, dtype=np.float32) / 44100
    write_audio(tmp_path / "r.flac", wav)
    part = read_audio(tmp_path / "r.flac", start=0.25, duration=0.5)
    assert len(part) == 22050
    assert part[0] == pytest.approx(0.25, abs=1e-4)


def test_alac_video_audio_is_sample_exact(make_video):
    fps, n, sr = 25, 50, 44100
    audio = np.zeros(n * sr // fps, np.float32)
    clicks = [3, 17, 41]
    for k in clicks:
        audio[round(k / fps * sr)] = 0.9
    path = make_video("clicks.mp4", n, fps, audio=audio, audio_codec="alac")
    back = read_audio(path)
    assert len(back) == len(audio)
    assert list(np.nonzero(np.abs(back) > 0.5)[0]) == [round(k / fps * sr) for k in clicks]
    np.testing.assert_allclose(back, audio, atol=2 / 32768)  # 16-bit quantisation


def test_resample_and_fit_length():
    x = np.sin(np.linspace(0, 100, 16000)).astype(np.float32)
    assert resample(x, 16000, 44100).shape == (44100,)
    assert resample(x, 44100, 44100) is x
    assert fit_length(x, 10).shape == (10,)
    padded = fit_length(x, 16010)
    assert padded.shape == (16010,) and not padded[-10:].any()
