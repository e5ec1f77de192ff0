"""SCAV: distances between raw sequences, the contrastive loss, training on a cache, beams."""

import json

import pytest
import torch
from safetensors.torch import save_file

from maskvat.errors import MaskvatError
from maskvat.scav.model import SCAV, SCAVConfig
from maskvat.train.scav import SCAVTrainConfig, evaluate, shifted_copies, train_scav

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
    good = model.contrastive_loss(v, v.clone(), shifted_copies(v))
    bad = model.contrastive_loss(v, v.roll(1, dims=0), shifted_copies(v))
    assert good < bad


def make_cache(folder, n, seed, encoders=None):
    """Clips whose audio is a noisy, known function of the sync stream (so alignment is learnable)."""
    g = torch.Generator().manual_seed(seed)
    sync = torch.randn(n, 20, 5, generator=g)
    audio = sync[..., :4] * 2 + 0.1 * torch.randn(n, 20, 4, generator=g)
    feats = {"semantic": torch.randn(n, 5, 6, generator=g).half(), "sync": sync.half(), "audio": audio.half()}
    folder.mkdir()
    info = {"clips": [str(i) for i in range(n)], **({"encoders": encoders} if encoders else {})}
    save_file(feats, str(folder / "features.safetensors"), metadata={"info": json.dumps(info)})
    return folder


def test_scav_reads_the_streams_widths_and_encoders_of_its_cache(tmp_path):
    from maskvat.pipeline.features import load_training_set
    from maskvat.train.scav import scav_config_for

    names = {"semantic": "sem-x", "sync": "sync-y", "audio": "aud-z"}
    cfg = scav_config_for(load_training_set(make_cache(tmp_path / "c", 4, 0, names), codes=False))
    assert (cfg.semantic_dim, cfg.sync_dim, cfg.audio_dim) == (6, 5, 4)
    assert (cfg.semantic_encoder, cfg.sync_encoder, cfg.audio_encoder) == ("sem-x", "sync-y", "aud-z")


def test_scav_on_features_of_other_encoders_is_a_clear_error(tmp_path):
    train = make_cache(tmp_path / "train", 16, 0, {"semantic": "lab-thumbs", "sync": "lab-sync", "audio": "lab-logmel"})
    wrong = SCAVConfig(**{**SMALL.__dict__, "semantic_encoder": "lab-semantic"})
    with pytest.raises(MaskvatError, match=r"semantic: lab-thumbs \(expects lab-semantic\)"):
        train_scav(train, tmp_path / "run", SCAVTrainConfig(steps=2, batch_size=4), wrong, progress=False)


def test_training_learns_retrieval_and_alignment(tmp_path, one_torch_thread):
    train = make_cache(tmp_path / "train", 64, 0)
    val = make_cache(tmp_path / "val", 32, 1)
    result = train_scav(train, tmp_path / "run", SCAVTrainConfig(steps=150, batch_size=16, lr=3e-3, eval_every=150),
                        SMALL, val_cache=val, progress=False)
    assert result["r1"] > 0.8 and result["aligned"] > 0.8, result
    back = SCAV.from_pretrained(tmp_path / "run" / "scav")
    from maskvat.pipeline.features import load_training_set

    assert evaluate(back, load_training_set(val, codes=False))["r1"] > 0.8  # fp16 weights keep it
    with pytest.raises(MaskvatError, match="not a SCAV folder"):
        SCAV.from_pretrained(tmp_path)
