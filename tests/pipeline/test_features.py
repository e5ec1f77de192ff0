"""Lab encoders, and the cache of a lab split: shapes, rates, and the features generation computes."""

import numpy as np
import pytest
import torch

from maskvat.codec.tokenizer import AudioTokenizer
from maskvat.data.dataset import StepBatches
from maskvat.data.extract import ExtractConfig, extract
from maskvat.encoders.lab import LogMelAudioEncoder, ThumbnailEncoder
from maskvat.encoders.registry import load_encoder
from maskvat.errors import MaskvatError
from maskvat.lab.build import build_split
from maskvat.model.config import model_config
from maskvat.pipeline.features import FeaturePipeline


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


def test_cache_of_a_lab_split_holds_what_generation_computes(lab_split, tmp_path, one_torch_thread):
    codec_dir = tmp_path / "codec"
    AudioTokenizer.from_preset("tiny").save_pretrained(codec_dir)
    cfg = model_config("lab-hybrid")
    extract([lab_split], tmp_path / "cache", ExtractConfig(clip_seconds=1.0, codec=str(codec_dir), silence_dbfs=None,
            semantic=cfg.semantic_encoder, sync=cfg.sync_encoder, audio=cfg.audio_encoder), progress=False)
    data = StepBatches(tmp_path / "cache", batch_size=3, window_seconds=None)
    keys = [data.ds.meta(i)["key"] for i in range(len(data))]
    assert len(data) == 3 and [k.split("@")[0] for k in keys] == ["val/val_000000.mp4", "val/val_000001.mp4", "val/val_000002.mp4"]
    b = data.fixed(3)[0]
    assert b["codes"].shape == (3, 9, 87)  # ceil(44100 / 512)
    assert b["semantic"].shape == (3, 8, 128) and b["sync"].shape == (3, 25, 64) and b["audio"].shape == (3, 25, 64)
    # the cached features are the ones generation computes for the same video
    one = FeaturePipeline.for_model(cfg).visual(lab_split / "val_000001.mp4", 0.0, 1.0)
    assert torch.allclose(b["semantic"][1], one.semantic, atol=1e-2)
    assert torch.allclose(b["sync"][1], one.sync, atol=2e-2)
