"""The semantic encoder pair: shapes, pooling, the contrastive loss, sampling, retrieval, the
linear probe, training that learns and resumes exactly, and loading through the registry."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from resume_helpers import interrupt_then_resume

from maskvat.data.lab_clips import LabClips
from maskvat.encoders.semantic import (
    SemanticAudioEncoder,
    SemanticConfig,
    SemanticFrameEncoder,
    SemanticPair,
    contrastive_loss,
    load_semantic,
)
from maskvat.train import semantic as tsem

TINY = SemanticConfig(size=16, dim=16, width=8, audio_hidden=16)


def _clips(n=12, frames=50, size=16, seed=0):
    """Clips whose colour says which mel band sounds: class c lights band 4c and red = 20 c."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 4
    video = rng.integers(0, 40, (n, frames, size, size, 3), dtype=np.uint8)
    mels = rng.standard_normal((n, 64, frames * 4)).astype(np.float32) - 8.0
    for i, c in enumerate(labels):
        video[i, ..., c % 3] += np.uint8(200)
        mels[i, 4 * c * 4 : 4 * c * 4 + 8] += 6.0
    return LabClips(frames=video, mels=mels, labels=labels, clip_ids=[str(i) for i in range(n)])


def test_tower_shapes_and_rates():
    pair = SemanticPair(TINY)
    frames = torch.zeros(2, 3, 40, 40, 3, dtype=torch.uint8)  # any size; resized to cfg.size
    assert pair.frames(frames).shape == (2, 3, 16)
    seq, pooled = pair.audio(torch.randn(2, 64, 400))  # 4 s at 100 Hz
    assert seq.shape == (2, 100, 16) and pooled.shape == (2, 16)  # 25 frames/s


def test_pooling_ignores_padding():
    pair = SemanticPair(TINY).eval()
    torch.manual_seed(0)
    base = torch.randn(1, 64, 200)
    other = base.clone()
    other[..., 120:] = torch.randn(1, 64, 80) * 50  # differs from frame 30 on, out of reach of frames < 20
    lengths = torch.tensor([20])
    torch.testing.assert_close(pair.audio(base, lengths)[1], pair.audio(other, lengths)[1])
    assert not torch.allclose(pair.audio(base)[1], pair.audio(other)[1], atol=1e-3)


def test_contrastive_loss_rewards_matched_pairs():
    torch.manual_seed(0)
    x = torch.randn(8, 16)
    scale = torch.tensor(np.log(100.0), dtype=torch.float32)
    matched = contrastive_loss(x, x, scale)
    shuffled = contrastive_loss(x, x[torch.randperm(8)], scale)
    assert matched.item() < 0.05 and shuffled.item() > 1.0


def test_batches_come_from_inside_the_window():
    clips = _clips()
    clips.mels[:] = np.arange(clips.mels.shape[-1])[None, None, :]  # mel frame index as its value
    for i in range(len(clips.frames)):
        clips.frames[i, :, 0, 0, 0] = np.arange(50)  # frame index in the top-left pixel
    frames, mel = tsem.sample_semantic_batch(clips, 10, 20, 3, np.random.default_rng(0))
    assert frames.shape == (10, 3, 16, 16, 3) and mel.shape == (10, 64, 80)
    start = mel[:, 0, 0].numpy() / 4  # window start frame
    picked = frames[:, :, 0, 0, 0].numpy()
    assert ((picked >= start[:, None]) & (picked < start[:, None] + 20)).all()
    assert (np.diff(mel[:, 0].numpy(), axis=1) == 1).all()


def test_codec_share_picks_the_round_trip_sound():
    clips = _clips()
    clips.codec_mels = clips.mels + 1000.0  # marks the round-trip sound
    args = (clips, 400, 20, 2)
    _, none = tsem.sample_semantic_batch(*args, np.random.default_rng(0), codec_share=0.0)
    _, every = tsem.sample_semantic_batch(*args, np.random.default_rng(0), codec_share=1.0)
    _, half = tsem.sample_semantic_batch(*args, np.random.default_rng(0), codec_share=0.5)
    assert (none < 500).all() and (every > 500).all()
    from_codec = (half[:, 0, 0] > 500).float().mean().item()
    assert 0.4 < from_codec < 0.6
    torch.testing.assert_close(every - 1000.0, none, atol=1e-4, rtol=0)  # same windows; only the sound differs


def test_frame_indices_follow_the_encoder_rate():
    idx = tsem.frame_indices(100, 8.0)  # 4 s of 25 fps frames read at 8 fps
    assert len(idx) == 32 and idx[0] == 0 and idx[1] == 3 and idx[-1] <= 99


