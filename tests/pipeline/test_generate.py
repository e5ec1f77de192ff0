"""The generation pipeline end to end with a tiny (untrained) model: windows, files, CLI."""

import av
import numpy as np
import pytest
import torch
from model_helpers import save_tiny_model

from maskvat.cli.main import main
from maskvat.codec.tokenizer import AudioTokenizer
from maskvat.errors import MaskvatError
from maskvat.pipeline.generate import Pipeline, codec_edge_frames, kept_ends, window_plan
from maskvat.sampling.sampler import SamplerSettings


def test_window_plan_covers_without_gaps():
    assert window_plan(100, 345, 86) == [(0, 100)]
    for total, window, overlap in [(1000, 345, 86), (131, 40, 17), (5168, 862, 86), (880, 862, 86), (1000, 345, 1)]:
        plan = window_plan(total, window, overlap)
        assert plan[0] == (0, window) and plan[-1][0] + plan[-1][1] == total
        for (s0, n0), (s1, _) in zip(plan, plan[1:]):
            assert s0 < s1 <= s0 + n0 - overlap  # overlaps the previous window by at least `overlap` frames
        assert all(n == window for _, n in plan[:-1]) and window // 4 <= plan[-1][1] <= window


def test_window_plan_a_hair_over_the_window_costs_one_window():
    """A 10.01 s video (863 codegram frames) against the paper's 10 s window (862): one window of
    863 frames, not two full windows; past the 2 % allowance the last window is only as long as
    it needs to be (at least a quarter window), not a full one reaching back."""
    assert window_plan(863, 862, 86) == [(0, 863)]
    assert window_plan(879, 862, 86) == [(0, 879)]  # 862 + 862 // 50
    assert window_plan(880, 862, 86) == [(0, 862), (665, 215)]  # the quarter-window floor
    assert window_plan(948, 862, 86) == [(0, 862), (733, 215)]  # 11 s: 1077 frames sampled, not 1724
    assert window_plan(1200, 862, 86) == [(0, 862), (776, 424)]  # overlap 86 + the 338 frames left
    assert window_plan(346, 345, 86, excess=0) == [(0, 345), (259, 87)]  # no allowance: overlap + 1 frame


def test_kept_ends_leave_each_windows_edge_to_the_next():
    plan = window_plan(1000, 345, 86)
    assert plan == [(0, 345), (259, 345), (518, 345), (777, 223)]
    assert kept_ends(plan, 6) == [339, 598, 857, 1000]  # the last window keeps all its frames
    assert kept_ends(plan, 0) == [345, 604, 863, 1000]
    assert kept_ends(plan, 500) == [345 - 43, 604 - 43, 863 - 43, 1000]  # at most half the overlap: a prompt stays
    assert kept_ends([(0, 100)], 6) == [100]  # one window: nothing to join


def test_codec_edge_frames_bound_where_a_clip_alone_encodes_differently(one_torch_thread):
    """The shipped codec codes the first and last few frames of a clip differently from the same
    sound inside a longer clip; ``codec_edge_frames`` bounds how many, on any sound."""
    codec = AudioTokenizer.from_pretrained("lab")
    edge = codec_edge_frames(codec)
    assert 2 <= edge <= 12
    t = np.arange(4 * 44100) / 44100
    wav = (0.3 * np.sin(2 * np.pi * 220 * t) * (np.sin(2 * np.pi * 3 * t) > 0.5)).astype(np.float32)  # tone bursts
    whole = codec.encode(torch.from_numpy(wav)[None])[0]
    a, n = 86, 200
    part = codec.encode(torch.from_numpy(wav[a * 512:(a + n) * 512])[None])[0]
    differs = (part != whole[:, a:a + n]).any(0)
    assert differs[0] and differs[-1]  # a clip's edges are coded apart ...
    assert not differs[edge:n - edge].any()  # ... and only within ``edge`` frames of them


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return save_tiny_model(tmp_path_factory.mktemp("gen"))


