"""The text tables of ``maskvat evaluate`` (``evaluation.report``), on summaries written by hand."""

from __future__ import annotations

import pytest

from maskvat.evaluation.report import FEW_CLIPS, format_columns, format_result


def summary(n: int) -> dict:
    """A one-system summary of ``n`` scored clips, as ``Evaluator.score`` returns it (the keys the tables read)."""
    return {"n_files": n, "codec": None, "fad_embedding": "lab-audio", "onset_f1_50": 0.5, "fdm": 12.0,
            "controls": {"other_clip": {"onset_f1_50": 0.25}, "shifted": {"onset_f1_50": 0.2}},
            "spans": {"policy": "common span", "min_s": 4.0, "median_s": 4.0, "max_s": 4.0, "generated_shorter": 0,
                      "generated_longer": 0}, "skipped": [], "per_clip": []}


@pytest.mark.parametrize("n", [1, 3, FEW_CLIPS - 1])
def test_a_table_of_few_clips_says_its_figures_are_not_reliable(n):
    """Finding 5: a table of 3 clips read as firmly as one of 300."""
    for text in (format_result(summary(n)), format_columns({"columns": {"mine": summary(n)}, "n_clips": n,
                                                             "reference": "ref"})):
        notes = [line for line in text.splitlines() if line.startswith("note:")]
        assert len(notes) == 1 and f"only {n} clip{'s' if n > 1 else ''} scored" in notes[0]
        assert "not reliable" in notes[0]


def test_a_table_of_enough_clips_has_no_note():
    assert "not reliable" not in format_result(summary(FEW_CLIPS))
    many = {"columns": {"a": summary(FEW_CLIPS), "b": summary(40)}, "n_clips": 40, "reference": "ref"}
    assert "not reliable" not in format_columns(many)
    many["columns"]["b"] = summary(4)  # a column of fewer clips than the references
    assert "only 4 clips scored" in format_columns(many)


def test_systems_equal_as_printed_share_a_rank():
    """New-user finding: three copies of the true sound at 0.000 were ranked #1, #2, #3."""
    from maskvat.evaluation.report import _ranks

    cols = {"a": {"fad": 0.0, "onset_f1_50": 1.0}, "b": {"fad": 0.0, "onset_f1_50": 0.9},
            "c": {"fad": 0.2, "onset_f1_50": 1.0000001}}
    r = _ranks(cols, ["a", "b", "c"])
    assert [r[n]["fad"] for n in "abc"] == [1, 1, 3]  # lower is better
    assert [r[n]["onset_f1_50"] for n in "abc"] == [1, 3, 1]  # 1.000 and 1.000 as printed


def test_compare_on_one_clip_says_why_there_are_no_intervals_and_flags_a_system_behind_chance():
    """New-user finding: `--compare` on a single clip printed the "[lo,hi]" legend with no interval
    anywhere, and a negative gap to chance had no label there (the one-system table has one)."""
    ahead, behind = summary(1), summary(1)
    behind["onset_f1_50"] = 0.1  # below both its controls (0.25, 0.2): gap -0.150
    text = format_columns({"columns": {"ahead": ahead, "behind": behind}, "n_clips": 1, "reference": "ref"})
    assert "[lo,hi]: 95%" not in text and "needs at least 2 clips" in text
    chance = next(line for line in text.splitlines() if line.startswith("  chance, gap"))
    assert "gap -0.150" in chance and chance.rstrip().endswith("no better than chance: behind")
    # with intervals, the legend is back and a system ahead of chance gets no label
    ahead["ci"] = {"onset_f1_50": (0.4, 0.6)}
    text = format_columns({"columns": {"ahead": ahead}, "n_clips": 1, "reference": "ref"})
    assert "[lo,hi]: 95% bootstrap interval over clips." in text and "no better than chance" not in text
