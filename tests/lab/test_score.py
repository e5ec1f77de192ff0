"""Onset scoring: the truth itself scores high, shifted audio and silence score low."""

from __future__ import annotations

import numpy as np
import pytest

from maskvat.lab import clip_specs, detect_onsets, render_clip, score_onsets
from maskvat.lab.score import Tally, match, merge_onsets
from maskvat.lab.truth import make_event


@pytest.fixture(scope="module")
def rendered():
    return [render_clip(spec)[1:3] for spec in clip_specs("val", 12, seed=11, duration=3.0)]


def _score(rendered, transform):
    tally = Tally()
    for audio, truth in rendered:
        tally.add_clip(truth.events, detect_onsets(transform(audio)))
    return tally.summary()["all"]


def test_ground_truth_audio_scores_f1_above_095(rendered):
    result = _score(rendered, lambda a: a)
    assert result["f1"] >= 0.95
    assert result["median_abs_offset_ms"] <= 10


def test_audio_shifted_by_150ms_scores_low(rendered):
    shift = int(0.150 * 44100)
    assert _score(rendered, lambda a: np.concatenate([np.zeros(shift, np.float32), a[:-shift]]))["f1"] <= 0.2


def test_silence_scores_zero_recall(rendered):
    result = _score(rendered, np.zeros_like)
    assert result["recall"] == 0.0 and result["n_truth"] > 0


def test_matching_is_one_to_one_and_closest_first():
    assert match(np.array([1.0, 1.04]), np.array([1.03])) == [(1, 0)]
    assert match(np.array([1.0]), np.array([1.06])) == []


def test_merging_and_per_family_counts():
    events = [make_event(k, 25, 44100, c, 0, 0.5) for k, c in ((10, "impact/wood"), (11, "percussion/kick"),
                                                                (30, "pitched/xylophone"))]
    assert [(round(t, 2), fams) for t, fams in merge_onsets(events)] == [(0.4, {"impact", "percussion"}), (1.2, {"pitched"})]
    result = score_onsets(events, np.array([0.405, 2.0]))
    assert (result["all"]["tp"], result["all"]["fp"], result["all"]["fn"]) == (1, 1, 1)
    assert result["impact"]["recall"] == 1.0 and result["pitched"]["recall"] == 0.0
    assert result["pitched"]["fp"] == 1  # the stray onset is nearest the pitched event