@pytest.fixture
def silent_video(make_video):
    return make_video("silent.mp4", 38, 25.0)  # 1.52 s, no audio stream


def test_generate_long_video_in_windows(tiny_model, silent_video, one_torch_thread):
    pipe = Pipeline.load(tiny_model)
    s = SamplerSettings(steps=3)
    out = pipe.generate(silent_video, settings=s, seed=1, overlap=0.2)
    assert len(out.windows) >= 3  # 1.52 s at 86 frames/s is 131 frames; windows of 40
    assert out.codes.shape == (9, 131) and (out.codes < 1024).all()  # every frame filled, no [MASK] left
    assert out.wav.shape == (int(round(1.52 * 44100)),) and np.isfinite(out.wav).all()
    again = pipe.generate(silent_video, settings=s, seed=1, overlap=0.2)
    assert torch.equal(out.codes, again.codes)  # same seed, same output
    # the overlap of each window was taken from the previous one (fixed prompt tokens)
    (s0, n0), (s1, _) = out.windows[0], out.windows[1]
    assert s1 < s0 + n0


def test_later_windows_regenerate_the_previous_windows_edge(tiny_model, silent_video, one_torch_thread):
    """Each later window's prompt is the previous window's tokens in the overlap less its last
    ``edge_frames`` frames (the codec's edge codes), which it samples anew."""
    pipe = Pipeline.load(tiny_model)
    pipe.edge_trim = 3
    prompts, real = [], pipe._sample

    def record(feats, length, settings, gen, prompt, fixed, *rest):
        prompts.append(None if prompt is None else fixed[0].all(0))
        return real(feats, length, settings, gen, prompt, fixed, *rest)

    pipe._sample = record
    out = pipe.generate(silent_video, settings=SamplerSettings(steps=2), seed=1, overlap=0.2)
    assert prompts[0] is None and len(prompts) >= 3
    for (s0, n0), (s1, _), kept in zip(out.windows, out.windows[1:], prompts[1:]):
        assert kept.nonzero().flatten().tolist() == list(range(s0 + n0 - 3 - s1))
    assert (out.codes < 1024).all()  # every frame filled all the same


def test_a_long_video_is_probed_once_and_decoded_once_per_call(tiny_model, make_video, monkeypatch,
                                                                one_torch_thread):
    """Issue 19: every window and every encoder take their frames from one decode pass of the
    file, and the codes are those of each window's frames read on their own."""
    import maskvat.media.video as media_video
    from maskvat.pipeline.features import FeaturePipeline

    video = make_video("long.mp4", 60, 25.0)  # 2.4 s: 207 codegram frames, windows of 40
    pipe = Pipeline.load(tiny_model)
    opens, passes = [], []
    real_open, real_pass = av.open, media_video._decode_pass
    monkeypatch.setattr(av, "open", lambda *a, **k: opens.append(str(a[0])) or real_open(*a, **k))
    monkeypatch.setattr(media_video, "_decode_pass", lambda *a, **k: passes.append(a[2]) or real_pass(*a, **k))
    settings = SamplerSettings(steps=2)
    out = pipe.generate(video, settings=settings, seed=3, overlap=0.2)
    assert len(out.windows) >= 6
    assert opens == [str(video)] * 2 and len(passes) == 1  # one probe, one decode pass ...
    assert len(passes[0]) == 2 * len(out.windows)  # ... for both encoders of every window
    opens.clear()
    features = pipe.features

    def each_alone(path, spans, **kw):  # what every window read before: a decode of its own span
        return (next(FeaturePipeline.visual_windows(features, path, [span], **kw)) for span in spans)

    monkeypatch.setattr(features, "visual_windows", each_alone)
    alone = pipe.generate(video, settings=settings, seed=3, overlap=0.2)
    assert len(opens) == 1 + len(out.windows)  # (the probe, then a pass per window)
    assert torch.equal(out.codes, alone.codes) and np.array_equal(out.wav, alone.wav)


