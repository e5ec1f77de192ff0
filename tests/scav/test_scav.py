"""SCAV: distances between raw sequences, the contrastive loss, training on a cache, beams."""

import pytest
import torch

from maskvat.data.dataset import StepBatches
from maskvat.data.extract import write_cache
from maskvat.errors import MaskvatError
from maskvat.scav.model import SCAV, SCAVConfig
from maskvat.train.scav import SCAVTrainConfig, evaluate, scav_config_for, shifted_copies, train_scav

SMALL = SCAVConfig(semantic_dim=6, sync_dim=5, audio_dim=4, length=20, hidden=16, dim=8)


def test_distance_is_mean_squared_difference_of_sequences():
    v = torch.zeros(2, 3, 4)
    a = torch.ones(3, 3, 4)
    a[1] = 0
    d = SCAV.distance(v, a)
    assert d.shape == (2, 3)
    assert d[0].tolist() == [1.0, 0.0, 1.0]
    # a sequence reversed in time is far from the original, although its mean is the same
    x = torch.arange(6.0).view(1, 6, 1)
    assert SCAV.distance(x, x.flip(1)).item() > 5 and x.mean() == x.flip(1).mean()


def test_loss_prefers_matching_pairs_over_shifted_ones():
    torch.manual_seed(0)
    model = SCAV(SMALL)
    v = torch.randn(4, 20, 8)
    shifts = (-3, -2, -1, 1, 2, 3)
    good = model.contrastive_loss(v, v.clone(), shifted_copies(v, shifts))
    bad = model.contrastive_loss(v, v.roll(1, dims=0), shifted_copies(v, shifts))
    assert good < bad


def make_cache(folder, n, seed, encoders=None):
    """A shard cache of n clips of 0.8 s whose audio (25/s) is a noisy, known function of the sync
    stream (25/s), so that alignment is learnable; semantic at 6.25/s."""
    g = torch.Generator().manual_seed(seed)
    sync = torch.randn(n, 20, 5, generator=g)
    audio = sync[..., :4] * 2 + 0.1 * torch.randn(n, 20, 4, generator=g)
    sem = torch.randn(n, 5, 6, generator=g)
    names = encoders or {"semantic": "lab-semantic", "sync": "lab-sync", "audio": "lab-logmel"}
    info = {"semantic": {"name": names["semantic"], "dim": 6, "rate": 6.25},
            "sync": {"name": names["sync"], "dim": 5, "rate": 25.0},
            "audio": {"name": names["audio"], "dim": 4, "rate": 25.0}}
    clips = [{"key": str(i), "semantic": sem[i], "sync": sync[i], "audio": audio[i], "duration": 0.8} for i in range(n)]
    return write_cache(folder, clips, encoders=info)


def test_scav_reads_the_streams_widths_and_encoders_of_its_cache(tmp_path):
    names = {"semantic": "sem-x", "sync": "sync-y", "audio": "aud-z"}
    data = StepBatches(make_cache(tmp_path / "c", 4, 0, names), batch_size=2, window_seconds=0.8)
    cfg = scav_config_for(data, SCAVTrainConfig(window_seconds=0.8))
    assert (cfg.semantic_dim, cfg.sync_dim, cfg.audio_dim) == (6, 5, 4)
    assert (cfg.semantic_encoder, cfg.sync_encoder, cfg.audio_encoder) == ("sem-x", "sync-y", "aud-z")
    assert cfg.length == 20 and cfg.use_sync
    assert not scav_config_for(data, SCAVTrainConfig(window_seconds=0.8, use_sync=False)).use_sync


def test_scav_on_features_of_other_encoders_is_a_clear_error(tmp_path):
    train = make_cache(tmp_path / "train", 16, 0, {"semantic": "lab-thumbs", "sync": "lab-sync", "audio": "lab-logmel"})
    wrong = SCAVConfig(**{**SMALL.__dict__, "semantic_encoder": "lab-semantic"})
    with pytest.raises(MaskvatError, match=r"semantic: lab-thumbs \(expects lab-semantic\)"):
        train_scav(train, tmp_path / "run", SCAVTrainConfig(steps=2, batch_size=4, window_seconds=0.8), wrong,
                   progress=False)


def test_a_batch_larger_than_the_cache_and_a_one_clip_cache(tmp_path, one_torch_thread):
    train = make_cache(tmp_path / "train", 3, 0)
    train_scav(train, tmp_path / "run", SCAVTrainConfig(steps=2, batch_size=32, window_seconds=0.8), SMALL,
               progress=False)
    assert (tmp_path / "run" / "scav" / "model.safetensors").is_file()
    one = make_cache(tmp_path / "one", 1, 0)
    with pytest.raises(MaskvatError, match="at least 2 clips"):
        train_scav(one, tmp_path / "run1", SCAVTrainConfig(steps=2, window_seconds=0.8), SMALL, progress=False)


def test_training_learns_retrieval_and_alignment(tmp_path, one_torch_thread):
    train = make_cache(tmp_path / "train", 64, 0)
    val = make_cache(tmp_path / "val", 32, 1)
    cfg = SCAVTrainConfig(steps=150, batch_size=16, lr=3e-3, eval_every=150, window_seconds=0.8,
                          shifts_s=(0.04, 0.08, 0.12))
    result = train_scav(train, tmp_path / "run", cfg, SMALL, val_cache=val, progress=False)
    assert result["r1"] > 0.8 and result["aligned"] > 0.8, result
    back = SCAV.from_pretrained(tmp_path / "run" / "scav")
    batches = StepBatches(val, batch_size=64, window_seconds=0.8).fixed(32)
    assert evaluate(back, batches, (-3, -2, -1, 1, 2, 3))["r1"] > 0.8  # fp16 weights keep it
    with pytest.raises(MaskvatError, match="not a SCAV folder"):
        SCAV.from_pretrained(tmp_path)
