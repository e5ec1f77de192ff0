"""Lab builds: deterministic, every family present, sample-exact onsets through the mp4."""

from __future__ import annotations

import json

import numpy as np
import pytest

from maskvat.errors import MaskvatError
from maskvat.lab import FAMILIES, build_split, clip_specs, load_truth, render_clip
from maskvat.media import read_audio


@pytest.fixture(scope="module")
def small_split(tmp_path_factory):
    out = tmp_path_factory.mktemp("lab")
    return build_split(out, "test", 10, seed=3, duration=2.0, bank="procedural", workers=2, progress=False)


def test_same_seed_same_bytes_any_worker_count(tmp_path, small_split):
    again = build_split(tmp_path, "test", 10, seed=3, duration=2.0, bank="procedural", workers=1, progress=False)
    for clip in ("test_000000", "test_000007"):
        assert (again / f"{clip}.json").read_text() == (small_split / f"{clip}.json").read_text()
        np.testing.assert_array_equal(read_audio(again / f"{clip}.mp4"), read_audio(small_split / f"{clip}.mp4"))


def test_splits_and_seeds_do_not_share_streams():
    a, b, c = (render_clip(clip_specs(split, 1, seed)[0])[1] for split, seed in (("train", 0), ("test", 0), ("train", 1)))
    assert not np.array_equal(a[: len(b)], b[: len(a)]) and not np.array_equal(a, c)


def test_every_family_present_and_manifest(small_split):
    manifest = json.loads((small_split / "manifest.json").read_text())
    assert manifest["n"] == 10 and len(manifest["clips"]) == 10 and manifest["bank"] == "procedural"
    present = set().union(*(c["families"] for c in manifest["clips"]))
    assert present == set(FAMILIES)
    assert all(entry["license"] for entry in manifest["licences"])


def test_mp4_audio_is_the_rendered_audio_sample_exact(small_split):
    spec = clip_specs("test", 10, seed=3, duration=2.0)[4]
    _, audio, truth, _ = render_clip(spec)
    back = read_audio(small_split / f"{spec.clip_id}.mp4")
    assert len(back) == len(audio)
    np.testing.assert_allclose(back, np.clip(audio, -1, 1), atol=2 / 32768)
    assert load_truth(small_split / f"{spec.clip_id}.json").to_json() == truth.to_json()


def test_sound_starts_on_the_event_sample():
    for spec in clip_specs("train", 12, seed=5, duration=2.0):
        _, audio, truth, _ = render_clip(spec)
        onsets = truth.onsets()
        if not onsets or any(s["family"] == "continuous" for s in truth.sources):
            continue
        first = onsets[0]
        assert first.sample == round(first.frame / truth.fps * truth.sample_rate)
        assert np.abs(audio[: first.sample]).max(initial=0.0) == 0.0  # silent until the first event
        assert np.abs(audio[first.sample : first.sample + 8]).max() > 1e-3  # and sounding at it


def test_refuses_to_overwrite_and_bad_arguments(small_split):
    with pytest.raises(MaskvatError, match="--overwrite"):
        build_split(small_split.parent, "test", 2, seed=0, bank="procedural", progress=False)
    with pytest.raises(MaskvatError, match="unknown split"):
        clip_specs("dev", 2, 0)
    with pytest.raises(MaskvatError, match="duration"):
        clip_specs("train", 2, 0, duration=0.2)
