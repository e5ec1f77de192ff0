"""Keep a take, redo a second (issue 24): ``Pipeline.generate(keep=..., regenerate=...)`` with the
tiny debug pipeline (random weights: its sound is noise, but every token and sample is exact)."""

import numpy as np
import pytest
import torch
from media_helpers import indexed_frames

import maskvat
from maskvat.codec import save_codes
from maskvat.errors import MaskvatError
from maskvat.media import FrameArray, resample, write_audio
from maskvat.pipeline.edit import check_ranges, parse_range, range_frames, read_keep
from maskvat.pipeline.generate import Pipeline, codec_decoder_reach
from maskvat.sampling.sampler import SamplerSettings

pytestmark = pytest.mark.usefixtures("one_torch_thread")
STEPS = SamplerSettings(steps=3)
HOP = 512


RANGE = [(0.3, 0.4)]  # frames 25 to 35 (11.6 ms each), widened by the tiny codec's edge (4): 21 to 39
L, F0, F1, W = 69, 25, 35, 4


@pytest.fixture(scope="module")
def pipe():
    return Pipeline.debug(max_frames=80)  # maskvat.load("debug") with a window of 80 frames (0.93 s)


@pytest.fixture(scope="module")
def clip():
    return FrameArray(indexed_frames(20), 25.0)  # 0.8 s: 69 codegram frames, one window of this debug model


@pytest.fixture(scope="module")
def take(pipe, clip):
    return pipe.generate(clip, settings=STEPS, seed=0)


def frames_in(spans, total):
    m = torch.zeros(total, dtype=torch.bool)
    for a, b in spans:
        m[a:b] = True
    return m


def samples_in(spans, n):
    m = np.zeros(n, dtype=bool)
    for a, b in spans:
        m[a * HOP:b * HOP] = True
    return m


def round_trip(pipe, codes, n):
    return pipe.codec.decode(codes[None], num_samples=n)[0].numpy()


def test_ranges_are_parsed_checked_and_turned_into_frames_in_one_place():
    assert parse_range("2.0-3.5") == (2.0, 3.5) and parse_range(" 5 - 6 ") == (5.0, 6.0)
    for bad in ("2.0-", "3", "a-b", "-1-2", "2.0:3.5"):
        with pytest.raises(MaskvatError, match="START-END"):
            parse_range(bad)
    assert check_ranges([(5, 6), (2, 3.5)], 0.0, 10.0) == [(2.0, 3.5), (5.0, 6.0)]
    assert check_ranges([(2, 3), (3, 4)], 0.0, 10.0) == [(2.0, 3.0), (3.0, 4.0)]  # touching is fine
    for ranges, match in [([(3, 2)], "reversed"), ([(2, 2)], "empty"), ([(2, 3), (2.5, 4)], "overlap"),
                          ([(9, 11)], "outside the span generated, 0.00-10.00"), ([], "at least one"),
                          ([(1, 2, 3)], "not a pair"), ([(float("nan"), 2)], "t0 < t1")]:
        with pytest.raises(MaskvatError, match=match):
            check_ranges(ranges, 0.0, 10.0)
    with pytest.raises(MaskvatError, match="outside"):  # seconds on the video's timeline: the span is 12-22 s
        check_ranges([(2, 3)], 12.0, 10.0)
    fs = HOP / 44100  # 11.6 ms
    assert range_frames([(0.1, 0.2)], 0.0, fs, 35) == [(8, 18)]  # every frame the range touches
    assert range_frames([(12.1, 12.2)], 12.0, fs, 35) == [(8, 18)]  # relative to start
    assert range_frames([(0.1, 0.2)], 0.0, fs, 35, widen=4) == [(4, 22)]
    assert range_frames([(0.0, 0.05), (0.3, 0.4)], 0.0, fs, 35, widen=4) == [(0, 9), (21, 35)]  # clipped
    assert range_frames([(0.1, 0.15), (0.16, 0.2)], 0.0, fs, 35, widen=4) == [(4, 22)]  # merged
    assert range_frames([(5 * fs, 6 * fs)], 0.0, fs, 35) == [(5, 6)]  # on frame edges: exactly that frame


