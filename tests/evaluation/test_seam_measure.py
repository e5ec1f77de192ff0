"""The seam measure's pure functions: short-time level, boundary peaks against the rest, false onsets."""

import numpy as np
import pytest

from maskvat.evaluation.seams import onsets_near, seam_levels, short_time_level

SR = 44100


def _noise(seconds, level_db, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(int(seconds * SR)) * 10 ** (level_db / 20)


def test_short_time_level_of_a_sine_and_of_silence():
    t = np.arange(2 * SR) / SR
    db, times = short_time_level(0.5 * np.sin(2 * np.pi * 440 * t), SR)
    assert len(db) == len(times) == 200 and times[1] == pytest.approx(0.01)
    assert np.allclose(db[10:-10], 20 * np.log10(0.5 / np.sqrt(2)), atol=0.05)  # RMS of a sine: A / sqrt(2)
    assert db[0] < db[10] - 2.5  # the first window is half zero padding
    silent, _ = short_time_level(np.zeros(SR), SR)
    assert (silent == -120.0).all()


def test_a_burst_at_a_boundary_reads_as_its_level_above_the_rest():
    wav = _noise(13.0, -50.0)
    burst = slice(4 * SR, 4 * SR + SR // 10)
    wav[burst] = _noise(0.1, -30.0, seed=1)  # +20 dB for 100 ms at 4.0 s
    seams = seam_levels(wav, SR, [3.0, 4.05, 7.0])
    (b0, d0), (b1, d1), (b2, d2) = seams.joins
    assert (b0, b1, b2) == (3.0, 4.05, 7.0)
    assert d1 == pytest.approx(20.0, abs=1.0)
    assert abs(d0) < 1.0 and abs(d2) < 1.0  # quiet joins read about 0 dB
    assert abs(seams.start) < 1.5 and seams.worst_join == d1
    assert seams.reference == pytest.approx(-50 + 1.5, abs=1.5)  # peaks of 50 ms RMS over noise sit a little above
    assert seams.median_level == pytest.approx(-50.0, abs=0.5)


def test_seam_levels_need_a_stretch_to_compare_with():
    with pytest.raises(ValueError, match="no stretch"):
        seam_levels(_noise(0.5, -40.0), SR, [0.25])


def test_onsets_near_counts_only_onsets_the_truth_lacks():
    truth = [1.0, 4.02, 8.0]
    onsets = [1.01, 4.0, 4.1, 6.0, 7.05, 8.0]  # 4.1 s: false, near 4.0; 6.0: false, elsewhere; 7.05: false, near 7.0
    got = onsets_near(onsets, truth, [4.0, 7.0], 13.0)
    assert got["near"] == 2 and got["elsewhere"] == 1
    assert got["near_s"] == pytest.approx(0.6, abs=0.01) and got["elsewhere_s"] == pytest.approx(12.4, abs=0.01)


def test_stretches_elsewhere_are_reported_against_the_reference():
    wav = _noise(13.0, -50.0)
    wav[int(8.62 * SR):int(8.62 * SR) + SR // 10] = _noise(0.1, -30.0, seed=2)  # a loud event away from every boundary
    seams = seam_levels(wav, SR, [4.0, 7.0])
    assert len(seams.elsewhere) >= 30  # 300 ms stretches of 13 s clear of the start, end and two boundaries
    assert sum(d > 10 for d in seams.elsewhere) == 1 and max(seams.elsewhere) == pytest.approx(20.0, abs=1.5)
    assert all(abs(d) < 1.5 for d in sorted(seams.elsewhere)[:-1])