def test_cli_writes_sound_and_muxed_copy(tiny_model, silent_video, tmp_path, one_torch_thread):
    out = tmp_path / "out"
    rc = main(["generate", str(silent_video), "-o", str(out), "--model", str(tiny_model), "--steps", "2"])
    assert rc == 0
    wav, muxed = out / "silent.wav", out / "silent_maskvat.mp4"
    assert wav.is_file() and muxed.is_file()

    def packets(path):
        with av.open(str(path)) as c:
            return [(bytes(p), p.pts) for p in c.demux(c.streams.video[0]) if p.size]

    assert packets(muxed) == packets(silent_video)  # video stream untouched
    with av.open(str(muxed)) as c:
        assert len(c.streams.audio) == 1
    # a second run refuses to overwrite
    assert main(["generate", str(silent_video), "-o", str(out), "--model", str(tiny_model)]) == 2


def test_bad_inputs_are_clear_errors(tiny_model, tmp_path, capsys):
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    assert main(["generate", str(text), "-o", str(tmp_path / "o"), "--model", str(tiny_model)]) == 2
    assert "notes.mp4" in capsys.readouterr().err
    assert main(["generate", str(tmp_path / "missing.mp4"), "-o", str(tmp_path / "o"), "--model", str(tiny_model)]) == 2
    with pytest.raises(MaskvatError, match="no such file or folder"):
        Pipeline.load(tmp_path / "nope")


def test_beams_are_scored_by_scav_and_the_nearest_kept(tiny_model, silent_video, tmp_path, one_torch_thread):
    from maskvat.scav.model import SCAV, SCAVConfig

    torch.manual_seed(0)
    SCAV(SCAVConfig(hidden=8, dim=4, length=10)).save_pretrained(tmp_path / "scav")
    pipe = Pipeline.load(tiny_model, scav=tmp_path / "scav")
    decoded, decode = [], pipe.codec.decode
    pipe.codec.decode = lambda codes, *a, **k: decoded.append(codes.shape[0]) or decode(codes, *a, **k)
    out = pipe.generate(silent_video, settings=SamplerSettings(steps=2), seed=0, duration=0.45, beams=3)
    assert decoded == [3]  # each beam decoded once (for SCAV); the kept beam's sound is not decoded again
    pipe.codec.decode = decode
    n = int(round(0.45 * 44100))
    assert np.array_equal(out.wav, decode(out.codes[None])[0, :n].numpy())  # ... and it is the sound
    assert len(out.beam_distances) == 1 and len(out.beam_distances[0]) == 3
    assert out.chosen[0] == int(np.argmin(out.beam_distances[0]))
    # the kept codegram is the chosen candidate's: recompute its distance
    feats = pipe.features.visual(silent_video, 0.0, out.windows[0][1] * 512 / 44100, context=pipe.feature_context,
                                 edge="none")  # as generation reads them
    d = pipe.scav_distances(feats, out.codes[None])
    assert float(d[0]) == pytest.approx(min(out.beam_distances[0]), rel=1e-4)
    with pytest.raises(MaskvatError, match="SCAV"):
        Pipeline.load(tiny_model, scav=None).generate(silent_video, beams=2)
    # a selector trained on other features than the model's is refused when loading
    SCAV(SCAVConfig(hidden=8, dim=4, length=10, semantic_dim=768, semantic_encoder="lab-thumbs")).save_pretrained(
        tmp_path / "scav_thumbs")
    with pytest.raises(MaskvatError, match=r"semantic: lab-thumbs \(the model: lab-semantic\)"):
        Pipeline.load(tiny_model, scav=tmp_path / "scav_thumbs")