def test_tokens_outside_the_ranges_are_the_kept_ones_and_the_sound_their_round_trip(pipe, clip, take):
    """Keep the take's sound (a waveform): every token outside the widened range is its codegram's,
    and every sample outside ``changed`` is its codec round trip, exactly; the range is sampled anew."""
    kept = pipe.codec.encode(torch.from_numpy(take.wav)[None])[0]
    out = pipe.generate(clip, settings=STEPS, seed=1, keep=take.wav, regenerate=RANGE)
    total, n = kept.shape[-1], len(take.wav)
    widen, reach = pipe.edge_frames, pipe.decoder_reach
    assert (total, widen, reach) == (L, W, 9)  # the debug (tiny) codec's edge and decoder reach
    assert out.regenerated == [(F0 - widen, F1 + widen)]
    assert out.changed == [(F0 - widen - reach, F1 + widen + reach)]
    inside = frames_in(out.regenerated, total)
    assert torch.equal(out.codes[:, ~inside], kept[:, ~inside])
    assert (out.codes[:, inside] < 1024).all()  # no [MASK] left
    assert out.wav.shape == (n,)
    outside = ~samples_in(out.changed, n)
    assert outside.sum() == (L - (F1 - F0) - 2 * (widen + reach)) * HOP - (L * HOP - n)
    assert np.array_equal(out.wav[outside], round_trip(pipe, kept, n)[outside])
    # the reach is the decoder's whole receptive field: changing one frame changes no sample further away
    assert codec_decoder_reach(pipe.codec) == reach


def test_the_range_is_sampled_anew(pipe, clip, take):
    inside = frames_in([(F0 - W, F1 + W)], L)
    differs = [(pipe.generate(clip, settings=STEPS, seed=s, keep=take, regenerate=RANGE).codes[:, inside]
                != take.codes[:, inside]).float().mean().item() for s in (1, 2)]
    assert max(differs) > 0.5  # a random model's draws: most tokens of the range differ from the take's


def test_kept_codes_are_taken_as_they_are(pipe, clip, take, tmp_path):
    """A Generation, a codes tensor and a codes file keep the take's own tokens (not those of its
    sound encoded again), and the same seed gives the same edit whichever form the keep takes."""
    outside = ~frames_in([(F0 - W, F1 + W)], L)
    save_codes(tmp_path / "take.safetensors", take.codes, codec_name="tiny", sample_rate=44100, hop_length=HOP,
               num_samples=len(take.wav))
    outs = [pipe.generate(clip, settings=STEPS, seed=3, keep=k, regenerate=RANGE)
            for k in (take, take.codes, take.codes[None], tmp_path / "take.safetensors")]
    for out in outs:
        assert torch.equal(out.codes[:, outside], take.codes[:, outside])
        assert torch.equal(out.codes, outs[0].codes) and np.array_equal(out.wav, outs[0].wav)
    keep_out = ~samples_in(outs[0].changed, len(take.wav))
    assert np.array_equal(outs[0].wav[keep_out], take.wav[keep_out])  # the take was its codes decoded


def test_a_sound_file_at_any_rate_is_resampled_and_encoded_once(pipe, clip, take, tmp_path):
    wav48 = resample(take.wav, 44100, 48000)
    write_audio(tmp_path / "take48.wav", wav48, 48000, subtype="FLOAT")
    from_file = pipe.generate(clip, settings=STEPS, seed=4, keep=tmp_path / "take48.wav", regenerate=RANGE)
    from_array = pipe.generate(clip, settings=STEPS, seed=4, keep=wav48, keep_rate=48000, regenerate=RANGE)
    assert torch.equal(from_file.codes, from_array.codes)
    encoded = []
    encode = pipe.codec.encode
    pipe.codec.encode = lambda wav: encoded.append(wav.shape) or encode(wav)
    try:
        pipe.generate(clip, settings=STEPS, seed=4, keep=wav48, keep_rate=48000, regenerate=RANGE)
    finally:
        pipe.codec.encode = encode
    assert len(encoded) == 1  # the kept sound, whole, once


