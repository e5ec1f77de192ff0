"""The sync judge: lag arithmetic, window sampling, training that resumes exactly."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from resume_helpers import interrupt_then_resume

from maskvat.data.lab_clips import LabClips, sample_sync_batch
from maskvat.dsp import log_mel
from maskvat.encoders.sync import (
    OffsetGrid,
    SyncConfig,
    SyncJudge,
    combine_judges,
    lag_map,
    lag_profile,
    load_judge,
    save_judge,
)
from maskvat.errors import MaskvatError
from maskvat.train import sync_judge as ts

TINY = SyncConfig(size=16, dim=8, width=4, half=3, step_frames=2, window_frames=12)


def _clips(n=6, frames=30, size=16, seed=0):
    rng = np.random.default_rng(seed)
    return LabClips(frames=rng.integers(0, 255, (n, frames, size, size, 3), dtype=np.uint8),
                    mels=rng.standard_normal((n, 64, frames * 4)).astype(np.float32),
                    labels=np.zeros(n, int), clip_ids=[str(i) for i in range(n)])


@pytest.mark.parametrize("true_class", [0, 3, 5])
def test_lag_profile_peaks_at_the_true_offset(true_class):
    grid = OffsetGrid(half=3, step_frames=2, window_frames=20)
    v = torch.randn(1, 20, 16)
    a = torch.roll(v, -(true_class - grid.half) * grid.step_frames, dims=1)  # audio shifted by that class
    profile = lag_profile(v, a, grid)
    assert profile.shape == (1, 7) and profile.argmax().item() == true_class
    assert profile[0, true_class].item() == pytest.approx(1.0, abs=1e-5)


def test_lag_map_entries_and_validity():
    grid = OffsetGrid(half=2, step_frames=3, window_frames=10)
    v, a = torch.randn(2, 10, 4), torch.randn(2, 10, 4)
    m, valid = lag_map(v, a, grid)
    assert m.shape == (2, 5, 10) and valid.shape == (5, 10)
    cos = torch.nn.functional.cosine_similarity
    for k in range(5):
        lag = (k - 2) * 3
        for t in range(10):
            inside = 0 <= t - lag < 10
            assert valid[k, t].item() == inside
            expect = cos(v[:, t], a[:, t - lag], dim=-1) if inside else torch.zeros(2)
            torch.testing.assert_close(m[:, k, t], expect, atol=1e-5, rtol=0)
    # the profile is the map's mean over its valid times
    torch.testing.assert_close(lag_profile(v, a, grid), (m * valid).sum(-1) / valid.sum(-1))


def test_map_head_reads_when_the_lags_differ():
    """A steady sound agrees with every lag except where it starts: a map-head judge can use
    that moment, and it is trained from the same config and saved/loaded like the profile judge."""
    cfg = SyncConfig(**{**TINY.__dict__, "head": "map"})
    judge = SyncJudge(cfg)
    assert judge.map_head is not None and SyncJudge(TINY).map_head is None
    frames, mel, _ = sample_sync_batch(_clips(), judge.grid, 4, np.random.default_rng(0))
    assert judge(frames, mel).shape == (4, 7)
    # per lag, the head pools its time scores with a softmax over the valid times only
    m, valid = lag_map(torch.randn(3, 12, 8), torch.randn(3, 12, 8), judge.grid)
    head = judge.map_head
    with torch.no_grad():
        h = head.net(torch.cat([m, valid.float().expand_as(m)], dim=1))
        score, attend = head.score(h), head.attend(h)
        expect = torch.stack([torch.stack([(attend[b, k, valid[k]].softmax(0) * score[b, k, valid[k]]).sum()
                                           for k in range(7)]) for b in range(3)])
        torch.testing.assert_close(head(m, valid), expect)
    with pytest.raises(MaskvatError, match="head"):
        SyncConfig(head="mean")


def test_meanmax_pool_doubles_the_pooled_channels():
    """The meanmax video tower pools space by mean and by max: its projection reads both."""
    torch.manual_seed(0)
    cfg = SyncConfig(**{**TINY.__dict__, "pool": "meanmax"})
    enc = SyncJudge(cfg).video.eval()
    assert enc.proj.in_channels == 2 * SyncJudge(TINY).video.proj.in_channels
    frames = np.random.default_rng(0).integers(0, 255, (1, 12, 16, 16, 3), dtype=np.uint8)
    assert enc(torch.from_numpy(frames)).shape == (1, 12, 8)
    with pytest.raises(MaskvatError, match="pool"):
        SyncConfig(pool="max")
    with pytest.raises(MaskvatError, match="does not overlap"):
        SyncConfig(window_frames=20)  # the +-10 x 2-frame shifts leave nothing to compare


def test_windows_are_shifted_by_their_class():
    clips = _clips()
    clips.mels[:] = np.arange(clips.mels.shape[-1])[None, None, :]  # mel frame index as its value
    grid = OffsetGrid(half=3, step_frames=2, window_frames=12)
    video, mel, cls = sample_sync_batch(clips, grid, 50, np.random.default_rng(0))
    assert video.shape == (50, 12, 16, 16, 3) and mel.shape == (50, 64, 48)
    for i in range(50):  # find where the video window starts by matching frames
        clip = next(c for c in range(6) for s in range(30 - 11) if np.array_equal(clips.frames[c, s : s + 12], video[i]))
        start = next(s for s in range(30 - 11) if np.array_equal(clips.frames[clip, s : s + 12], video[i]))
        assert mel[i, 0, 0].item() == 4 * (start + (cls[i].item() - 3) * 2)


def test_log_mel_rate():
    assert log_mel(torch.zeros(44100)).shape == (64, 101)


def test_forward_shapes():
    judge = SyncJudge(TINY)
    frames, mel, _ = sample_sync_batch(_clips(), judge.grid, 4, np.random.default_rng(0))
    assert judge(frames, mel).shape == (4, 7)
    assert judge.video(frames).shape == (4, 12, 8) and judge.audio(mel).shape == (4, 12, 8)


def test_resume_after_interrupt_equals_uninterrupted(tmp_path, monkeypatch):
    clips = (_clips(seed=1), _clips(seed=2))
    cfg = ts.SyncTrainConfig(steps=6, batch=4, eval_every=2, eval_windows=14, warmup=2)
    ts.train_sync(None, tmp_path / "a", cfg, TINY, progress=False, clips=clips)

    # Ctrl-C during step 5 (the checkpoint of step 4 is on disk), then the same command again
    interrupt_then_resume(monkeypatch, ts, "sample_sync_batch", 5,
                          lambda: ts.train_sync(None, tmp_path / "b", cfg, TINY, progress=False, clips=clips))

    a = torch.load(tmp_path / "a" / "checkpoint.pt", weights_only=False)
    b = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=False)
    assert a["step"] == b["step"] == 6
    for key in a["module"]:
        torch.testing.assert_close(a["module"][key], b["module"][key])
    assert [r["loss"] for r in a["log"]] == pytest.approx([r["loss"] for r in b["log"]])
    assert (tmp_path / "b" / "curves.png").is_file() and (tmp_path / "b" / "sync_judge" / "model.safetensors").is_file()
    judge = load_judge(tmp_path / "b" / "sync_judge")
    frames, mel, _ = sample_sync_batch(clips[1], judge.grid, 3, np.random.default_rng(0))
    assert judge(frames, mel).shape == (3, 7)


def test_a_map_head_judge_saves_and_loads(tmp_path):
    torch.manual_seed(0)
    judge = SyncJudge(SyncConfig(**{**TINY.__dict__, "head": "map"})).eval()
    save_judge(judge, tmp_path / "j")
    loaded = load_judge(tmp_path / "j")
    assert loaded.cfg.head == "map"
    frames, mel, _ = sample_sync_batch(_clips(), judge.grid, 3, np.random.default_rng(1))
    with torch.no_grad():  # fp16 weights on disk: close, not equal
        torch.testing.assert_close(loaded(frames, mel), judge(frames, mel), atol=0.05, rtol=0.02)


def test_predict_offsets_windows_a_whole_clip():
    from maskvat.encoders.judge import predict_offsets
    from maskvat.errors import MaskvatError

    judge = SyncJudge(TINY)
    frames = np.random.default_rng(0).integers(0, 255, (30, 16, 16, 3), dtype=np.uint8)
    offsets = predict_offsets(judge, frames, np.zeros(int(30 / 25 * 44100), np.float32))
    assert offsets.shape == (4,)  # windows of 12 frames every 6 over 30 frames
    assert set(np.round(offsets / 0.08).astype(int)) <= set(range(-3, 4))
    with pytest.raises(MaskvatError, match="shorter than"):
        predict_offsets(judge, frames[:5], np.zeros(9000, np.float32))


def test_offset_probabilities_are_the_judges_softmax_per_window():
    from maskvat.encoders.judge import offset_probabilities, predict_offsets

    torch.manual_seed(0)
    judge = SyncJudge(TINY)
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (30, 16, 16, 3), dtype=np.uint8)
    wav = rng.standard_normal(int(30 / 25 * 44100)).astype(np.float32)
    probs = offset_probabilities(judge, frames, wav)
    assert probs.shape == (4, judge.grid.n_classes)
    torch.testing.assert_close(probs.sum(-1), torch.ones(4))
    # the offsets are the most probable class of each window, in seconds from the middle class
    expected = (probs.argmax(-1).numpy() - judge.grid.half) * judge.grid.step_s
    np.testing.assert_allclose(predict_offsets(judge, frames, wav), expected)
    # the first window's probabilities are those of the judge on that window alone
    alone = offset_probabilities(judge, frames[:12], wav[: int(12 / 25 * 44100)])
    torch.testing.assert_close(alone[0], probs[0], atol=1e-5, rtol=1e-4)


def test_continuous_levels_take_each_kinds_highest_source():
    from types import SimpleNamespace

    from maskvat.data.lab_clips import continuous_levels

    truth = SimpleNamespace(sources=[
        {"family": "continuous", "kind": "fan", "level_per_frame": [0.0, 0.5, 0.5, 0.2]},
        {"family": "impact"},
        {"family": "continuous", "kind": "fan", "level_per_frame": [0.3, 0.3, 0.0, 0.4]},
        {"family": "continuous", "kind": "tap", "level_per_frame": [0.0, 0.0, 0.9, 0.9]},
    ])
    levels = continuous_levels(truth, 3)
    np.testing.assert_allclose(levels, [[0.3, 0.5, 0.5], [0.0, 0.0, 0.9]])
    assert levels.dtype == np.float32


def test_level_targets_read_each_frame_and_its_change():
    levels = np.zeros((2, 2, 30), np.float32)
    levels[1, 0] = np.arange(30) / 100  # a fan speeding up
    levels[1, 1, 10:] = 0.5  # a tap turned on at frame 10
    t = ts.level_targets(levels, np.array([1, 1, 0]), np.array([0, 12, 3]), window=8)
    assert t.shape == (3, 8, 4)
    frames = np.arange(8)
    np.testing.assert_allclose(t[0, :, 0], frames / 100, atol=1e-6)
    np.testing.assert_allclose(t[0, :, 2], (np.minimum(frames + 5, 29) - np.maximum(frames - 5, 0)) / 100, atol=1e-6)
    np.testing.assert_allclose(t[0, :, 1], 0)
    np.testing.assert_allclose(t[0, :, 3], np.where(frames + 5 >= 10, 0.5, 0.0))  # the switch, 5 frames ahead
    np.testing.assert_allclose(t[1, :, 1], 0.5)
    np.testing.assert_allclose(t[1, :, 3], np.where(np.arange(12, 20) - 5 < 10, 0.5, 0.0))
    np.testing.assert_allclose(t[2], 0)  # a clip without fans or taps


def _clips_with_levels(seed):
    clips = _clips(seed=seed)
    clips.levels = np.random.default_rng(seed).random((6, 2, 30)).astype(np.float32)
    return clips


def test_level_loss_adds_to_the_offset_loss_and_stays_out_of_the_saved_judge(tmp_path, monkeypatch):
    clips = (_clips_with_levels(1), _clips_with_levels(2))
    plain = ts.SyncTrainConfig(steps=4, batch=4, eval_every=2, eval_windows=14, warmup=2)
    levelled = ts.SyncTrainConfig(**{**plain.__dict__, "level_loss": 2.0})
    ts.train_sync(None, tmp_path / "plain", plain, TINY, progress=False, clips=clips)
    ts.train_sync(None, tmp_path / "a", levelled, TINY, progress=False, clips=clips)
    log_plain = torch.load(tmp_path / "plain" / "checkpoint.pt", weights_only=False)["log"]
    a = torch.load(tmp_path / "a" / "checkpoint.pt", weights_only=False)
    # same initial judge, same first batch: the first loss differs by the probes' positive term
    assert a["log"][0]["loss"] > log_plain[0]["loss"] + 1e-3
    assert {k.split(".")[0] for k in a["module"]} == {"judge", "probes"}
    from safetensors.torch import load_file

    saved = load_file(tmp_path / "a" / "sync_judge" / "model.safetensors")
    assert saved.keys() == load_file(tmp_path / "plain" / "sync_judge" / "model.safetensors").keys()

    # Ctrl-C and resume: the probes resume too, so the run ends as the uninterrupted one
    interrupt_then_resume(monkeypatch, ts, "sample_sync_batch", 3,
                          lambda: ts.train_sync(None, tmp_path / "b", levelled, TINY, progress=False, clips=clips))
    b = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=False)
    for key in a["module"]:
        torch.testing.assert_close(a["module"][key], b["module"][key])

    with pytest.raises(MaskvatError, match="level"):
        ts.train_sync(None, tmp_path / "c", levelled, TINY, progress=False, clips=(_clips(), _clips()))


def test_an_ensemble_averages_its_judges_log_probabilities_and_saves_as_one_folder(tmp_path):
    from maskvat.encoders.judge import predict_offsets
    from maskvat.encoders.sync import SyncJudgeEnsemble

    judges = []
    for seed in range(3):
        torch.manual_seed(seed)
        judges.append(SyncJudge(TINY).eval())
        save_judge(judges[-1], tmp_path / f"j{seed}")
    frames, mel, _ = sample_sync_batch(_clips(), TINY.grid(), 4, np.random.default_rng(2))
    # a reference from the saved (fp16) members, one at a time
    members = [load_judge(tmp_path / f"j{s}") for s in range(3)]
    with torch.no_grad():
        expected = torch.stack([m(frames, mel).log_softmax(-1) for m in members]).mean(0)
    combine_judges([tmp_path / "j0", tmp_path / "j1"], tmp_path / "pair")
    ensemble = combine_judges([tmp_path / "pair", tmp_path / "j2"], tmp_path / "ens")  # an ensemble's members join
    loaded = load_judge(tmp_path / "ens")
    assert isinstance(loaded, SyncJudgeEnsemble) and len(loaded.members) == len(ensemble.members) == 3
    assert loaded.grid == TINY.grid() and loaded.cfg == TINY
    with torch.no_grad():
        out = loaded(frames, mel)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)
    with torch.no_grad():
        assert not torch.allclose(out, members[0](frames, mel).log_softmax(-1), atol=1e-3)  # all three vote
    # as a metric: windows of a whole clip (30 frames, 12-frame windows every 6)
    offsets = predict_offsets(loaded, _clips(n=1).frames[0], np.zeros(44100, np.float32))
    assert offsets.shape == (4,) and set(np.round(offsets / 0.08).astype(int)) <= set(range(-3, 4))


def test_an_ensemble_of_judges_with_other_configs_is_refused(tmp_path):
    from maskvat.encoders.sync import SyncJudgeEnsemble

    save_judge(SyncJudge(TINY), tmp_path / "a")
    save_judge(SyncJudge(SyncConfig(**{**TINY.__dict__, "dim": 16})), tmp_path / "b")
    with pytest.raises(MaskvatError, match="share one config"):
        combine_judges([tmp_path / "a", tmp_path / "b"], tmp_path / "ab")
    assert not (tmp_path / "ab").exists()
    with pytest.raises(MaskvatError, match="at least one"):
        SyncJudgeEnsemble([])


def test_lab_sync_features_refuse_an_ensemble(tmp_path):
    from maskvat.encoders.lab import SyncFeatureEncoder

    save_judge(SyncJudge(TINY), tmp_path / "a")
    assert SyncFeatureEncoder.from_pretrained(tmp_path / "a").config.dim == TINY.dim
    combine_judges([tmp_path / "a", tmp_path / "a"], tmp_path / "e")
    with pytest.raises(MaskvatError, match="no single video tower"):
        SyncFeatureEncoder.from_pretrained(tmp_path / "e")


def test_a_judge_folder_whose_weights_do_not_match_its_config_is_refused(tmp_path):
    import json

    save_judge(SyncJudge(TINY), tmp_path / "a")
    combine_judges([tmp_path / "a", tmp_path / "a"], tmp_path / "e")
    config = json.loads((tmp_path / "e" / "config.json").read_text())
    (tmp_path / "e" / "config.json").write_text(json.dumps({**config, "members": 3}))  # one member has no weights
    with pytest.raises(MaskvatError, match="does not match its config.json"):
        load_judge(tmp_path / "e")
    with pytest.raises(MaskvatError, match="not empty"):  # nothing is overwritten, an input least of all
        combine_judges([tmp_path / "a"], tmp_path / "a")
    assert load_judge(tmp_path / "a").config_dict() == SyncJudge(TINY).config_dict()


def test_offset_grid_shift_frames():
    grid = OffsetGrid(half=3, step_frames=2, window_frames=12)
    assert grid.shift_frames(3) == 0 and grid.shift_frames(0) == -6 and grid.shift_frames(6) == 6
    np.testing.assert_array_equal(grid.shift_frames(np.arange(7)), [-6, -4, -2, 0, 2, 4, 6])