def test_generate_many_batches_files_like_each_alone(tiny_model, make_video, tmp_path, one_torch_thread):
    a, b = make_video("a.mp4", 12, 25.0), make_video("b.mp4", 5, 10.0)  # different pictures at the same times
    bad = tmp_path / "bad.mp4"
    bad.write_text("not a video")
    pipe = Pipeline.load(tiny_model)
    g = torch.Generator().manual_seed(0)
    for name, w in pipe.model.named_parameters():
        if ".ada." in name:  # adaLN-Zero starts blind to the video: give the modulation some weight
            w.data.normal_(0.0, 0.3, generator=g)
    greedy = SamplerSettings(steps=3, diversity=0.0, temperature=1e-4)  # independent of the order of random draws
    got = {i: r for i, _, r in pipe.generate_many([a, bad, b], batch_size=2, settings=greedy, duration=0.4)}
    assert sorted(got) == [0, 1, 2]
    assert isinstance(got[1], MaskvatError) and "bad.mp4" in str(got[1])
    for i, video in ((0, a), (2, b)):
        alone = pipe.generate(video, settings=greedy, duration=0.4)
        assert torch.equal(got[i].codes, alone.codes)
        assert got[i].wav.shape == alone.wav.shape == (int(round(0.4 * 44100)),)
        np.testing.assert_allclose(got[i].wav, alone.wav, atol=1e-4)
    assert not torch.equal(got[0].codes, got[2].codes)  # each item kept its own conditioning
    # with the paper's random sampling too, each video of a batch gets generate()'s sound at the same
    # seed: its draws come from its own generator (a folder run and a run of one file agree)
    s = SamplerSettings(steps=3)
    got = {i: r for i, _, r in pipe.generate_many([a, b], batch_size=2, settings=s, seed=5, duration=0.4)}
    for i, video in ((0, a), (1, b)):
        assert torch.equal(got[i].codes, pipe.generate(video, settings=s, seed=5, duration=0.4).codes)
    [(_, _, one)] = list(pipe.generate_many([a], batch_size=1, settings=s, seed=5, duration=0.4))
    assert torch.equal(one.codes, got[0].codes)


def test_cli_refuses_two_inputs_writing_the_same_file(tiny_model, make_video, tmp_path, capsys):
    a = make_video("clip.mp4", 12, 25.0)
    (tmp_path / "other").mkdir()
    b = make_video("other/clip.mp4", 12, 25.0)
    assert main(["generate", str(a), str(b), "-o", str(tmp_path / "o"), "--model", str(tiny_model)]) == 2
    assert "clip.wav" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_generate_from_frames_in_memory(tiny_model, make_video, one_torch_thread):
    from media_helpers import indexed_frames

    from maskvat.media import FrameArray

    pipe = Pipeline.load(tiny_model)
    s = SamplerSettings(steps=2)
    frames = indexed_frames(10)  # 0.4 s at 25 fps
    out = pipe.generate(frames, fps=25, settings=s, seed=4)
    assert out.codes.shape == (9, 35) and out.wav.shape == (17640,) and np.isfinite(out.wav).all()
    assert torch.equal(pipe.generate(FrameArray(frames, 25.0), settings=s, seed=4).codes, out.codes)
    with pytest.raises(MaskvatError, match="fps="):
        pipe.generate(frames)
    # generate_many takes frames and files side by side
    path = make_video("f.mp4", 10, 25.0)
    got = {i: r for i, _, r in pipe.generate_many([FrameArray(frames, 25.0), path], settings=s)}
    assert got[0].codes.shape == got[1].codes.shape == (9, 35)


