"""maskvat evaluate on real inputs as they come: containers, rates, channels, names, lengths, edit
lists, stray files, short clips; chance controls; anchors; --compare."""

import csv
import json
import shutil

import numpy as np
import pytest
from real_helpers import SR, impacts, stream_copy_cut_av, write_clip, write_sound

from maskvat.cli.main import main
from maskvat.codec.tokenizer import AudioTokenizer
from maskvat.errors import MaskvatError
from maskvat.evaluation.alignment import ALIGNMENT_METRICS
from maskvat.evaluation.anchors import ANCHORS
from maskvat.evaluation.evaluate import METRICS, evaluate_dirs, evaluate_systems
from maskvat.evaluation.pairing import pair_files

SECONDS = 3.0


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    """REF: four 3 s clips in four forms (mp4 AAC, stereo 48 kHz wav, 22.05 kHz flac, mkv), a stray
    captions.json; a tiny codec for FDD."""
    root = tmp_path_factory.mktemp("real")
    ref = root / "ref"
    ref.mkdir()
    sounds = {f"clip{i}": impacts(SECONDS, seed=i) for i in range(4)}
    write_clip(ref / "clip0.mp4", sounds["clip0"])
    write_sound(ref / "clip1.wav", sounds["clip1"], sr=48000, channels=2)
    write_sound(ref / "clip2.flac", sounds["clip2"], sr=22050)
    write_clip(ref / "clip3.mkv", sounds["clip3"], audio_codec="flac")
    (ref / "captions.json").write_text(json.dumps({"clip0": "a stick hits a pot"}))
    AudioTokenizer.from_preset("tiny").save_pretrained(root / "codec")
    return root, ref, sounds, str(root / "codec")


def _truth_folder(root, sounds, name="truth"):
    """The true sounds, named as a generator's output would be: X.wav, X_maskvat.mp4, X.mp4, X.flac (16 kHz)."""
    gen = root / name
    if gen.exists():
        return gen
    gen.mkdir()
    write_sound(gen / "clip0.wav", sounds["clip0"])
    write_clip(gen / "clip1_maskvat.mp4", sounds["clip1"])
    write_clip(gen / "clip2.mp4", sounds["clip2"])
    write_sound(gen / "clip3.flac", sounds["clip3"], sr=16000)
    (gen / "notes.txt").write_text("not a clip")
    return gen


def test_every_naming_and_container_pairs_and_strays_are_listed(real):
    root, ref, sounds, _ = real
    gen = _truth_folder(root, sounds)
    write_sound(gen / "clip0_maskvat.wav", sounds["clip0"])  # no reference 'clip0_maskvat': listed
    p = pair_files(gen, ref)
    assert [(g.name, r.name) for g, r in p.pairs] == [("clip0.wav", "clip0.mp4"), ("clip1_maskvat.mp4", "clip1.wav"),
                                                     ("clip2.mp4", "clip2.flac"), ("clip3.flac", "clip3.mkv")]
    reasons = {f.name: why for f, why in p.skipped}
    assert set(reasons) == {"notes.txt", "captions.json", "clip0_maskvat.wav"}
    assert "not a media file" in reasons["captions.json"] and "no reference" in reasons["clip0_maskvat.wav"]
    (gen / "clip0_maskvat.wav").unlink()
    # what `maskvat generate` writes: X.wav and X_maskvat.mp4 are one clip; the wav is scored
    write_clip(gen / "clip0_maskvat.mp4", sounds["clip0"])
    p = pair_files(gen, ref)
    assert p.pairs[0][0].name == "clip0.wav" and "same clip as clip0.wav" in dict(
        (f.name, w) for f, w in p.skipped)["clip0_maskvat.mp4"]
    (gen / "clip0_maskvat.mp4").unlink()


