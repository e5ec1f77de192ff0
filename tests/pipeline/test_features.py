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
from maskvat.media import FrameArray
from maskvat.model.config import model_config
from maskvat.pipeline.features import FeaturePipeline, context_frames


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


def test_context_frames_whole_feature_steps_within_the_video():
    assert context_frames(25.0, 25.0, 0.0, 1.0, 2.0, 4.0) == (0, 0)
    assert context_frames(25.0, 25.0, 0.5, 1.2, 1.6, 4.0) == (13, 13)  # ceil(12.5) frames each side
    assert context_frames(25.0, 25.0, 0.5, 0.2, 1.0, 4.0, "none") == (5, 13)  # 5 frames exist before 0.2 s
    assert context_frames(25.0, 25.0, 0.5, 3.0, 0.88, 4.0, "none") == (13, 3)  # frames 97-99 after the span
    assert context_frames(25.0, 25.0, 0.5, 0.2, 1.0, 4.0, "repeat") == (13, 13)  # the video's ends repeated
    # an encoder with one feature per 8 frames (S3D) gets whole steps of 8 frames
    assert context_frames(25.0, 25.0 / 8, 0.5, 10.0, 4.0, 60.0) == (16, 16)
    assert context_frames(25.0, 25.0 / 8, 0.5, 0.4, 4.0, 60.0, "none") == (8, 16)


def _moving_square(n=100, side=64, seed=0):
    """[n, side, side, 3] uint8: a white square crossing a fixed noisy background, one pixel per frame."""
    rng = np.random.default_rng(seed)
    background = rng.integers(0, 120, (side, side, 3), dtype=np.uint8)
    frames = np.repeat(background[None], n, 0)
    for i in range(n):
        x = i % (side - 12)
        frames[i, 20:32, x:x + 12] = 255
    return frames


def test_window_features_with_context_are_the_whole_videos(one_torch_thread):
    """A window's sync features, read with context, equal the whole video's features at the
    same times: a temporal encoder sees no edge at the window's first and last frame."""
    clip = FrameArray(_moving_square(), 25.0)
    pipe = FeaturePipeline(sync=load_encoder("lab-sync"))
    whole = pipe.visual(clip, 0.0, 4.0).sync  # [100, 64]
    window = pipe.visual(clip, 1.2, 1.6, context=0.5).sync  # frames 30 ... 69
    assert window.shape == (40, 64)
    assert torch.allclose(window, whole[30:70], atol=1e-4)
    bare = pipe.visual(clip, 1.2, 1.6).sync  # no context: the encoder sees an edge at both ends
    assert (bare[0] - whole[30]).abs().max() > 0.05 and (bare[-1] - whole[69]).abs().max() > 0.05
    assert torch.allclose(bare[5:-5], whole[35:65], atol=1e-4)  # ... and nowhere else
    # at the video's own start, edge="none" gives what the whole video gives there
    assert torch.allclose(pipe.visual(clip, 0.0, 1.0, context=0.5, edge="none").sync, whole[:25], atol=1e-4)


def test_repeat_edge_makes_a_still_video_edgeless(one_torch_thread):
    still = FrameArray(np.repeat(_moving_square(1), 50, 0), 25.0)
    pipe = FeaturePipeline(sync=load_encoder("lab-sync"))
    repeat = pipe.visual(still, 0.0, 2.0, context=0.5, edge="repeat").sync
    assert torch.allclose(repeat, repeat[25].expand_as(repeat), atol=1e-4)  # the same picture throughout
    none = pipe.visual(still, 0.0, 2.0, context=0.5, edge="none").sync
    assert (none[0] - none[25]).abs().max() > 0.05  # the encoder sees the video start as a change
    with pytest.raises(ValueError, match="edge"):
        pipe.visual(still, 0.0, 1.0, edge="mirror")