def test_a_keep_of_the_wrong_length_is_refused(pipe, clip, take):
    with pytest.raises(MaskvatError, match=r"0\.600 s long but the span generated is 0\.800 s"):
        pipe.generate(clip, settings=STEPS, keep=take.wav[:int(0.6 * 44100)], regenerate=RANGE)
    with pytest.raises(MaskvatError, match=r"0\.778 s long .* 0\.800 s"):  # codes: two frames short
        pipe.generate(clip, settings=STEPS, keep=take.codes[:, :L - 2], regenerate=RANGE)
    with pytest.raises(MaskvatError, match=r"1\.200 s long but the span generated is 0\.800 s"):
        pipe.generate(clip, settings=STEPS, keep=take.wav[:int(0.6 * 44100)], keep_rate=22050, regenerate=RANGE)
    # up to one codegram frame short is fine: the frame the keep lacks is sampled with the range
    out = pipe.generate(clip, settings=STEPS, seed=1, keep=take.codes[:, :L - 1], regenerate=RANGE)
    assert out.regenerated == [(F0 - W, F1 + W), (L - 1, L)]
    assert torch.equal(out.codes[:, :F0 - W], take.codes[:, :F0 - W])
    short = pipe.generate(clip, settings=STEPS, seed=1, keep=take.wav[:-400], regenerate=RANGE)
    assert short.wav.shape == take.wav.shape


def test_bad_keeps_and_ranges_are_refused_before_sampling(pipe, clip, take, tmp_path):
    sampled = []
    real = pipe._sample
    pipe._sample = lambda *a, **k: sampled.append(1) or real(*a, **k)
    (tmp_path / "notes.wav").write_text("not a sound")
    try:
        for kwargs, match in [
            (dict(keep=tmp_path / "missing.wav", regenerate=RANGE), "missing.wav: no such file"),
            (dict(keep=tmp_path / "notes.wav", regenerate=RANGE), "notes.wav"),
            (dict(keep=take, regenerate=[(0.1, 0.9)]), "outside the span generated"),
            (dict(keep=take, regenerate=[(0.1, 0.2), (0.15, 0.3)]), "overlap"),
            (dict(keep=take), "both keep= .* and regenerate="),
            (dict(regenerate=RANGE), "both keep="),
            (dict(keep=take.codes[:5], regenerate=RANGE), "do not fit the codec"),
            (dict(keep=np.zeros((2, 35280), np.float32), regenerate=RANGE), "mono"),
            (dict(keep=take, regenerate=RANGE, variations=0), "variations"),
        ]:
            with pytest.raises(MaskvatError, match=match):
                pipe.generate(clip, settings=STEPS, **kwargs)
    finally:
        pipe._sample = real
    assert not sampled


def test_variations_are_distinct_candidates_of_the_same_range(pipe, clip, take):
    outs = pipe.generate(clip, settings=STEPS, seed=5, keep=take, regenerate=RANGE, variations=3)
    assert isinstance(outs, list) and len(outs) == 3
    outside = ~frames_in([(F0 - W, F1 + W)], L)
    for out in outs:
        assert torch.equal(out.codes[:, outside], take.codes[:, outside])
        assert out.regenerated == [(F0 - W, F1 + W)] and not out.chosen  # none selected
    assert all(not torch.equal(a.codes, b.codes) for i, a in enumerate(outs) for b in outs[i + 1:])
    keep_out = ~samples_in(outs[0].changed, len(take.wav))
    for out in outs:  # decoded together, in one batch: the kept sound's samples are still the take's
        np.testing.assert_allclose(out.wav[keep_out], take.wav[keep_out], atol=1e-6)
    again = pipe.generate(clip, settings=STEPS, seed=5, keep=take, regenerate=RANGE, variations=3)
    assert all(torch.equal(a.codes, b.codes) for a, b in zip(outs, again))
    one = pipe.generate(clip, settings=STEPS, seed=5, keep=take, regenerate=RANGE, variations=1)
    assert isinstance(one, list) and len(one) == 1