def test_truth_in_any_form_scores_as_the_truth_and_beats_its_chance_controls(real, one_torch_thread):
    root, ref, sounds, codec = real
    r = evaluate_dirs(_truth_folder(root, sounds), ref, codec=codec, judge="lab", progress=False)
    assert r["n_files"] == 4 and len(r["skipped"]) == 2  # notes.txt, captions.json: listed, not fatal
    assert not r["lab_references"] and set(r["refused"]) == {"ss_seconds", "cc"}  # no SS/CC on non-lab clips
    assert "ss_seconds" not in r and "cc" not in r
    # rates, channels and containers differ; the sound is the same: alignment is perfect
    assert r["onset_f1_50"] == pytest.approx(1.0) and r["env_lag_ms"] == 0.0 and r["onset_offset_ms"] <= 10.0
    for m, higher in ALIGNMENT_METRICS.items():
        for which in ("other_clip", "shifted"):
            control = r["controls"][which][m]
            assert (r[m] > control) if higher else (r[m] < control), (m, which)
    # the full-band copies embed alike; a 22.05 or 16 kHz side does not (bandwidth moves WC and FDM a lot)
    wc = {row["clip"]: row["wc"] for row in r["per_clip"]}
    assert wc["clip0"] > 0.95 and wc["clip1"] > 0.95 and wc["clip3"] < 0.9
    assert r["spans"]["min_s"] == pytest.approx(SECONDS, abs=0.03)


def test_shorter_generated_sound_is_scored_on_the_common_span_not_padded(real, one_torch_thread, tmp_path):
    """Regression (issue 27): the truth cut short scored FDM/FDD far from 0 (zero-padded)."""
    root, _, sounds, codec = real
    ref, gen = tmp_path / "ref", tmp_path / "gen"
    ref.mkdir()
    gen.mkdir()
    for stem, wav in sounds.items():
        write_sound(ref / f"{stem}.wav", wav)
        write_sound(gen / f"{stem}.wav", wav[: int(2.2 * SR)])
    r = evaluate_dirs(gen, ref, codec=codec, judge=None, progress=False)
    sp = r["spans"]
    assert sp["generated_shorter"] == 4 and sp["max_s"] == pytest.approx(2.2, abs=1e-3) and "no padding" in sp["policy"]
    assert r["fdm"] < 1e-3 and r["fdd"] < 1e-6 and r["fad"] < 1e-3 and r["onset_f1_50"] == pytest.approx(1.0)
    row = r["per_clip"][0]
    assert row["reference_s"] == pytest.approx(SECONDS, abs=0.03) and row["generated_s"] == pytest.approx(2.2, abs=1e-3)


def test_edit_lists_and_late_starts_are_read_as_shown(real, tmp_path, one_torch_thread):
    """A stream-copied cut (edit lists on both tracks, as VGGSound clips have) is a valid reference
    and a valid generated file."""
    root, _, sounds, codec = real
    wav = impacts(4.0, seed=9)
    ref, gen = tmp_path / "ref", tmp_path / "gen"
    ref.mkdir()
    gen.mkdir()
    write_clip(tmp_path / "long.mp4", wav)
    stream_copy_cut_av(tmp_path / "long.mp4", ref / "cut.mp4", 0.5)
    for i in range(2):  # two plain clips, so that the controls have other clips
        write_sound(ref / f"plain{i}.wav", sounds[f"clip{i}"])
        write_sound(gen / f"plain{i}.wav", sounds[f"clip{i}"])
    shutil.copy(ref / "cut.mp4", gen / "cut_maskvat.mp4")
    r = evaluate_dirs(gen, ref, codec=codec, judge=None, progress=False)
    assert r["n_files"] == 3 and not r["skipped"]
    row = next(x for x in r["per_clip"] if x["clip"] == "cut")
    assert row["span_s"] == pytest.approx(3.5, abs=0.05) and row["onset_f1_50"] == pytest.approx(1.0)