def test_the_judge_selector_keeps_the_beam_its_sync_judge_finds_most_in_sync(tmp_path, make_video, one_torch_thread):
    """selector="judge": the model's sync judge (its lab-sync encoder's) scores each beam on the
    window's own sync features; the kept beam is the most probable at offset 0, and no SCAV is needed."""
    from maskvat.encoders.judge import sync_confidence

    frames = 160
    folder = Pipeline.debug(max_frames=frames, window_seconds=frames * 512 / 44100).save_pretrained(tmp_path / "m")
    video = make_video("long.mp4", 50, 25.0)  # 2 s: one window of 1.86 s, over the judge's 1.6 s
    pipe = Pipeline.load(folder, scav=None, selector="judge")
    out = pipe.generate(video, settings=SamplerSettings(steps=2), beams=3, duration=1.8)
    [dist] = out.beam_distances
    assert len(dist) == 3 and all(0 <= d <= 1 for d in dist) and out.chosen == [int(np.argmin(dist))]
    # the distances are 1 - the judge's p(offset 0) of each beam's sound, as sync_confidence gives them
    feats = pipe.features.visual(video, 0.0, 1.8, context=pipe.feature_context, edge=pipe.feature_edge)
    p0 = sync_confidence(pipe.features.sync.judge, feats.sync, torch.as_tensor(np.stack([out.wav])))
    assert 0 <= float(p0[0]) <= 1
    np.testing.assert_allclose(1 - float(p0[0]), dist[out.chosen[0]], atol=2e-3)  # the kept beam's own score


def test_the_judge_selector_is_refused_where_it_cannot_work(tiny_model, make_video, tmp_path, capsys):
    from maskvat.pipeline.features import FeaturePipeline
    from maskvat.pipeline.generate import check_selector

    with pytest.raises(MaskvatError, match="beam selector must be one of scav, judge, not 'best'"):
        check_selector("best", FeaturePipeline())
    with pytest.raises(MaskvatError, match="has no sync encoder"):
        check_selector("judge", FeaturePipeline())
    # windows shorter than the judge's 1.6 s: refused before any sampling
    pipe = Pipeline.load(tiny_model, scav=None, selector="judge")
    with pytest.raises(MaskvatError, match=r"needs windows of 1\.60 s or more .* this one is 0\.46 s"):
        pipe.generate(make_video("short.mp4", 12, 25.0), beams=2, duration=0.46)
    assert main(["generate", str(make_video("s.mp4", 12, 25.0)), "-o", str(tmp_path / "o"), "--model", str(tiny_model),
                 "--beams", "2", "--selector", "judge"]) == 2
    assert "needs windows of 1.60 s or more" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()  # the output folder this run made is removed again: nothing left
    # one beam leaves nothing to choose: said, then generated as asked
    assert main(["generate", str(make_video("s1.mp4", 12, 25.0)), "-o", str(tmp_path / "o1"), "--model",
                 str(tiny_model), "--selector", "judge", "--no-video"]) == 0
    assert "--selector judge not used: one beam leaves nothing to choose" in capsys.readouterr().err
    assert (tmp_path / "o1" / "s1.wav").is_file()


def test_a_last_window_shorter_than_the_judges_keeps_its_first_beam(tmp_path, make_video, one_torch_thread):
    """A user's finding: a video a little over a whole number of windows (7.2 s in 4 s windows) ran
    every window, then failed on its short last one. Now that window is not scored (NaN) and keeps
    its first beam; the others are chosen by the judge."""
    frames = 160
    folder = Pipeline.debug(max_frames=frames, window_seconds=frames * 512 / 44100).save_pretrained(tmp_path / "m")
    video = make_video("v.mp4", 60, 25.0)  # 2.4 s: windows of 1.86 s, the last one well under the judge's 1.6 s
    pipe = Pipeline.load(folder, scav=None, selector="judge")
    out = pipe.generate(video, settings=SamplerSettings(steps=2), beams=2)
    assert len(out.windows) == 2 and out.windows[-1][1] * 512 / 44100 < 1.6
    first, last = out.beam_distances
    assert all(0 <= d <= 1 for d in first) and out.chosen[0] == int(np.argmin(first))
    assert all(np.isnan(d) for d in last) and out.chosen[1] == 0
    assert out.wav.shape == (int(round(2.4 * 44100)),)
