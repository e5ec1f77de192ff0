"""Our encoders against the references that registries ship.

- S3D: torchvision's ``models/video/s3d.py`` (and the ``Conv3dNormActivation`` of
  ``ops/misc.py`` it builds on), taken from the torchvision wheel that pip downloads into the
  pytest cache (torchvision is never installed: it would replace our torch). Its module
  files are executed on their own, with the torchvision-internal imports they need stubbed
  (logging, the weights registry); the network code itself is torchvision's. Skipped, with
  the reason, when PyPI cannot be reached.
- CLIP: transformers' CLIPImageProcessor (installed with transformers) against our frame
  preprocessing.
"""

from __future__ import annotations

import enum
import itertools
import re
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from maskvat.encoders.base import decode_size, frames_to_tensor
from maskvat.encoders.clip import CLIP_MEAN, CLIP_STD
from maskvat.encoders.s3d import KINETICS_MEAN, KINETICS_STD, S3D, S3DVideoEncoder

TORCHVISION = "torchvision==0.24.1"
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def torchvision_sources(request) -> dict[str, str]:
    """The text of torchvision's s3d.py and ops/misc.py, from its wheel (downloaded once per cache)."""
    cache = Path(os.environ.get("MASKVAT_TEST_CACHE", Path.home() / ".cache" / "maskvat-tests")) / "torchvision-wheel"
    cache.mkdir(parents=True, exist_ok=True)
    wheels = sorted(cache.glob("torchvision-*.whl"))
    if not wheels:
        try:
            done = subprocess.run([sys.executable, "-m", "pip", "download", TORCHVISION, "--no-deps",
                                   "--only-binary=:all:", "-q", "-d", str(cache)],
                                  capture_output=True, text=True, timeout=300)
        except (OSError, subprocess.TimeoutExpired) as exc:
            pytest.skip(f"cannot download the {TORCHVISION} wheel with pip ({exc})")
        wheels = sorted(cache.glob("torchvision-*.whl"))
        if done.returncode or not wheels:
            pytest.skip(f"pip could not download {TORCHVISION} (no PyPI?): {done.stderr.strip()[-300:]}")
    with zipfile.ZipFile(wheels[-1]) as z:
        return {name: z.read(f"torchvision/{name}").decode() for name in ("models/video/s3d.py", "ops/misc.py")}


def _exec_without_torchvision_imports(source: str, stubs: dict, name: str) -> dict:
    """Run a torchvision module's code with its torchvision-internal imports replaced by ``stubs``."""
    kept = [line for line in source.splitlines() if not re.match(r"\s*from (torchvision|\.)\S* import", line)]
    namespace = {"__name__": name, **stubs}
    exec(compile("\n".join(kept), name, "exec"), namespace)
    return namespace


def _torchvision_s3d_class(sources):
    def make_ntuple(x, n):
        return tuple(x) if isinstance(x, (tuple, list)) else tuple(itertools.repeat(x, n))

    misc = _exec_without_torchvision_imports(
        sources["ops/misc.py"], {"_log_api_usage_once": lambda obj: None, "_make_ntuple": make_ntuple}, "misc")

    class Weights:  # the weights registry's records: only stored, never fetched
        def __init__(self, **kwargs):
            self.__dict__.update(kwargs)

    stubs = {"Conv3dNormActivation": misc["Conv3dNormActivation"], "_log_api_usage_once": lambda obj: None,
             "VideoClassification": object, "register_model": lambda *a, **k: (lambda f: f), "Weights": Weights,
             "WeightsEnum": enum.Enum, "_KINETICS400_CATEGORIES": [str(i) for i in range(400)],
             "_ovewrite_named_param": lambda *a, **k: None,
             "handle_legacy_interface": lambda *a, **k: (lambda f: f)}
    s3d = _exec_without_torchvision_imports(sources["models/video/s3d.py"], stubs, "s3d")
    weights = s3d["S3D_Weights"].KINETICS400_V1.value
    return s3d["S3D"], weights


def test_s3d_equals_torchvision_on_the_same_random_weights(torchvision_sources):
    TorchvisionS3D, weights = _torchvision_s3d_class(torchvision_sources)
    torch.manual_seed(0)
    theirs = TorchvisionS3D(num_classes=400).eval()
    with torch.no_grad():
        for m in theirs.modules():
            if isinstance(m, torch.nn.BatchNorm3d):  # non-trivial statistics, so a misplaced BN shows
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.1, 0.1)
    ours = S3D().eval()
    theirs_state = theirs.state_dict()
    assert [(k, v.shape) for k, v in ours.state_dict().items()] == [(k, v.shape) for k, v in theirs_state.items()]
    ours.load_state_dict(theirs_state, strict=True)
    video = torch.randn(1, 3, 16, 96, 96)  # [B, C, T, H, W]; small frames keep it quick
    feats = torch.randn(2, 1024, 2, 7, 7)  # what 16 frames of 224 x 224 give; the head's pool is 2 x 7 x 7
    with torch.no_grad():
        torch.testing.assert_close(ours.features(video), theirs.features(video), atol=1e-5, rtol=1e-4)
        head = [m.classifier(m.avgpool(feats)).mean(dim=(2, 3, 4)) for m in (ours, theirs)]
        torch.testing.assert_close(head[0], head[1])
    # the transform its published weights name: what our s3d-kinetics400 preprocessing restates
    transform = weights.transforms.keywords
    assert (transform["crop_size"], transform["resize_size"]) == ((224, 224), (256, 256))
    encoder = S3DVideoEncoder(ours, S3DVideoEncoder.default_config())
    assert (encoder.config.size, encoder.config.resize, encoder.config.keep_aspect) == (224, 256, False)