def test_short_clips_are_reported_not_a_traceback(real, tmp_path, capsys):
    root, _, sounds, codec = real
    ref, gen = tmp_path / "ref", tmp_path / "gen"
    ref.mkdir()
    gen.mkdir()
    for i, seconds in enumerate((1.5, 0.5, 3.0)):
        write_sound(ref / f"c{i}.wav", impacts(seconds, seed=i))
        write_sound(gen / f"c{i}.wav", impacts(seconds, seed=i))
    assert main(["evaluate", "--generated", str(gen), "--reference", str(ref), "--codec", codec, "--judge", "none",
                 "--csv", str(tmp_path / "clips.csv")]) == 0
    out = capsys.readouterr().out
    assert "scored pairs: 2; skipped files: 1" in out and "c1.wav" in out and "shorter than 1.0 s" in out
    assert "onset F1 ±100 ms" in out and "FDM (MFCC)" in out  # --judge none prints the results
    assert "1 clip(s) not scored" in out  # the 1.5 s clip gets no alignment (its shifted control needs 2 s)
    rows = list(csv.DictReader(open(tmp_path / "clips.csv")))
    assert [r["clip"] for r in rows] == ["c0", "c2"] and rows[0]["onset_f1_50"] == "" and rows[1]["onset_f1_50"] == "1"
    for i in (0, 2):
        (gen / f"c{i}.wav").unlink()
    assert main(["evaluate", "--generated", str(gen), "--reference", str(ref), "--codec", codec]) == 2
    assert "no pair could be scored" in capsys.readouterr().err


