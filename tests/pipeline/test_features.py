"""Lab encoders and the training cache: shapes, rates, and a cache that loads back."""

import numpy as np
import pytest
import torch

from maskvat.codec.tokenizer import AudioTokenizer
from maskvat.encoders.lab import LogMelAudioEncoder, ThumbnailEncoder
from maskvat.encoders.registry import load_encoder
from maskvat.errors import MaskvatError
from maskvat.pipeline.features import (
    FeaturePipeline,
    build_codes_cache,
    build_feature_cache,
    load_training_set,
)
from maskvat.lab.build import build_split
from maskvat.model.config import model_config


def test_thumbnails_keep_colour_and_position():
    frames = np.zeros((1, 2, 64, 64, 3), np.uint8)
    frames[0, 0, :32, :32, 0] = 255  # red top-left quarter in frame 0
    feats = ThumbnailEncoder().encode_frames(frames)
    assert feats.shape == (1, 2, 768)
    img = feats[0, 0].view(16, 16, 3)
    assert img[:8, :8, 0].min() == 1.0 and img[8:, 8:, 0].max() == -1.0
    assert torch.equal(feats[0, 1], torch.full((768,), -1.0))


def test_logmel_encoder_runs_at_25_per_second():
    wav = np.random.default_rng(0).standard_normal((1, 44100 * 2)).astype(np.float32) * 0.1
    assert LogMelAudioEncoder().encode_audio(wav).shape == (1, 50, 64)


def test_lab_sync_encoder_loads_the_shipped_judge():
    enc = load_encoder("lab-sync")
    assert enc.config.fps == 25.0 and enc.config.dim == 64
    out = enc.encode_frames(np.zeros((1, 10, 64, 64, 3), np.uint8))
    assert out.shape == (1, 10, 64)
    with pytest.raises(MaskvatError, match="unknown encoder"):
        load_encoder("nope")


@pytest.fixture(scope="module")
def lab_split(tmp_path_factory):
    root = tmp_path_factory.mktemp("labfeat")
    return build_split(root, "val", 3, seed=0, duration=1.0, bank="procedural", workers=1, progress=False)


def test_cache_builds_and_loads_aligned(lab_split, tmp_path, one_torch_thread):
    pipe = FeaturePipeline.for_model(model_config("lab-hybrid"), audio=True)
    build_feature_cache(lab_split, tmp_path / "cache", pipe, progress=False)
    codec = AudioTokenizer.from_preset("tiny")
    build_codes_cache(lab_split, tmp_path / "cache", codec, batch=2, progress=False)
    data = load_training_set(tmp_path / "cache")
    assert len(data) == 3 and data.clips == ["val_000000", "val_000001", "val_000002"]
    assert data.codes.shape == (3, 9, 87)  # ceil(44100 / 512)
    assert data.semantic.shape == (3, 8, 128) and data.sync.shape == (3, 25, 64) and data.audio.shape == (3, 25, 64)
    # the cached features are the ones generation computes for the same video
    one = pipe.visual(lab_split / "val_000001.mp4", 0.0, 1.0)
    assert torch.allclose(data.semantic[1].float(), one.semantic, atol=1e-2)
    assert torch.allclose(data.sync[1].float(), one.sync, atol=2e-2)


def test_cache_errors(tmp_path):
    with pytest.raises(MaskvatError, match="no manifest.json"):
        build_feature_cache(tmp_path, tmp_path / "c", FeaturePipeline(), progress=False)
    with pytest.raises(MaskvatError, match="no features.safetensors"):
        load_training_set(tmp_path)


def test_check_encoders_names_the_role_that_differs(tmp_path):
    from maskvat.errors import MaskvatError
    from maskvat.pipeline.features import TrainingSet

    data = TrainingSet(None, None, None, None, ["a"], {"semantic": "lab-thumbs", "sync": "lab-sync"})
    data.check_encoders({"semantic": "lab-thumbs", "sync": "lab-sync", "audio": "lab-logmel"}, tmp_path, "m")
    data.check_encoders({"semantic": None, "sync": "lab-sync"}, tmp_path, "m")  # an unused role is not checked
    with pytest.raises(MaskvatError, match=r"semantic: lab-thumbs \(expects lab-semantic\)") as err:
        data.check_encoders({"semantic": "lab-semantic", "sync": "lab-sync"}, tmp_path, "model config 'x'")
    assert str(tmp_path) in str(err.value) and "sync" not in str(err.value).split("reads:")[1].split(".")[0]
