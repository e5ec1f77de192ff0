"""The added-tone check of ``maskvat codec eval`` (maskvat.evaluation.tones), on synthetic signals."""

import numpy as np
import pytest

from maskvat.evaluation.tones import added_tones, format_tone_report, spectral_prominence, summarize_tones, tone_report

SR = 44100


def noise(seed: int, seconds: float = 3.0, level: float = 0.05) -> np.ndarray:
    return (level * np.random.default_rng(seed).standard_normal(int(seconds * SR))).astype(np.float32)


def sine(freq: float, amp: float, n: int, phase: float = 0.0) -> np.ndarray:
    return (amp * np.sin(2 * np.pi * freq * np.arange(n) / SR + phase)).astype(np.float32)


def test_a_sine_added_to_noise_is_found():
    x = noise(0)
    y = noise(1) + sine(947.46, 0.01, len(x))  # another realisation of the noise, plus a quiet line
    tones = added_tones(y, x, SR)
    assert len(tones) == 1
    tone = tones[0]
    assert abs(tone.frequency_hz - 947.46) < 3.0
    # the line's power (0.01^2 / 2) over the noise's in the Hann window's bandwidth (1.5 bins of 2.69 Hz)
    expected = 10 * np.log10((0.01 ** 2 / 2) / (2 * 0.05 ** 2 / SR * 1.5 * SR / 16384))
    assert tone.prominence_db == pytest.approx(expected, abs=2.0)
    assert abs(tone.input_prominence_db) < 6
    assert tone.added_db == pytest.approx(tone.prominence_db - tone.input_prominence_db)
    assert tone.level_db > 15  # louder than the input at that frequency


def test_clean_noise_gives_no_tone():
    for seed in range(3):
        x = noise(seed)
        white = noise(seed + 10)
        rng = np.random.default_rng(seed)
        spec = np.fft.rfft(rng.standard_normal(len(x)))
        f = np.fft.rfftfreq(len(x), 1 / SR)
        pink = np.fft.irfft(spec / np.sqrt(np.maximum(f, 20.0)), len(x)).astype(np.float32)
        assert added_tones(white, x, SR) == []
        assert added_tones(pink, pink + noise(seed + 20, level=1e-4), SR) == []
        assert added_tones(x, x, SR) == []


def test_a_tone_the_input_has_is_not_reported():
    x = noise(0) + sine(440.0, 0.05, 3 * SR)
    y = noise(1) + sine(440.0, 0.05, 3 * SR, phase=1.0)  # the codec keeps it (another phase, other noise)
    assert added_tones(y, x, SR) == []
    louder = noise(1) + sine(440.0, 0.5, 3 * SR)  # the same tone 20 dB louder than in the input: added
    [tone] = added_tones(louder, x, SR)
    assert abs(tone.frequency_hz - 440) < 3 and tone.added_db > 10 and tone.level_db > 15


def test_a_remnant_where_the_codec_removed_more_is_not_an_added_tone():
    """A lowpassing codec (libopus near 16 kHz) can leave a spike standing above its own empty
    band; it is quieter than the input there, so nothing is added."""
    from scipy.signal import butter, sosfilt

    x = noise(0)
    lowpassed = sosfilt(butter(8, 12000, fs=SR, output="sos"), noise(1)).astype(np.float32)
    remnant = lowpassed + sine(16000.0, 2e-4, len(x))  # far below the input's noise at 16 kHz
    assert added_tones(remnant, x, SR, fmax=20000) == []
    [tone] = added_tones(lowpassed + sine(16000.0, 0.02, len(x)), x, SR, fmax=20000)  # louder than the input there
    assert abs(tone.frequency_hz - 16000) < 3 and tone.level_db > 3


def test_a_tone_added_to_a_short_decaying_hit_and_to_silence():
    n = int(0.25 * SR)  # shorter than one 16384-sample window: a smaller window is used for both
    t = np.arange(n) / SR
    hit = (np.exp(-t * 30) * np.random.default_rng(0).standard_normal(n) * 0.3).astype(np.float32)
    assert added_tones(hit, hit, SR) == []
    tones = added_tones(hit + sine(2067.2, 0.02, n), hit, SR)
    assert tones and abs(tones[0].frequency_hz - 2067.2) < 6
    silence = np.zeros(SR, np.float32)
    assert added_tones(silence, silence, SR) == []
    assert [round(t.frequency_hz / 10) for t in added_tones(sine(1000.0, 1e-3, SR), silence, SR)] == [100]
    assert added_tones(hit[:1000], hit[:1000], SR) == []  # too short to tell


def test_spectral_prominence_shapes_and_a_flat_spectrum():
    f, level, prom = spectral_prominence(noise(3, seconds=2.0), SR)
    assert f.shape == level.shape == prom.shape == (16384 // 2 + 1,)
    assert abs(np.median(prom)) < 0.5 and prom[(f > 100) & (f < 20000)].max() < 12


def test_summary_merges_a_tone_across_files_and_the_report_lists_it():
    x = noise(0)
    per_file = {f"clip{i}.wav": added_tones(noise(i + 1) + sine(947.46, 0.01, len(x)), x, SR) for i in range(3)}
    per_file["clean.wav"] = added_tones(noise(9), x, SR)
    summary = summarize_tones(per_file)
    assert summary["files"] == 4 and summary["files_with_added_tones"] == 3
    assert summary["tones"][0]["files"] == 3 and abs(summary["tones"][0]["frequency_hz"] - 947.46) < 3
    report = tone_report(per_file)
    assert [r["count"] for r in report["per_file"]] == [1, 1, 1, 0]
    lines = format_tone_report(report)
    assert lines[0].startswith("added tones: 3 of 4 files")
    assert any("Hz in 3 files" in line for line in lines)