def test_a_file_for_a_folder_and_unreadable_references_are_named(real, tmp_path, capsys):
    """From a new user's trial: a clip given where a folder goes was called "no such folder", and a
    reference folder whose only clip is unreadable said only "no readable reference"."""
    root, ref, sounds, _ = real
    gen = _truth_folder(root, sounds)
    assert main(["evaluate", "--generated", str(gen), "--reference", str(ref / "clip0.mp4"), "--codec", "none"]) == 2
    assert capsys.readouterr().err.strip() == (f"maskvat: error: {ref / 'clip0.mp4'}: is a file, not a folder "
                                               "(give the folder that holds it)")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "clip0.mp4").write_text("not a video")
    assert main(["evaluate", "--generated", str(gen), "--reference", str(bad), "--codec", "none", "--judge", "none"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"maskvat: error: {bad / 'clip0.mp4'}: ") and "media file" in err
    assert err.endswith("no readable reference is left to score against") and "\n" not in err


def test_anchors_every_metric_ranks_the_truth_first(real, one_torch_thread):
    """The anchors (issue 27): for every metric the truth beats silence, noise and another clip's
    sound, and each alignment metric punishes a 200 ms shift; the cut truth ties on its span."""
    root, ref, sounds, codec = real
    out = evaluate_systems(ref, anchors=True, codec=codec, judge=None, progress=False)
    cols, v = out["columns"], out["verdicts"]
    assert list(cols) == list(ANCHORS) and out["n_clips"] == 4
    failing = {m: x["failed"] for m, x in v.items() if not x["ok"]}
    assert not failing, failing
    assert {m for m, s in METRICS.items() if s.kind == "alignment"} & set(v) >= set(ALIGNMENT_METRICS) | {"ns"}
    truth, cut, silence = cols["truth"], cols["truth cut to 75%"], cols["silence"]
    for m in ("fdd", "fdm", "fad"):
        assert 0.0 <= truth[m] < 1e-6 and cut[m] < 1e-6  # a set with itself: exactly 0, never negative
    assert abs(silence["ns"]) < 0.2 and cut["onset_f1_50"] == pytest.approx(1.0)  # (was 0.30-0.53 with padding)


def test_anchor_verdict_flags_a_metric_that_fails(real):
    from maskvat.evaluation.anchors import verdicts

    rows = {a: {"wc": 0.5, "onset_f1_50": 0.2} for a in ANCHORS}
    rows["truth"] = {"wc": 0.9, "onset_f1_50": 0.9}
    rows["truth +200 ms"]["onset_f1_50"] = 0.95  # a metric blind to a shift
    rows["silence"]["wc"] = 0.99  # a metric preferring silence
    v = verdicts(rows, METRICS)
    assert v["onset_f1_50"] == {"ok": False, "failed": ["truth +200 ms"]}
    assert v["wc"] == {"ok": False, "failed": ["silence"]}


def test_compare_ranks_systems_with_bootstrap_intervals(real, tmp_path, capsys, one_torch_thread):
    root, ref, sounds, codec = real
    truth = _truth_folder(root, sounds)
    late = tmp_path / "late"
    late.mkdir()
    for stem, wav in sounds.items():
        write_sound(late / f"{stem}.wav", np.concatenate([np.zeros(int(0.2 * SR), np.float32), wav])[: len(wav)])
    assert main(["evaluate", "--reference", str(ref), "--compare", f"truth={truth}", f"late={late}",
                 "--codec", "none", "--judge", "none", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    t, lt = out["columns"]["truth"], out["columns"]["late"]
    assert "fdd" not in t and t["fdm"] < lt["fdm"] and t["codec"] is None  # --codec none: no FDD, the rest scored
    assert "fdm" not in t["ci"] and "onset_f1_50" in t["ci"]  # set-level FDs are ranked without an interval
    assert t["onset_f1_50"] > lt["onset_f1_50"] and lt["env_lag_ms"] == pytest.approx(200.0, abs=10.0)
    lo, hi = lt["ci"]["onset_f1_50"]
    assert lo <= lt["onset_f1_50"] <= hi and hi < t["onset_f1_50"]
    with pytest.raises(MaskvatError, match="not both"):
        from maskvat.cli.evaluate import run  # noqa: F401

        main_args = ["evaluate", "--reference", str(ref), "--generated", str(truth), "--compare", f"a={truth}"]
        raise_from_main(main_args)


def raise_from_main(argv):
    import argparse

    from maskvat.cli import evaluate as cli

    p = argparse.ArgumentParser()
    cli.register(p.add_subparsers())
    cli.run(p.parse_args(argv))


def test_a_metric_failing_its_anchors_is_not_printed_as_a_system_score():
    from maskvat.evaluation.report import format_columns

    cols = {"truth": {"wc": 0.9, "onset_f1_50": 0.9}, "silence": {"wc": 0.99, "onset_f1_50": 0.0},
            "mine": {"wc": 0.871, "onset_f1_50": 0.456, "ci": {"onset_f1_50": (0.4, 0.5)}}}
    verdicts = {"wc": {"ok": False, "failed": ["silence"]}, "onset_f1_50": {"ok": True, "failed": []}}
    text = format_columns({"columns": cols, "anchors": ["truth", "silence"], "verdicts": verdicts,
                           "n_clips": 3, "reference": "ref"})
    wc = next(line for line in text.splitlines() if line.startswith("WC"))
    f1 = next(line for line in text.splitlines() if line.startswith("onset F1 ±50"))
    assert "0.871" not in wc and "fails anchors" in wc and "FAILS: not better than silence" in wc
    assert "0.456 [0.40,0.50]" in f1 and f1.rstrip().endswith("ok")


def test_a_span_generated_from_later_in_the_video_is_scored_against_those_seconds(tmp_path, capsys, one_torch_thread):
    """Issue 23: after `maskvat generate v.mp4 --start S --duration D`, evaluate scored the D seconds
    against the reference's first D seconds (onset F1 0.205 where the true span scored 0.105). The
    files generate writes record their span (pipeline.span); evaluate reads the reference from S."""
    from maskvat.media import mux_audio, write_audio
    from maskvat.pipeline.span import Span

    start, dur = 2.5, 3.0
    ref, gen, plain = tmp_path / "ref", tmp_path / "gen", tmp_path / "plain"
    for d in (ref, gen, plain):
        d.mkdir()
    sounds = {f"c{i}": impacts(6.0, seed=20 + i) for i in range(3)}
    a, b = round(start * SR), round((start + dur) * SR)
    for stem, wav in sounds.items():
        write_clip(ref / f"{stem}.mp4", wav)
        write_audio(plain / f"{stem}.wav", wav[a:b], SR)  # the same sound, recording no span
    # what `maskvat generate --start 2.5 --duration 3` writes (cli.generate: the same calls)
    write_audio(gen / "c0.wav", sounds["c0"][a:b], SR, comment=Span(start, dur).tag())
    mux_audio(ref / "c1.mp4", sounds["c1"][a:b], SR, gen / "c1_maskvat.mp4", start=start,
              comment=Span(start, dur, offset=start).tag())
    write_audio(gen / "c2.wav", sounds["c2"][a:b], SR, comment=Span(start, dur).tag())
    r = evaluate_dirs(gen, ref, codec=None, judge=None, progress=False)
    assert r["n_files"] == 3 and r["onset_f1_50"] == pytest.approx(1.0) and r["env_lag_ms"] == 0.0
    for row in r["per_clip"]:
        assert row["reference_start_s"] == start and row["span_s"] == pytest.approx(dur, abs=1e-3)
        assert row["span_known"] == "recorded"
    assert [c["clip"] for c in r["spans"]["reference_cut"]] == ["c0", "c1", "c2"] and not r["spans"]["unknown_mismatch"]
    # files that record nothing: scored from 0 s, with a warning; --start puts them right
    p = evaluate_dirs(plain, ref, codec=None, judge=None, progress=False)
    assert p["onset_f1_50"] < 0.6 and [e["clip"] for e in p["spans"]["unknown_mismatch"]] == ["c0", "c1", "c2"]
    assert main(["evaluate", "--generated", str(plain), "--reference", str(ref), "--codec", "none", "--judge", "none",
                 "--start", str(start)]) == 0
    out = capsys.readouterr().out
    assert "references cut to where the generated sound belongs (--start): c0 2.50-5.50 s, c1" in out
    assert "warning" not in out
    f1 = next(line for line in out.splitlines() if line.startswith("onset F1 ±50"))
    assert f1.split()[5] == "1.000"
    assert main(["evaluate", "--generated", str(plain), "--reference", str(ref), "--codec", "none", "--judge", "none",
                 "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["spans"]["unknown_mismatch"]  # stdout stays JSON; the warning goes to stderr
    assert "maskvat: warning: 3 generated file(s) differ in length" in captured.err and "--start" in captured.err
    assert main(["evaluate", "--generated", str(gen), "--reference", str(ref), "--codec", "none", "--judge", "none"]) == 0
    out = capsys.readouterr().out
    assert "(the span maskvat generate recorded in each file): c0 2.50-5.50 s" in out
    # --compare: systems whose sounds belong at different times of the references are refused by name
    with pytest.raises(MaskvatError, match="clip c0: the systems' sounds belong at different times"):
        evaluate_systems(ref, {"gen": gen, "plain": plain}, codec=None, judge=None, progress=False)
    both = evaluate_systems(ref, {"gen": gen, "plain": plain}, codec=None, judge=None, progress=False, start=start)
    assert both["columns"]["plain"]["onset_f1_50"] == pytest.approx(1.0) == both["columns"]["gen"]["onset_f1_50"]


def test_sound_past_the_common_span_never_moves_an_onset_inside_it(real, one_torch_thread, tmp_path):
    """Regression (new-user trial): onsets were detected on whole files, and the detector's peak
    picking is relative to the whole envelope, so a loud tail past the span (in the generated file
    or in the reference) took onsets away inside it: the truth plus 1.5 s scored F1 0.96."""
    _, _, sounds, codec = real
    tail = np.clip(10 * impacts(1.5, seed=9), -1, 1)  # hits 20 dB louder than the span's, after it
    cases = {"gen_longer": (lambda w: 0.1 * w, lambda w: np.concatenate([0.1 * w, tail])),
             "ref_longer": (lambda w: np.concatenate([0.1 * w, tail]), lambda w: 0.1 * w)}
    for case, (ref_of, gen_of) in cases.items():
        ref, gen = tmp_path / case / "ref", tmp_path / case / "gen"
        ref.mkdir(parents=True)
        gen.mkdir()
        for stem, wav in sounds.items():
            write_sound(ref / f"{stem}.wav", ref_of(wav))
            write_sound(gen / f"{stem}.wav", gen_of(wav))
        r = evaluate_dirs(gen, ref, codec=codec, judge=None, progress=False)
        for row in r["per_clip"]:
            assert row["span_s"] == pytest.approx(SECONDS, abs=1e-3), case
            assert row["onset_f1_50"] == pytest.approx(1.0) and row["env_lag_ms"] == 0, (case, row["clip"])
