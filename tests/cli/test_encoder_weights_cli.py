"""Naming each encoder's weights on the command line: ``NAME=SOURCE`` for ``maskvat extract
--encoders`` and ``maskvat generate --encoder-weights``, with the paper's encoders (random
weights of their real layouts, saved locally)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from maskvat.cli.main import main
from maskvat.encoders.registry import parse_encoder_args
from maskvat.errors import MaskvatError

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """A tiny CLIP folder, a SparseSync checkpoint (full S3D + bridge) and a small BEATs checkpoint."""
    import sys
    from pathlib import Path

    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    sys.path.insert(0, str(Path(__file__).parents[1] / "encoders"))
    from test_beats import SMALL_CFG, _state
    from test_sparsesync import (
        AVSyncVisualPart,  # SparseSync's module tree and key names
    )

    from maskvat.codec.tokenizer import AudioTokenizer

    root = tmp_path_factory.mktemp("weights")
    torch.manual_seed(0)
    cfg = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                           image_size=32, patch_size=8, projection_dim=16)
    CLIPVisionModelWithProjection(cfg).save_pretrained(root / "clip")
    torch.save({"model": AVSyncVisualPart().state_dict()}, root / "sparsesync.pt")
    torch.save({"cfg": SMALL_CFG, "model": _state(SMALL_CFG)}, root / "BEATs.pt")
    AudioTokenizer.from_preset("tiny").save_pretrained(root / "codec")
    return root


def test_parse_encoder_args():
    got = parse_encoder_args(["clip-vit-b32=/w/clip", "sync=/w/ss.pt", "lab-logmel"])
    assert got == {"semantic": ("clip-vit-b32", "/w/clip"), "sync": (None, "/w/ss.pt"), "audio": ("lab-logmel", None)}
    assert parse_encoder_args(["beats=/a=b.pt"]) == {"audio": ("beats", "/a=b.pt")}
    for items, kwargs, problem in [
        (["beats=/x", "lab-logmel"], {}, "two audio encoders"),
        (["beets=/x"], {}, "unknown encoder 'beets'"),
        (["sync=/x"], {"need_name": True}, "name the sync encoder"),
        (["sync"], {}, "name the sync encoder"),
        (["beats="], {}, "nothing after '='"),
        (["beats"], {"need_source": True}, "give its weights as beats=PATH"),
    ]:
        with pytest.raises(MaskvatError, match=problem):
            parse_encoder_args(items, **kwargs)


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    from maskvat.media import write_video

    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, size=(30, 72, 96, 3), dtype=np.uint8)  # 1.2 s at 25 fps, 4:3
    t = np.arange(int(1.2 * 44100)) / 44100
    folder = tmp_path_factory.mktemp("videos")
    write_video(folder / "clip.mp4", frames, 25.0, audio=(0.3 * np.sin(2 * np.pi * 330 * t)).astype(np.float32))
    return folder


def test_extract_with_the_paper_encoders_and_their_weights(weights, video, tmp_path, capsys):
    cache = tmp_path / "cache"
    rc = main(["extract", str(video), "--out", str(cache), "--clip-seconds", "1", "--codec", str(weights / "codec"),
               "--workers", "0", "--encoders", f"clip-vit-b32={weights / 'clip'}",
               f"s3d-sparsesync={weights / 'sparsesync.pt'}", f"beats={weights / 'BEATs.pt'}"])
    assert rc == 0, capsys.readouterr().err
    meta = json.loads((cache / "cache.json").read_text())
    enc = {r: (e["name"], e["dim"], e["rate"]) for r, e in meta["encoders"].items()}
    assert enc == {"semantic": ("clip-vit-b32", 16, 8.0), "sync": ("s3d-sparsesync", 512, 3.125),
                   "audio": ("beats", 48, 6.25)}
    shard = load_file(str(next((cache / "shards").glob("*.safetensors"))))
    # 1 s: 8 CLIP frames; 25 frames through S3D's strides -> 3 steps; 98 fbank frames -> 6 BEATs steps
    assert shard["0.semantic"].shape == (8, 16) and shard["0.sync"].shape == (3, 512)
    assert shard["0.audio"].shape == (6, 48)


def test_extract_without_needed_weights_fails_clearly(weights, video, tmp_path, capsys):
    rc = main(["extract", str(video), "--out", str(tmp_path / "c"), "--codec", str(weights / "codec"),
               "--encoders", "lab-semantic", "s3d-sparsesync"])
    err = capsys.readouterr().err
    assert rc == 2 and "s3d-sparsesync=PATH" in err and "SparseSync checkpoint" in err
    assert not (tmp_path / "c").exists()
    rc = main(["extract", str(video), "--out", str(tmp_path / "c"), "--encoders", f"sync={weights / 'sparsesync.pt'}"])
    assert rc == 2 and "name the sync encoder" in capsys.readouterr().err


@pytest.fixture(scope="module")
def paper_like_model(weights):
    """A tiny AdaLN-B whose config names the paper's visual encoders (CLIP, SparseSync's S3D)."""
    from maskvat.model.config import model_config
    from maskvat.model.maskvat import MaskVAT

    cfg = model_config("lab-adaln-b", d_model=32, n_layers=1, n_heads=4, codec=str(weights / "codec"),
                       codec_hidden=64, max_frames=40, semantic_encoder="clip-vit-b32", semantic_dim=16,
                       sync_encoder="s3d-sparsesync", sync_dim=512, sync_fps=3.125)
    torch.manual_seed(0)
    MaskVAT(cfg).save_pretrained(weights / "model")
    return weights / "model"


def test_generate_takes_encoder_weights_by_name_or_role(weights, video, paper_like_model, tmp_path, capsys):
    args = ["generate", str(video / "clip.mp4"), "-o", str(tmp_path / "out"), "--model", str(paper_like_model),
            "--steps", "2", "--no-video"]
    assert main(args) == 2  # CLIP's default is a hub id, S3D has none: without weights, a clear refusal
    assert "clip-vit-b32=FOLDER" in capsys.readouterr().err
    rc = main(args + ["--encoder-weights", f"s3d-kinetics400={weights / 'sparsesync.pt'}",
                      f"semantic={weights / 'clip'}"])
    assert rc == 2 and "this model's encoders are semantic=clip-vit-b32, sync=s3d-sparsesync" in capsys.readouterr().err
    rc = main(args + ["--encoder-weights", f"semantic={weights / 'clip'}", f"s3d-sparsesync={weights / 'sparsesync.pt'}"])
    assert rc == 0, capsys.readouterr().err
    assert (tmp_path / "out" / "clip.wav").is_file()
