"""The span ``maskvat generate`` records in the files it writes (``pipeline.span``), read back from
every kind of file it writes, and nothing read from tags that are not a span."""

from __future__ import annotations

import json

import numpy as np
import pytest

from maskvat.media import mux_audio, read_comment, write_audio
from maskvat.pipeline.span import TAG_KEY, Span, read_span


@pytest.mark.parametrize("suffix", [".wav", ".flac"])
def test_a_sound_file_keeps_its_span(tmp_path, suffix):
    path = tmp_path / f"x{suffix}"
    write_audio(path, np.zeros(4410, np.float32), 44100, comment=Span(12.0, 30.0).tag())
    assert read_span(path) == Span(12.0, 30.0, 0.0)
    write_audio(path, np.zeros(4410, np.float32), 44100)  # no comment: no span
    assert read_comment(path) is None and read_span(path) is None


@pytest.mark.parametrize("suffix", [".mp4", ".mkv", ".mov", ".avi"])
def test_a_muxed_copy_keeps_its_span(make_video, tmp_path, suffix):
    video = make_video(f"v{suffix}", 10, 25)
    out = tmp_path / f"out{suffix}"
    mux_audio(video, np.zeros(8820, np.float32), 44100, out, start=0.2, comment=Span(0.2, 0.2, 0.2).tag())
    assert read_span(out) == Span(0.2, 0.2, 0.2)


@pytest.mark.parametrize("comment", [
    None, "", "Recorded by Audacity", "[1, 2]", json.dumps({"other": 1}),
    json.dumps({TAG_KEY: {"start": -1.0, "duration": 2.0}}), json.dumps({TAG_KEY: {"start": 1.0, "duration": 0}}),
    json.dumps({TAG_KEY: {"start": "NaN", "duration": 2.0}}), json.dumps({TAG_KEY: {"duration": 2.0}}),
])
def test_a_tag_that_is_not_a_span_reads_as_none(comment):
    assert Span.from_tag(comment) is None


def test_an_unreadable_file_has_no_span(tmp_path):
    (tmp_path / "junk.wav").write_text("not audio")
    assert read_span(tmp_path / "junk.wav") is None and read_span(tmp_path / "missing.wav") is None
