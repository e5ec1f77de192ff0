"""Each event happens on the frame where its cause is visible."""

from __future__ import annotations

import numpy as np

from maskvat.lab.render import ClipSpec, render_clip
from maskvat.lab.scenes import Continuous, Frame, Impact, Percussion, Pitched

GRID = Frame(fps=25.0, width=128, height=128, sample_rate=44100, n_frames=100)


def _sources(cls, n=6):
    return [cls(0, 0, 64, GRID, np.random.default_rng(seed)) for seed in range(n)]


def test_ball_touches_the_floor_exactly_on_impact_frames():
    for src in _sources(Impact):
        assert src.events
        floor_y = GRID.floor - src.radius
        for e in src.events:
            k = e.frame
            assert src.y[k] == floor_y  # drawn resting on the floor on the event frame
            assert np.isnan(src.y[k - 1]) or src.y[k - 1] < floor_y  # in the air just before
            canvas = np.zeros((128, 128, 3), np.uint8)
            src.draw(canvas, k)
            row = canvas[GRID.floor - 1, int(src.cx - src.radius) : int(src.cx + src.radius) + 1]
            assert row.any()  # ball pixels in the row just above the floor line


def test_stick_and_mallet_touch_only_on_hit_frames():
    for src in _sources(Percussion):
        hits = {k for k, _, _ in src.hits}
        for k in range(GRID.n_frames):
            x, y = src._stick_tip(k)
            on_pad = any(abs(y - (src._pad_top(p) - 1)) < 1e-9 and x == src.pad_x[p] for p in (0, 1))
            assert on_pad == (k in hits), k
    for src in _sources(Pitched):
        assert [e.pitch for e in src.events] == [72 + [0, 2, 4, 5, 7, 9, 11, 12][bar] for _, bar, _ in src.hits]


def test_continuous_sources_switch_on_at_their_onset_frame():
    for src in _sources(Continuous):
        on = [e for e in src.events if e.kind == "onset"]
        assert len(on) == 1 and src.level[on[0].frame] > 0 and src.level[on[0].frame - 1] == 0
        for off in (e for e in src.events if e.kind == "offset"):
            assert src.level[off.frame] == 0 and src.level[off.frame - 1] > 0


def test_render_shapes():
    frames, audio, truth, used = render_clip(ClipSpec("c", (0, 1, 2), duration=2.0))
    assert frames.shape == (50, 128, 128, 3) and frames.dtype == np.uint8
    assert audio.shape == (88200,) and audio.dtype == np.float32 and np.abs(audio).max() <= 0.9 + 1e-6
    assert all(0 <= e.frame < 50 and e.time == e.frame / 25.0 for e in truth.events)
