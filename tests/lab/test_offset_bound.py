"""Which offsets a clip's truth allows for a window pair: steady sounds leave them open, glides and hits close them."""

import numpy as np
import pytest

from maskvat.lab.offset_bound import best_within_one, consistent_offsets, source_states
from maskvat.lab.truth import ClipTruth, make_event

N, W, HALF, STEP = 100, 60, 10, 2


def truth(level: np.ndarray | None = None, hit_frames=()) -> ClipTruth:
    sources, events = [], []
    if level is not None:
        sources.append({"family": "continuous", "class": "continuous/fan", "level_per_frame": list(level)})
    if hit_frames:
        sources.append({"family": "impact", "class": "impact/wood"})
        events = [make_event(f, 25.0, 44100, "impact/wood", len(sources) - 1, 0.5) for f in hit_frames]
    return ClipTruth("t", 25.0, 44100, N / 25.0, 128, 128, [0], sources, events)


def fits_for(t: ClipTruth, shift: int, tol: float = 0.0) -> np.ndarray:
    return consistent_offsets(*source_states(t, N), 20, shift, W, HALF, STEP, tol)


def test_a_steady_hum_through_both_windows_fits_every_offset():
    fits = fits_for(truth(np.full(N, 0.7)), shift=6)
    assert fits.all()
    assert best_within_one(fits) == pytest.approx(3 / 21)


def test_a_glide_in_both_windows_leaves_only_the_true_offset():
    k = np.arange(N)
    level = 0.4 + 0.4 * np.clip((k - 45) / 15, 0, 1)  # glides over frames 45..60, inside both windows
    for true_class in (3, 10, 14):
        fits = fits_for(truth(level), shift=(true_class - HALF) * STEP)
        assert fits.nonzero()[0].tolist() == [true_class]
        assert best_within_one(fits) == 1.0


def test_a_glide_too_small_for_the_tolerance_reopens_the_offsets():
    k = np.arange(N)
    level = 0.5 + 0.01 * np.clip((k - 45) / 15, 0, 1)
    assert fits_for(truth(level), shift=0).sum() == 1
    assert fits_for(truth(level), shift=0, tol=0.05).all()


def test_a_start_the_audio_window_misses_fits_every_offset_that_also_misses_it():
    level = np.where(np.arange(N) >= 30, 0.6, 0.0)  # the fan starts at frame 30, in the video window
    fits = fits_for(truth(level), shift=16)  # audio window [36, 96): hums throughout
    # a claimed shift of 2c frames keeps the start out of the frames the windows share when 20 + 2c >= 30
    assert fits.nonzero()[0].tolist() == list(range(HALF + 5, 2 * HALF + 1))
    assert best_within_one(fits) == pytest.approx(3 / 6)


def test_hits_pin_the_offset_and_their_absence_does_not():
    fits = fits_for(truth(hit_frames=(40, 52)), shift=-4)
    assert fits.nonzero()[0].tolist() == [HALF - 2]
    assert fits_for(truth(hit_frames=(2,)), shift=-4).all()  # the hit is outside every window
    assert best_within_one(np.eye(21, dtype=bool)[5]) == 1.0


def test_windows_outside_the_clip_are_refused():
    with pytest.raises(ValueError, match="leave the clip"):
        fits_for(truth(np.full(N, 0.7)), shift=22)
    with pytest.raises(ValueError, match="no offset fits"):
        best_within_one(np.zeros(21, bool))
