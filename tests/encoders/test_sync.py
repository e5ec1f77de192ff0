"""The sync judge: lag arithmetic, window sampling, training that resumes exactly."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from maskvat.encoders import train_sync as ts
from maskvat.encoders.lab_data import LabClips, OffsetGrid, log_mel, sample_sync_batch
from maskvat.encoders.sync import SyncConfig, SyncJudge, lag_profile

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

    real = ts.sample_sync_batch
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5:  # Ctrl-C during step 5; the checkpoint of step 4 is on disk
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(ts, "sample_sync_batch", flaky)
    with pytest.raises(KeyboardInterrupt):
        ts.train_sync(None, tmp_path / "b", cfg, TINY, progress=False, clips=clips)
    monkeypatch.setattr(ts, "sample_sync_batch", real)
    ts.train_sync(None, tmp_path / "b", cfg, TINY, progress=False, clips=clips)

    a = torch.load(tmp_path / "a" / "checkpoint.pt", weights_only=False)
    b = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=False)
    assert a["step"] == b["step"] == 6
    for key in a["model"]:
        torch.testing.assert_close(a["model"][key], b["model"][key])
    assert [r["loss"] for r in a["log"]] == pytest.approx([r["loss"] for r in b["log"]])
    assert (tmp_path / "b" / "curves.png").is_file() and (tmp_path / "b" / "sync_judge" / "model.safetensors").is_file()
    judge = ts.load_judge(tmp_path / "b" / "sync_judge")
    frames, mel, _ = sample_sync_batch(clips[1], judge.grid, 3, np.random.default_rng(0))
    assert judge(frames, mel).shape == (3, 7)


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