def test_a_long_video_samples_only_the_windows_around_the_range(make_video):
    """Windows of 40 frames over 131 (1.52 s): only the windows holding the range are sampled, and
    the kept tokens elsewhere stay, windows joined or not."""
    pipe = Pipeline.debug()
    video = make_video("long.mp4", 38, 25.0)
    take = pipe.generate(video, settings=STEPS, seed=0, overlap=0.2)
    assert len(take.windows) >= 3
    out = pipe.generate(video, settings=STEPS, seed=1, overlap=0.2, keep=take, regenerate=[(0.7, 0.8)])
    assert out.regenerated == [(60 - 4, 69 + 4)]
    assert 1 <= len(out.windows) < len(take.windows)
    assert all(s < 73 and s + n > 56 for s, n in out.windows)  # each one holds part of the range
    outside = ~frames_in(out.regenerated, 131)
    assert torch.equal(out.codes[:, outside], take.codes[:, outside]) and (out.codes < 1024).all()
    keep_out = ~samples_in(out.changed, len(take.wav))
    assert np.array_equal(out.wav[keep_out], take.wav[keep_out])
    # start/duration: the keep is the span's sound, the ranges are on the video's timeline
    part = pipe.generate(video, settings=STEPS, seed=0, start=0.5, duration=0.6)
    edit = pipe.generate(video, settings=STEPS, seed=2, start=0.5, duration=0.6, keep=part, regenerate=[(0.7, 0.8)])
    f0, f1 = int(0.2 * 44100 / HOP), int(np.ceil(0.3 * 44100 / HOP))
    assert edit.regenerated == [(f0 - 4, f1 + 4)]
    with pytest.raises(MaskvatError, match="outside the span generated, 0.50-1.10 s"):
        pipe.generate(video, settings=STEPS, start=0.5, duration=0.6, keep=part, regenerate=[(0.2, 0.3)])


def test_read_keep_forms(tmp_path):
    keep = read_keep(np.zeros(22050, np.float32), 44100, 512, keep_rate=22050)
    assert keep.wav.shape == (44100,) and keep.seconds == pytest.approx(1.0)
    keep = read_keep(torch.zeros(1, 9, 86, dtype=torch.long), 44100, 512)
    assert keep.codes.shape == (9, 86) and keep.seconds == pytest.approx(86 * 512 / 44100)
    assert read_keep(keep, 44100) is keep


def test_beams_choose_within_each_variation(pipe, clip, take, tmp_path):
    """With beams, SCAV picks one of each variation's own beams; the variations stay all returned."""
    from maskvat.pipeline.features import FeaturePipeline
    from maskvat.scav.model import SCAV, SCAVConfig

    torch.manual_seed(0)
    scav = SCAV(SCAVConfig(hidden=8, dim=4, length=10))
    scored = Pipeline(pipe.model, pipe.codec, FeaturePipeline.for_model(pipe.model.config, audio=True), scav=scav)
    outs = scored.generate(clip, settings=STEPS, seed=6, keep=take, regenerate=RANGE, variations=2, beams=3)
    outside = ~frames_in([(F0 - W, F1 + W)], L)
    for out in outs:
        assert len(out.beam_distances) == 1 and len(out.beam_distances[0]) == 3
        assert out.chosen == [int(np.argmin(out.beam_distances[0]))]
        assert torch.equal(out.codes[:, outside], take.codes[:, outside])
    assert not torch.equal(outs[0].codes, outs[1].codes)


# ---- the command line ------------------------------------------------------------------------------


@pytest.fixture
def cli_clip(make_video, tmp_path):
    """(0.8 s video, its take as the CLI writes it: OUT/clip.wav)."""
    from maskvat.cli.main import main

    video = make_video("clip.mp4", 20, 25.0)
    assert main(["generate", str(video), "-o", str(tmp_path / "take"), "--model", "debug", "--steps", "2",
                 "--no-video"]) == 0
    return video, tmp_path / "take" / "clip.wav"