def test_retrieval_recall():
    v = torch.eye(5)
    assert tsem.retrieval(v, v, np.arange(5))["r1"] == 1.0
    r = tsem.retrieval(v, v[[1, 2, 3, 4, 0]], np.array([0, 0, 0, 0, 0]))
    assert r["r1"] == 0.0 and r["class_match_at_1"] == 1.0 and r["chance_r1"] == 0.2


def test_linear_probe_separates_separable_classes_only():
    rng = np.random.default_rng(0)
    y = np.arange(200) % 4
    centres = rng.standard_normal((4, 8)) * 4
    x = torch.from_numpy(centres[y] + rng.standard_normal((200, 8))).float()
    assert tsem.linear_probe(x[:100], y[:100], x[100:], y[100:], 4) > 0.95
    noise = torch.from_numpy(rng.standard_normal((200, 8))).float()
    assert tsem.linear_probe(noise[:100], y[:100], noise[100:], y[100:], 4) < 0.5


def test_training_learns_the_pairing_and_resumes_exactly(tmp_path, monkeypatch):
    clips = (_clips(seed=1), _clips(seed=2))
    cfg = tsem.SemanticTrainConfig(steps=40, batch=8, frames_per_window=2, window_s=0.8, eval_every=20, warmup=5,
                                   lr=3e-3, codec=None)
    result = tsem.train_semantic(None, tmp_path / "a", cfg, TINY, progress=False, clips=clips)
    assert result["val_class_match_at_1"] > 0.5  # chance: 0.25 (4 classes)

    # Ctrl-C during step 25 (the checkpoint of step 20 is on disk), then the same command again
    interrupt_then_resume(monkeypatch, tsem, "sample_semantic_batch", 25,
                          lambda: tsem.train_semantic(None, tmp_path / "b", cfg, TINY, progress=False, clips=clips))
    a = torch.load(tmp_path / "a" / "checkpoint.pt", weights_only=False)
    b = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=False)
    assert a["step"] == b["step"] == 40
    assert [r["loss"] for r in a["log"]] == pytest.approx([r["loss"] for r in b["log"]], rel=1e-4)
    assert (tmp_path / "b" / "curves.png").is_file()


def test_saved_pair_loads_through_the_registry(tmp_path):
    from maskvat.encoders.registry import load_encoder

    torch.manual_seed(0)
    pair = SemanticPair(TINY).eval()
    pair.save_pretrained(tmp_path / "sem")
    frames = np.random.default_rng(0).integers(0, 255, (1, 4, 16, 16, 3), dtype=np.uint8)
    enc = load_encoder("lab-semantic", str(tmp_path / "sem"))
    assert isinstance(enc, SemanticFrameEncoder) and enc.config.dim == 16 and enc.config.fps == 8.0
    torch.testing.assert_close(enc.encode_frames(frames), pair.frames(torch.from_numpy(frames)).detach(),
                               atol=2e-2, rtol=1e-2)  # fp16 weights on disk
    audio = load_encoder("lab-audio", str(tmp_path / "sem"))
    assert isinstance(audio, SemanticAudioEncoder)
    wav = np.random.default_rng(1).standard_normal((1, 44100)).astype(np.float32) * 0.1
    assert audio.encode_audio(wav).shape == (1, 25, 16) and audio.embed_audio(wav).shape == (1, 16)
    assert audio.embed_windows(np.zeros(3 * 44100, np.float32)).shape == (3, 16)
    assert load_semantic(tmp_path / "sem").cfg == TINY


def test_shipped_pair_matches_lab_sounds_to_their_videos(tmp_path, one_torch_thread):
    """The shipped pair, offline, on clips it never saw (the procedural bank, not the Debian
    sounds it was trained on): each clip's audio finds its own video among 12 far above chance."""
    from maskvat.data.lab_clips import load_lab_split
    from maskvat.encoders.registry import load_encoder
    from maskvat.lab.build import build_split

    frames_enc, audio_enc = load_encoder("lab-semantic"), load_encoder("lab-audio")
    assert frames_enc.config.dim == audio_enc.config.dim == 128 and frames_enc.config.fps == 8.0
    split = build_split(tmp_path, "test", 12, seed=5, duration=2.0, bank="procedural", workers=1, progress=False)
    clips = load_lab_split(split, size=64, workers=1, progress=False)
    r = tsem.retrieval(*tsem.clip_embeddings(frames_enc.pair, clips), clips.labels)
    assert r["r1"] >= 0.5 and r["chance_r1"] == pytest.approx(1 / 12)  # measured: 0.83
