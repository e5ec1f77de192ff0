"""The workstation's work without a browser (``maskvat.ui.actions``), on the tiny debug model:
candidates, a range regenerated in the chosen one, the files saved, the queue, and the errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ui_helpers import outside_changed, sha256, tiny_pipeline, video_packets, write_clip

from maskvat.errors import MaskvatError, MediaError
from maskvat.media import probe, read_audio
from maskvat.ui.actions import Settings, Workstation, check_video, parse_ranges

pytestmark = pytest.mark.usefixtures("one_torch_thread")
FAST = Settings(steps=3, candidates=2)
LSB = 1 / 32768  # one step of a 16-bit file


@pytest.fixture(scope="module")
def pipe():
    return tiny_pipeline()


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return write_clip(tmp_path_factory.mktemp("clip") / "clip.mp4")


@pytest.fixture
def station(pipe, tmp_path):
    loads = []
    st = Workstation("tiny", out_dir=tmp_path / "out", loader=lambda *a: loads.append(a) or pipe)
    st.loads = loads
    return st


def test_settings_from_the_page_take_the_papers_defaults_and_refuse_bad_values():
    assert Settings() == Settings(steps=32, guidance=3.0, diversity=8.0, beams=1, seed=0, candidates=2)
    assert Settings.from_page(None, "", 8, 1, 0, 2) == Settings()  # empty fields: the defaults
    assert Settings.from_page(3.0, "2.5", 0, 2, 7, 4) == Settings(3, 2.5, 0.0, 2, 7, 4)
    for fields, match in [((0, 3, 8, 1, 0, 2), "steps must be between 1 and 256"),
                          ((32, -1, 8, 1, 0, 2), "guidance must be a number >= 0"),
                          ((32, 3, 8, 1, 0, 5), "candidates must be between 1 and 4"),
                          ((32, 3, 8, 0, 0, 2), "beams must be between 1 and 64"),
                          ((2.5, 3, 8, 1, 0, 2), "steps must be a whole number"),
                          ((32, "x", 8, 1, 0, 2), "guidance: 'x' is not a number")]:
        with pytest.raises(MaskvatError, match=match):
            Settings.from_page(*fields)


def test_ranges_are_read_from_text():
    assert parse_ranges("1.0-2.0") == [(1.0, 2.0)]
    assert parse_ranges(" 1-2, 3-3.5 ;.5-.75") == [(1.0, 2.0), (3.0, 3.5), (0.5, 0.75)]
    for bad in ("", " , ", "1-", "2", "a-b", "1:2", "-1-2"):
        with pytest.raises(MaskvatError, match="START-END"):
            parse_ranges(bad)


def test_a_bad_video_is_one_line_before_any_model_loads(station, tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    work = station.new_work()
    for video, match in [(text, "notes.mp4"), (tmp_path / "missing.mp4", "missing.mp4: no such file"),
                         (None, "upload a video first")]:
        with pytest.raises(MaskvatError, match=match) as err:
            station.generate(work, video, FAST)
        assert "\n" not in str(err.value)
    with pytest.raises(MediaError):
        check_video(text)
    assert not station.loads  # refused before the model


def test_a_foley_round_candidates_a_range_redone_and_the_files_saved(station, pipe, clip):
    before = sha256(clip)
    work = station.new_work()
    assert work.folder.parent == station.out_dir
    cands = station.generate(work, clip, FAST)
    assert [c.name for c in cands] == ["take 1, candidate 1", "take 1, candidate 2"]
    assert not np.array_equal(cands[0].generation.wav, cands[1].generation.wav)  # two different candidates
    for c in cands:  # each player's file is its sound, 16-bit
        assert c.sound.parent == work.folder
        np.testing.assert_allclose(read_audio(c.sound), c.generation.wav, atol=LSB)
        assert len(c.generation.wav) == round(1.0 * 44100)

    # choose candidate 2, redo 0.4-0.6 s in two variations: outside the widened range it is candidate 2
    chosen = cands[1]
    redone = station.regenerate(work, 2, "0.4-0.6", FAST)
    assert [c.name for c in redone] == ["take 2, candidate 1", "take 2, candidate 2"]
    again = pipe.generate(clip, settings=FAST.sampler(), seed=1, keep=chosen.generation, regenerate=[(0.4, 0.6)],
                          variations=2)
    assert torch.equal(again[0].codes, redone[0].generation.codes)  # take 2 samples with seed + 1
    assert redone[0].label == "Candidate 1 (take 2: 0.4-0.6 s anew in take 1, candidate 2)"
    keep = outside_changed([(0.4, 0.6)], pipe, len(chosen.generation.wav))
    assert 0.4 < keep.mean() < 0.8
    for c in redone:
        assert c.generation.changed and c.generation.regenerated == [(34 - 4, 52 + 4)]
        np.testing.assert_allclose(c.generation.wav[keep], chosen.generation.wav[keep], atol=1e-6)
        new = np.abs(c.generation.wav[~keep] - chosen.generation.wav[~keep])
        assert (new > 4 * LSB).mean() > 0.5  # the range is sampled anew
        ours = torch.zeros(c.generation.codes.shape[-1], dtype=torch.bool)
        ours[30:56] = True
        assert torch.equal(c.generation.codes[:, ~ours], chosen.generation.codes[:, ~ours])
        assert (c.generation.codes[:, ours] != chosen.generation.codes[:, ours]).float().mean() > 0.5
    assert not np.allclose(cands[0].generation.wav, cands[1].generation.wav, atol=100 * LSB)  # tell-apart sounds

    # save take 2's candidate 1 as flac with the muxed copy: the video stream untouched
    sound, muxed = station.export(work, 1, "flac")
    assert sound.suffix == ".flac" and muxed.name == "clip_take2_c1_maskvat.mp4" and sound.parent.parent == work.folder
    np.testing.assert_allclose(read_audio(sound), redone[0].generation.wav, atol=LSB)
    assert video_packets(muxed) == video_packets(clip)
    info = probe(muxed)
    assert info.audio is not None and abs(info.audio.duration - 1.0) < 0.05
    assert sha256(clip) == before  # the input is only read

    # pictures: frames over the spectrogram, drawn once
    pic = station.draw(work, redone[0])
    assert pic.suffix == ".png" and pic.stat().st_size > 10_000 and station.draw(work, redone[0]) == pic
    assert len(station.loads) == 1  # the model was loaded once


def test_edits_need_a_candidate_and_a_range_inside_the_clip(station, clip):
    work = station.new_work()
    with pytest.raises(MaskvatError, match="generate candidates first"):
        station.regenerate(work, 1, "0.2-0.3", FAST)
    station.generate(work, clip, Settings(steps=2, candidates=1))
    for chosen, ranges, match in [(1, "0.5-1.5", "outside the span generated, 0.00-1.00 s"),
                                  (1, "0.6-0.5", "empty or reversed"), (1, "0.1-0.3, 0.2-0.4", "overlap"),
                                  (2, "0.2-0.3", "no candidate 2"), (None, "0.2-0.3", "choose a candidate first"),
                                  (1, "", "START-END")]:
        with pytest.raises(MaskvatError, match=match):
            station.regenerate(work, chosen, ranges, FAST)
    with pytest.raises(MaskvatError, match="wav or flac"):
        station.export(work, 1, "mp3")
    assert work.takes == 1  # nothing was made by a refused edit


def test_a_new_clip_starts_over(station, clip, tmp_path):
    other = write_clip(tmp_path / "other.mp4")
    work = station.new_work()
    station.generate(work, clip, Settings(steps=2, candidates=1))
    assert work.takes == 1
    work.open(other)
    assert work.takes == 0 and not work.candidates


def test_the_queue_does_every_clip_and_reports_the_bad_one(station, clip, tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_text("not a video")
    rows = station.generate_all([clip, bad], Settings(steps=2), audio_format="wav")
    assert [r[0] for r in rows] == ["clip.mp4", "bad.mp4"]
    name, sound, muxed, problem = rows[0]
    assert problem == "" and sound.name == "clip.wav" and muxed.name == "clip_maskvat.mp4"
    assert video_packets(muxed) == video_packets(clip)
    assert rows[1][1] is None and "bad.mp4" in rows[1][3] and "\n" not in rows[1][3]


def test_maskvat_ui_without_gradio_is_one_line_and_status_2(monkeypatch, capsys):
    import sys

    from maskvat.cli.main import main

    monkeypatch.setitem(sys.modules, "gradio", None)  # import gradio -> ImportError
    assert main(["ui", "--model", "debug"]) == 2
    err = capsys.readouterr().err
    assert err == "maskvat: error: the UI needs gradio: pip install 'maskvat[ui]'\n"
    assert main(["ui", "--port", "0"]) == 2
    assert "--port must be between 1 and 65535" in capsys.readouterr().err


def test_maskvat_ui_listens_on_localhost_by_default():
    from maskvat.cli.main import build_parser

    args = build_parser().parse_args(["ui"])
    assert (args.host, args.port, args.model, args.device) == ("127.0.0.1", 7860, "lab", "cpu")


def test_a_temporary_folder_is_removed_at_the_end_only_when_nothing_was_written(pipe, tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    empty = Workstation("tiny", loader=lambda *a: pipe)
    empty.new_work()  # a page was opened: an empty session folder
    assert empty.out_dir.parent == tmp_path and empty.out_dir.name.startswith("maskvat-ui-")
    assert empty.close() and not empty.out_dir.exists()
    used = Workstation("tiny", loader=lambda *a: pipe)
    (used.new_work().folder / "take.wav").write_bytes(b"RIFF")
    assert not used.close() and used.out_dir.exists()  # a saved sound is never removed
    given = Workstation("tiny", out_dir=tmp_path / "mine", loader=lambda *a: pipe)
    assert not given.close() and given.out_dir.exists()  # the user's own folder is never removed


def test_maskvat_ui_removes_its_empty_folder_when_the_model_fails(monkeypatch, tmp_path, capsys):
    import tempfile

    from maskvat.cli.main import main

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert main(["ui", "--model", str(tmp_path / "no-such-model")]) == 2
    assert "no-such-model" in capsys.readouterr().err
    assert not list(tmp_path.glob("maskvat-ui-*"))
