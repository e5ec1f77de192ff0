"""The paper's metrics against closed forms and invariances."""

import numpy as np
import pytest

from maskvat.evaluation.metrics import (
    frechet_distance,
    gaussian_frechet,
    mfcc_frames,
    novelty_curve,
    novelty_score,
)


def test_frechet_distance_matches_closed_form():
    rng = np.random.default_rng(0)
    d, m, s = 4, 0.5, 2.0
    a = rng.standard_normal((20000, d))
    b = m + s * rng.standard_normal((20000, d))
    expected = d * m**2 + d * (1 + s**2 - 2 * s)  # |mu|^2 + tr(I + s^2 I - 2 s I)
    assert frechet_distance(a, b) == pytest.approx(expected, rel=0.03)
    assert abs(frechet_distance(a, a)) < 1e-6
    assert frechet_distance(a, b) == pytest.approx(frechet_distance(rng.permutation(a), rng.permutation(b)))
    with pytest.raises(ValueError):
        frechet_distance(a, b[:, :2])


def test_mfcc_front_end_follows_the_paper():
    wav = np.random.default_rng(0).standard_normal(44100).astype(np.float32)
    frames = mfcc_frames(wav)
    assert frames.shape == (1 + (44100 - 2048) // 512, 64)  # 2048 window, 512 hop, 64 coefficients
    # a louder copy only moves the 0th (energy) coefficient
    louder = mfcc_frames(wav * 10)
    assert np.allclose(louder[:, 1:], frames[:, 1:], atol=1e-3)
    assert (louder[:, 0] > frames[:, 0]).all()


def test_novelty_score_of_a_sequence_with_itself_is_one():
    rng = np.random.default_rng(0)
    seq = np.repeat(rng.standard_normal((5, 16)), 20, axis=0)  # 5 segments: 4 boundaries
    assert novelty_score(seq, seq) == pytest.approx(1.0)
    curve = novelty_curve(seq)
    for boundary in (20, 40, 60, 80):  # novelty peaks where the segments change, not inside them
        assert curve[boundary - 1:boundary + 2].max() > 2 * max(curve[boundary - 10], curve[boundary + 10])
    other = np.repeat(rng.standard_normal((7, 16)), 15, axis=0)[:100]
    assert novelty_score(seq, other) < 0.9


def test_mfcc_floor_puts_digital_silence_and_inaudible_hiss_together():
    rng = np.random.default_rng(0)
    silence = mfcc_frames(np.zeros(44100, np.float32))
    hiss = mfcc_frames((rng.standard_normal(44100) * 10 ** (-130 / 20)).astype(np.float32))  # -130 dBFS
    np.testing.assert_allclose(hiss, silence, atol=1e-6)
    quiet_tone = mfcc_frames((0.01 * np.sin(2 * np.pi * 440 * np.arange(44100) / 44100)).astype(np.float32))
    assert np.abs(quiet_tone - silence).max() > 5.0  # -40 dBFS is well above the floor


def test_frechet_distance_with_fewer_samples_than_dims_is_quiet_and_near_zero_for_a_set_with_itself():
    import warnings

    x = np.random.default_rng(0).standard_normal((20, 64))  # singular covariance
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        same = frechet_distance(x, x)
        shifted = frechet_distance(x, x + 1.0)
    assert abs(same) < 1e-4 and shifted == pytest.approx(64.0, rel=1e-2)  # trace of each covariance: ~64


def test_novelty_of_silence_is_zero_not_an_edge_artefact():
    """Regression (issue 27): padding the self-similarity matrix put a step at both ends of every
    novelty curve, so digital silence (a constant sequence) correlated 0.3-0.5 with any sound."""
    rng = np.random.default_rng(1)
    sound = np.repeat(rng.standard_normal((6, 16)), 12, axis=0) + 0.1 * rng.standard_normal((72, 16))
    silence = np.ones((72, 16))
    assert novelty_score(silence, sound) == 0.0
    curve = novelty_curve(sound)
    assert np.isnan(curve[:8]).all() and np.isnan(curve[-7:]).all() and np.isfinite(curve[8:-7]).all()
    assert np.isnan(novelty_score(sound[:10], sound[:10]))  # shorter than one whole kernel: no figure


def test_frechet_distance_of_a_set_with_itself_is_never_negative():
    """Regression (issue 27): FD of a set with itself came out negative (-6e-5 for 2000 MFCC-like
    frames, -8e-3 for widely scaled ones, with scipy's sqrtm)."""
    for seed in range(5):
        for n, d, scale in ((2000, 64, 100.0), (100, 64, 1000.0), (300, 128, 10.0)):
            x = np.random.default_rng(seed).standard_normal((n, d)) * np.linspace(0.01, scale, d)
            fd = frechet_distance(x, x)
            assert 0.0 <= fd < 1e-10 * np.trace(np.cov(x, rowvar=False))


def test_frechet_distance_with_fewer_embeddings_than_dimensions_equals_the_covariance_route():
    """Fewer clips than dimensions (FD_PANNs: one 2048-d embedding per clip) takes the sample-space
    route (singular values of B A^T); it gives the Gaussians' FD as computed from their moments."""
    rng = np.random.default_rng(3)
    for na, nb, d in ((5, 7, 64), (30, 30, 48), (2, 40, 40)):
        a = rng.standard_normal((na, d)) * np.linspace(0.1, 3.0, d)
        b = rng.standard_normal((nb, d)) + 0.5
        want = gaussian_frechet(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
        assert frechet_distance(a, b) == pytest.approx(want, rel=1e-7)  # (the eigen route rounds more)
    x = rng.standard_normal((10, 2048))
    assert 0.0 <= frechet_distance(x, x) < 1e-9 * np.trace(np.cov(x, rowvar=False))
