"""The real-clip onset detector (``maskvat.evaluation.alignment.onset_track``): steady noise at any
level has no onsets (librosa normalises each envelope to its own maximum, so without the strength
floor 8 s of noise gave about 100), impacts over noise are found where they are, at any level, and a
sound that starts loud does not start with an onset."""

from __future__ import annotations

import numpy as np
import pytest

from maskvat.evaluation.alignment import MIN_ONSET_STRENGTH, onset_track

SR = 44100


def noise(seconds: float, colour: float, dbfs: float, seed: int) -> np.ndarray:
    """Gaussian noise with power spectrum 1 / f**colour (0 white, 1 pink, 2 brown) at ``dbfs`` RMS."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    f = np.fft.rfftfreq(n, 1 / SR)
    spec = rng.standard_normal(len(f)) + 1j * rng.standard_normal(len(f))
    spec[1:] /= f[1:] ** (colour / 2)
    spec[0] = 0
    w = np.fft.irfft(spec, n)
    return (w / w.std() * 10 ** (dbfs / 20)).astype(np.float32)


def with_impacts(base: np.ndarray, times: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    w = base.copy()
    m = int(0.2 * SR)
    for t in times:
        i = int(t * SR)
        w[i:i + m] += (rng.standard_normal(m) * np.exp(-np.arange(m) / (0.02 * SR)) * 0.3).astype(np.float32)
    return w


@pytest.mark.parametrize("colour", [0.0, 1.0, 2.0])
@pytest.mark.parametrize("dbfs", [-70.0, -40.0, -20.0])
def test_steady_noise_has_no_onsets(colour, dbfs):
    track = onset_track(noise(8.0, colour, dbfs, seed=int(colour * 10 - dbfs)), SR)
    assert len(track.onsets) == 0
    assert track.envelope[10:].max() < MIN_ONSET_STRENGTH  # the floor, not the peak picking, keeps it quiet


@pytest.mark.parametrize("scale", [1.0, 0.01])
def test_impacts_over_noise_are_found_where_they_are_at_any_level(scale):
    times = np.array([0.5, 1.3, 1.9, 3.0, 3.4, 4.6, 5.5, 6.1, 7.2])
    wav = with_impacts(noise(8.0, 1.0, -50.0, seed=3), times, seed=4) * scale
    found = onset_track(wav, SR).onsets
    assert len(found) == len(times)
    assert np.abs(found - times).max() < 0.03


def test_a_sound_that_starts_loud_does_not_start_with_an_onset():
    times = np.array([1.0, 2.5])
    found = onset_track(with_impacts(noise(4.0, 0.0, -20.0, seed=5), times, seed=6), SR).onsets
    assert len(found) == 2 and found[0] > 0.9
