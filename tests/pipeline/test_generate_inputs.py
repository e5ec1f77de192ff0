"""``maskvat generate`` on inputs as users have them: parts of videos (--start), lists saved by
Excel, VGGSound names that begin with '-', every container, files that fail in a batch."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest
from media_helpers import encode_frames, indexed_frames, stream_copy_cut
from model_helpers import save_tiny_model

from maskvat.cli.generate import expand_inputs
from maskvat.cli.main import main
from maskvat.data.sources import list_sources
from maskvat.errors import MaskvatError
from maskvat.media import VIDEO_SUFFIXES, FrameArray, probe, read_audio
from maskvat.pipeline.generate import Pipeline, requested_duration
from maskvat.pipeline.span import Span, read_span


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return save_tiny_model(tmp_path_factory.mktemp("gen_inputs"))


def run(*argv) -> int:
    return main(["generate", *map(str, argv)])


def test_sound_of_a_part_plays_at_its_true_time_in_the_muxed_copy(tiny_model, make_video, tmp_path,
                                                                   one_torch_thread):
    """--start 0.6 --duration 0.5: the wav holds 0.6-1.1 s; the copy holds the whole 2 s video with
    that sound at 0.6-1.1 s (Matroska: FLAC, lossless) and silence elsewhere."""
    import soundfile as sf

    video = make_video("v.mkv", 50, 25)
    out = tmp_path / "out"
    assert run(video, "-o", out, "--model", tiny_model, "--steps", 2, "--start", 0.6, "--duration", 0.5) == 0
    wav, sr = sf.read(out / "v.wav", dtype="float32")
    assert len(wav) == round(0.5 * sr) and np.abs(wav).max() > 0.01
    back = read_audio(out / "v_maskvat.mkv")
    a, b = round(0.6 * sr), round(1.1 * sr)
    assert len(back) == 2 * sr
    np.testing.assert_allclose(back[a:b], wav, atol=1.5 / 32768)
    assert not back[:a].any() and not back[b:].any()
    # each file records where its sound belongs, for `maskvat evaluate` (issue 23)
    assert read_span(out / "v.wav") == Span(0.6, 0.5, offset=0.0)
    assert read_span(out / "v_maskvat.mkv") == Span(0.6, 0.5, offset=0.6)
    assert read_span(video) is None


def test_excel_csv_and_path_column_read_as_extract_reads_them(make_video, tmp_path):
    a, b = make_video("a.mp4", 10, 25), make_video("b.mp4", 10, 25)
    listing = tmp_path / "list.csv"
    listing.write_bytes("\ufeffpath,label\na.mp4,dog\nb.mp4,cat\n".encode())  # Excel's "CSV UTF-8"
    assert expand_inputs([str(listing)]) == [a, b]
    assert [i.path for i in list_sources([listing])] == [a, b]  # one reader for both commands
    (tmp_path / "old.csv").write_bytes("\ufeffvideo\nb.mp4\n".encode())
    assert expand_inputs([str(tmp_path / "old.csv")]) == [b]
    (tmp_path / "spans.csv").write_text("path,start,end\na.mp4,0,0.2\n")
    with pytest.raises(MaskvatError, match="--start/--duration"):
        expand_inputs([str(tmp_path / "spans.csv")])
    (tmp_path / "other.csv").write_text("file\na.mp4\n")
    with pytest.raises(MaskvatError, match="needs a 'path' \\(or 'video'\\) column"):
        expand_inputs([str(tmp_path / "other.csv")])


def test_one_list_of_video_suffixes_for_every_folder_scan(tmp_path):
    from maskvat.data.corpus import list_media

    folder = tmp_path / "videos"
    folder.mkdir()
    for suffix in sorted(VIDEO_SUFFIXES) + [".txt", ".json"]:
        (folder / f"x{suffix}").write_bytes(b"?")
    want = sorted(folder / f"x{s}" for s in VIDEO_SUFFIXES)
    assert {".ts", ".gif", ".webm", ".avi"} <= VIDEO_SUFFIXES
    assert expand_inputs([str(folder)]) == want  # maskvat generate
    assert sorted(i.path for i in list_sources([folder])) == want  # maskvat extract
    assert [p for p in list_media([folder]) if p.suffix in VIDEO_SUFFIXES] == want  # the codec's corpus


def test_file_names_that_begin_with_a_dash(tiny_model, make_video, tmp_path, monkeypatch, capsys,
                                           one_torch_thread):
    make_video("-abc123_000030.mp4", 10, 25)  # a VGGSound id
    make_video("-o_x.mp4", 10, 25)  # would read as "-o _x.mp4"
    monkeypatch.chdir(tmp_path)
    assert run("-abc123_000030.mp4", "-o_x.mp4", "-o", "out", "--model", tiny_model, "--steps", 1) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "-abc123_000030.wav", "-abc123_000030_maskvat.mp4", "-o_x.wav", "-o_x_maskvat.mp4"]
    with pytest.raises(SystemExit):
        run("-o", "out2", "-zzz_000001.mp4")  # no such file: argparse's error, with a hint
    assert "after '--'" in capsys.readouterr().err
    assert run("-o", "out2", "--model", tiny_model, "--steps", 1, "--", "-abc123_000030.mp4") == 0


def test_limits_are_stated_and_the_message_says_what_to_do(make_video, capsys):
    with pytest.raises(SystemExit):
        run("--help")
    text = " ".join(capsys.readouterr().out.split())
    assert "0.25 to 14400" in text and "--start/--duration" in text
    long = FrameArray(np.zeros((14401, 2, 2, 3), np.uint8), fps=1.0)  # 4 h and 1 s
    with pytest.raises(MaskvatError, match="longer than the 14400 s .* --start 0 --duration 14400"):
        requested_duration(long)
    assert requested_duration(long, start=14300.0) == pytest.approx(101.0)
    clip = make_video("short.mp4", 10, 25)  # 0.4 s
    with pytest.raises(MaskvatError, match="shorter than the 0.25 s minimum"):
        requested_duration(clip, duration=0.2)
    assert requested_duration(clip, duration=0.3) == pytest.approx(0.3)
    with pytest.raises(MaskvatError, match="start 0.50 s is outside the video"):
        requested_duration(clip, start=0.5)


@pytest.fixture
def no_model(monkeypatch):
    """Fails the test if the model is loaded: for checks that must come before any work."""
    def refuse(*args, **kwargs):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(Pipeline, "load", refuse)


def test_input_whose_container_cannot_take_sound_gets_another(tiny_model, tmp_path, capsys, one_torch_thread):
    gif = encode_frames(tmp_path / "anim.gif", indexed_frames(8), range(8), Fraction(1, 10), codec="gif",
                        pix_fmt="rgb8")
    assert run(gif, "-o", tmp_path / "out", "--model", tiny_model, "--steps", 1) == 0
    assert "anim_maskvat.mov (a .mov copy: .gif cannot hold its video plus sound)" in capsys.readouterr().out
    assert probe(tmp_path / "out" / "anim_maskvat.mov").audio is not None


@pytest.fixture
def av1_video(tmp_path):
    if "libsvtav1" not in av.codecs_available or "libdav1d" not in av.codecs_available:
        pytest.skip("this PyAV cannot encode and decode AV1")
    return encode_frames(tmp_path / "av1.mp4", indexed_frames(10), range(10), Fraction(1, 25), codec="libsvtav1")


def test_av1_without_a_software_decoder_is_refused_before_any_work(av1_video, tmp_path, monkeypatch, capsys,
                                                                    no_model):
    """A PyAV built without libdav1d and libaom-av1 decodes AV1 with FFmpeg's own "av1" decoder,
    which needs hardware: stand that decoder in for the one this build picked."""
    import importlib

    probe_module = importlib.import_module("maskvat.media.probe")  # (maskvat.media.probe is also the function)

    def hardware_only(stream):
        ctx = av.CodecContext.create("av1", "r")
        ctx.extradata = stream.codec_context.extradata
        return ctx

    monkeypatch.setattr(probe_module, "decoder", hardware_only)
    assert run(av1_video, "-o", tmp_path / "out") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "av1.mp4: has AV1 video" in err and "libdav1d" in err
    assert not (tmp_path / "out").exists()


def test_av1_input_is_generated_and_muxed(av1_video, tiny_model, tmp_path, one_torch_thread):
    assert run(av1_video, "-o", tmp_path / "out", "--model", tiny_model, "--steps", 1) == 0
    assert probe(tmp_path / "out" / "av1_maskvat.mp4").video.codec == "av1"


def test_one_failing_file_does_not_stop_a_batch(tiny_model, make_video, tmp_path, monkeypatch, capsys,
                                                one_torch_thread):
    import maskvat.media

    good, bad = make_video("good.mp4", 10, 25), make_video("bad.mp4", 10, 25)
    (tmp_path / "junk.mp4").write_text("not a video")
    real_mux = maskvat.media.mux_audio

    def mux(video, *args, **kwargs):  # what an unforeseen PyAV failure looks like (UnknownCodecError)
        if "bad" in str(video):
            raise av.codec.codec.UnknownCodecError("libdav1d")
        return real_mux(video, *args, **kwargs)

    monkeypatch.setattr(maskvat.media, "mux_audio", mux)
    assert run(bad, tmp_path / "junk.mp4", good, "-o", tmp_path / "out", "--model", tiny_model,
               "--steps", 1, "--batch", 1) == 1
    out = capsys.readouterr().out
    skipped = [line for line in out.splitlines() if line.startswith("maskvat: skipped")]
    assert len(skipped) == 2
    assert "junk.mp4: is not a media file" in skipped[0]
    assert "bad.mp4: UnknownCodecError: libdav1d (kept" in skipped[1]
    assert "2 of 3 videos failed" in out
    assert (tmp_path / "out" / "good_maskvat.mp4").is_file() and (tmp_path / "out" / "bad.wav").is_file()


def test_stream_copied_cut_is_generated_for_what_a_player_shows(tiny_model, tmp_path, one_torch_thread):
    import soundfile as sf

    src = encode_frames(tmp_path / "src.mp4", indexed_frames(30), range(30), Fraction(1, 25), gop=15)
    cut = stream_copy_cut(src, tmp_path / "cut.mp4", drop=8)  # shows frames 8-29: 0.88 s
    assert run(cut, "-o", tmp_path / "out", "--model", tiny_model, "--steps", 1) == 0
    wav, sr = sf.read(tmp_path / "out" / "cut.wav")
    assert len(wav) == round(0.88 * sr)
    copy = probe(tmp_path / "out" / "cut_maskvat.mp4")
    assert copy.video.frame_count == 22 and copy.video.duration == pytest.approx(0.88)


@pytest.mark.parametrize("option, value, says", [
    ("--duration", "-5", "--duration -5 s: must be positive"),
    ("--duration", "0", "--duration 0 s: must be positive"),
    ("--duration", "nan", "--duration nan s: must be positive"),
    ("--duration", "0.1", "--duration 0.1 s is shorter than the 0.25 s minimum"),
    ("--start", "-1", "--start -1 s: must be 0 or more"),
])
def test_a_span_option_out_of_range_is_one_line_naming_it_before_any_work(option, value, says, make_video,
                                                                          tmp_path, capsys, no_model):
    """Finding 2: `--duration -5` said the span was "shorter than the 0.25 s minimum"; with several
    videos each was skipped (status 1). The option is refused once, with status 2, before any file
    is probed or the model loaded."""
    a, b = make_video("a.mp4", 10, 25), make_video("b.mp4", 10, 25)
    assert run(a, b, "-o", tmp_path / "out", option, value) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.splitlines() == [captured.err.strip()]
    assert captured.err.startswith(f"maskvat: error: {says}")
    assert not (tmp_path / "out").exists()
    with pytest.raises(MaskvatError, match=says.removeprefix("--").replace("(", r"\(")):
        requested_duration(a, **{option[2:]: float(value)})  # the Python API says the same of the video


def test_a_long_video_states_its_windows_and_counts_them_while_sampling(tiny_model, make_video, tmp_path, capsys,
                                                                         one_torch_thread):
    """Finding 1: a long video's run said nothing of how long it would take. The tiny model's window
    is 40 frames (0.46 s) with a 20-frame overlap: 2 s of video is 8 windows."""
    video = make_video("long.mp4", 50, 25)
    want = Pipeline.load(tiny_model).windows(2.0)
    assert len(want) == 8
    assert run(video, "-o", tmp_path / "out", "--model", tiny_model, "--steps", 1) == 0
    captured = capsys.readouterr()
    assert f"{video}: 2.0 s in 8 windows of 0.5 s (0.2 s overlap)" in captured.out.splitlines()
    assert "window 1 of 8" in captured.err and "window 8 of 8" in captured.err and "window 9" not in captured.err
    short = make_video("short.mp4", 10, 25)  # 0.4 s: one window, no plan line, the plain sampling bar
    assert run(short, "-o", tmp_path / "out2", "--model", tiny_model, "--steps", 1) == 0
    captured = capsys.readouterr()
    assert "windows of" not in captured.out and "window 1 of" not in captured.err and "sampling" in captured.err


def _write_lab_truth(video):
    from maskvat.lab.truth import ClipTruth

    truth = ClipTruth(clip_id=video.stem, fps=25.0, sample_rate=44100, duration=0.4, width=64, height=48, seed=[0],
                      sources=[])
    video.with_suffix(".json").write_text(truth.to_json())


@pytest.fixture
def load_stops(monkeypatch):
    """Pipeline.load fails as bad input would (status 2): what was printed before it is the check."""
    def stop(*args, **kwargs):
        raise MaskvatError("stopped where the model would load")

    monkeypatch.setattr(Pipeline, "load", stop)


def test_the_lab_model_on_real_footage_warns_once_per_run(make_video, tmp_path, capsys, load_stops, tiny_model):
    """Finding 3: the shipped lab model, trained on procedural lab scenes only, makes lab-like sounds
    for real footage; a run says so once, before the model loads, and points to `maskvat fit`."""
    real = [make_video(f"real{i}.mp4", 10, 25) for i in range(3)]
    assert run(*real, "-o", tmp_path / "out") == 2  # --model lab, the default
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert len(warnings) == 1
    assert warnings[0].startswith("maskvat: warning: the lab model was trained only on synthetic lab scenes")
    assert "maskvat fit" in warnings[0] and "Your own footage" in warnings[0] and "and 2 more" in warnings[0]
    from maskvat.weights import shipped

    assert run(real[0], "-o", tmp_path / "out", "--model", shipped("pipeline")) == 2  # the shipped folder by path
    assert "lab-like sounds" in capsys.readouterr().err
    lab = make_video("lab_000000.mp4", 10, 25)  # a lab clip: its truth JSON is beside it
    _write_lab_truth(lab)
    (tmp_path / "real0.json").write_text("{\"captions\": \"not a lab truth\"}")  # ... not any JSON
    assert run(lab, "-o", tmp_path / "out", "--model", "lab") == 2
    assert "warning" not in capsys.readouterr().err
    assert run(real[0], "-o", tmp_path / "out", "--model", "lab") == 2
    assert "lab-like sounds" in capsys.readouterr().err
    assert run(*real, "-o", tmp_path / "out", "--model", tiny_model) == 2  # another model: no warning
    assert "warning" not in capsys.readouterr().err