def test_kinetics_preprocessing_squashes_to_256_and_crops_224():
    """torchvision's VideoClassification: resize to (256, 256) (bilinear, no antialias), centre crop,
    /255, Kinetics mean/std; here a frame that is already 256 x 256 is only cropped."""
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, size=(3, 256, 256, 3), dtype=np.uint8)
    x = frames_to_tensor(frames, 224, KINETICS_MEAN, KINETICS_STD, resize=256, keep_aspect=False,
                         interpolation="bilinear", antialias=False, crop="round")
    want = (torch.from_numpy(frames[:, 16:240, 16:240]).float() / 255 - torch.tensor(KINETICS_MEAN)) \
        / torch.tensor(KINETICS_STD)
    torch.testing.assert_close(x, want.permute(0, 3, 1, 2))
    assert decode_size(640, 360, size=224, resize=256, keep_aspect=False) == (256, 256)
    wide = frames_to_tensor(rng.integers(0, 255, size=(1, 90, 160, 3), dtype=np.uint8), 224, KINETICS_MEAN,
                            KINETICS_STD, resize=256, keep_aspect=False, interpolation="bilinear", antialias=False,
                            crop="round")
    assert wide.shape == (1, 3, 224, 224)


@pytest.mark.parametrize("height,width", [(224, 301), (360, 640), (480, 270)])
def test_clip_preprocessing_equals_clip_image_processor(height, width):
    from transformers import CLIPImageProcessor

    processor = CLIPImageProcessor()  # the defaults are openai/clip-vit-base-patch32's
    assert processor.size == {"shortest_edge": 224} and processor.crop_size == {"height": 224, "width": 224}
    assert tuple(processor.image_mean) == CLIP_MEAN and tuple(processor.image_std) == CLIP_STD
    rng = np.random.default_rng(height)
    yy, xx = np.mgrid[0:height, 0:width]
    image = np.stack([(xx * 255 // width), (yy * 255 // height), ((xx + yy) % 64) * 4], -1)
    image = np.clip(image + rng.integers(-8, 9, size=image.shape), 0, 255).astype(np.uint8)  # smooth + noise
    theirs = torch.from_numpy(processor(images=image, return_tensors="np")["pixel_values"][0])
    ours = frames_to_tensor(image[None], 224, CLIP_MEAN, CLIP_STD, resize=224, keep_aspect=True,
                            interpolation="bicubic", antialias=True, crop="floor")[0]
    assert ours.shape == theirs.shape == (3, 224, 224)
    err = (ours - theirs).abs()
    if min(height, width) == 224:  # no resize: crop offsets and normalisation must be exact
        torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=0)
    else:  # PIL bicubic on uint8 vs torch antialiased bicubic on floats: under half a level on average
        assert err.mean() < 0.01 and err.max() < 0.25, (err.mean(), err.max())  # 1 level = 0.015
    # the pipeline decodes at the size the processor resizes to
    w, h = decode_size(width, height, size=224, resize=224, keep_aspect=True)
    assert min(w, h) == 224 and max(w, h) == int(224 * max(width, height) / min(width, height))


def test_clip_encoder_equals_clip_processor_and_model_on_the_same_random_weights(tmp_path):
    """CLIP end to end: our frame encoder on a saved folder against transformers' CLIPImageProcessor
    + CLIPVisionModelWithProjection(...).image_embeds with the same weights, frame by frame. The
    frames' short side is the processor's 224, so preprocessing is exact (no resampling)."""
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    from maskvat.encoders.clip import CLIPFrameEncoder

    torch.manual_seed(0)
    cfg = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                           image_size=224, patch_size=32, projection_dim=16)  # ViT-B/32's grid, small widths
    theirs = CLIPVisionModelWithProjection(cfg).eval()
    theirs.save_pretrained(tmp_path / "clip")
    frames = np.random.default_rng(1).integers(0, 255, size=(1, 3, 224, 301, 3), dtype=np.uint8)
    pixels = CLIPImageProcessor()(images=list(frames[0]), return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        want = theirs(pixel_values=pixels).image_embeds
    ours = CLIPFrameEncoder.from_pretrained(tmp_path / "clip", fps=8).encode_frames(frames)
    assert ours.shape == (1, 3, 16)
    torch.testing.assert_close(ours[0], want, atol=1e-5, rtol=1e-4)
    assert not torch.allclose(want[0], want[1], atol=1e-3)  # frames differ, so a mix-up would show