def test_cli_redoes_a_range_in_variations(cli_clip, tmp_path, capsys):
    from maskvat.cli.main import main
    from maskvat.media import read_audio

    video, take = cli_clip
    out = tmp_path / "out"
    assert main(["generate", str(video), "-o", str(out), "--model", "debug", "--steps", "2", "--keep", str(take),
                 "--regenerate", "0.3-0.4", "--regenerate", "0.6-0.7", "--variations", "3", "--seed", "1"]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == [f"clip_var{i}{s}" for i in (1, 2, 3) for s in (".wav", "_maskvat.mp4")]
    wavs = [read_audio(out / f"clip_var{i}.wav") for i in (1, 2, 3)]
    kept = read_audio(take)
    assert all(w.shape == kept.shape for w in wavs)
    assert not np.array_equal(wavs[0], wavs[1]) and not np.array_equal(wavs[1], wavs[2])
    head = slice(0, (F0 - W - 9) * HOP)  # before the first range's changed frames: the take's round trip
    assert np.array_equal(wavs[0][head], wavs[1][head])
    assert "generated anew: 0.3-0.4 s, 0.6-0.7 s" in capsys.readouterr().out


@pytest.mark.parametrize("extra, message", [
    (["--keep", "{missing}", "--regenerate", "0.3-0.4"], "missing.wav: no such file"),
    (["--keep", "{text}", "--regenerate", "0.3-0.4"], "notes.wav"),
    (["--keep", "{take}", "--regenerate", "0.4-0.3"], "empty or reversed"),
    (["--keep", "{take}", "--regenerate", "0.3_0.4"], "expected START-END"),
    (["--keep", "{take}", "--regenerate", "0.3-0.5", "--regenerate", "0.4-0.6"], "overlap"),
    (["--keep", "{take}", "--regenerate", "0.5-0.9"], "outside the span generated, 0.00-0.80 s"),
    (["--keep", "{take}", "--regenerate", "0.5-0.6", "--start", "0.55"], "outside the span generated, 0.55-0.80 s"),
    (["--keep", "{take}", "--regenerate", "0.3-0.4", "--duration", "0.5"],
     "the kept sound is 0.800 s long but the span generated is 0.500 s"),
    (["--keep", "{take}"], "go together"),
    (["--regenerate", "0.3-0.4"], "go together"),
    (["--keep", "{take}", "--regenerate", "0.3-0.4", "--variations", "0"], "--variations must be"),
    (["--keep", "{take}", "--regenerate", "0.3-0.4", "{video}"], "one video at a time; 2 were given"),
])
def test_cli_edit_errors_are_one_line_before_the_model_loads(cli_clip, tmp_path, capsys, monkeypatch, extra,
                                                             message):
    from maskvat.cli.main import main

    video, take = cli_clip
    (tmp_path / "notes.wav").write_text("not a sound")
    names = {"missing": tmp_path / "missing.wav", "text": tmp_path / "notes.wav", "take": take, "video": video}
    loads = []
    monkeypatch.setattr(Pipeline, "load", classmethod(lambda cls, *a, **k: loads.append(a)))
    capsys.readouterr()
    more = [str(video) for e in extra if e == "{video}"]  # a second video: positional, so up front
    argv = ["generate", str(video), *more, "-o", str(tmp_path / "out"), "--model", "debug"]
    assert main(argv + [e.format(**names) for e in extra if e != "{video}"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("maskvat: error: ") and message in err, err
    assert not loads and not (tmp_path / "out").exists()


def test_cli_keep_one_frame_short_is_accepted(cli_clip, tmp_path):
    from maskvat.cli.main import main
    from maskvat.media import read_audio

    video, take = cli_clip
    short = tmp_path / "short.wav"
    write_audio(short, read_audio(take)[:-500], 44100)  # 11.3 ms short: under one codegram frame
    assert main(["generate", str(video), "-o", str(tmp_path / "out"), "--model", "debug", "--steps", "2",
                 "--keep", str(short), "--regenerate", "0.3-0.4", "--no-video"]) == 0
    assert read_audio(tmp_path / "out" / "clip.wav").shape == read_audio(take).shape
