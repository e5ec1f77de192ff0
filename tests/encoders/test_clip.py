"""The CLIP frame encoder, with a tiny CLIP saved to a local folder."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

from maskvat.encoders.base import frames_to_tensor
from maskvat.encoders.clip import CLIP_MEAN, CLIP_STD, CLIPFrameEncoder
from maskvat.errors import MaskvatError


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    torch.manual_seed(0)
    cfg = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                           image_size=32, patch_size=8, projection_dim=16)
    folder = tmp_path_factory.mktemp("clip") / "tiny"
    CLIPVisionModelWithProjection(cfg).save_pretrained(folder)
    return folder


def test_shapes_rates_and_per_frame_independence(clip_dir, tmp_path):
    encoder = CLIPFrameEncoder.from_pretrained(clip_dir, fps=8)
    assert (encoder.config.dim, encoder.config.rate, encoder.config.fps, encoder.config.size) == (16, 8, 8, 32)
    frames = np.random.default_rng(0).integers(0, 255, size=(2, 5, 48, 64, 3), dtype=np.uint8)
    feats = encoder.encode_frames(frames)
    assert feats.shape == (2, 5, 16)
    torch.testing.assert_close(encoder.encode_frames(frames[1:, 3:4]), feats[1:, 3:4], atol=1e-5, rtol=1e-5)
    encoder.save_pretrained(tmp_path / "saved")
    torch.testing.assert_close(CLIPFrameEncoder.from_pretrained(tmp_path / "saved", fps=8).encode_frames(frames), feats)


def test_missing_weights_fail_clearly(tmp_path):
    with pytest.raises(MaskvatError, match="cannot load CLIP"):
        CLIPFrameEncoder.from_pretrained(tmp_path / "nothing-here")


def test_frames_to_tensor_resizes_crops_and_normalises():
    frames = np.full((3, 40, 80, 3), 128, np.uint8)
    x = frames_to_tensor(frames, 32, CLIP_MEAN, CLIP_STD)
    assert x.shape == (3, 3, 32, 32)
    expected = (128 / 255 - torch.tensor(CLIP_MEAN)) / torch.tensor(CLIP_STD)
    torch.testing.assert_close(x[0, :, 16, 16], expected.float(), atol=1e-3, rtol=0)


def _published_layout(folder, drop: tuple[str, ...] = ()):
    """A tiny CLIP in openai/clip-vit-base-patch32's layout: the whole CLIPModel (text and vision
    towers, model_type "clip"), ``drop``: weights left out of its model.safetensors."""
    from safetensors.torch import load_file, save_file
    from transformers import CLIPConfig, CLIPModel

    torch.manual_seed(0)
    cfg = CLIPConfig(text_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2),
                     vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                        num_attention_heads=2, image_size=32, patch_size=8, projection_dim=16),
                     projection_dim=16)
    model = CLIPModel(cfg).eval()
    model.save_pretrained(folder)
    if drop:
        state = load_file(str(folder / "model.safetensors"))
        save_file({k: v for k, v in state.items() if k not in drop}, str(folder / "model.safetensors"),
                  metadata={"format": "pt"})
    return model


def test_the_published_clip_model_layout_loads_quietly_with_its_image_tower(tmp_path):
    """The hub's CLIP is the whole CLIPModel: the text tower is left out without a 200-line load
    report (transformers logs it as a warning), and the image embeddings are CLIPModel's own."""
    import logging

    model = _published_layout(tmp_path / "clip")
    records = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append
    logging.getLogger("transformers").addHandler(handler)
    try:
        encoder = CLIPFrameEncoder.from_pretrained(tmp_path / "clip")
    finally:
        logging.getLogger("transformers").removeHandler(handler)
    assert not [r.getMessage()[:200] for r in records if "UNEXPECTED" in r.getMessage()]
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        want = model.get_image_features(pixel_values=x)
        want = want if torch.is_tensor(want) else want.pooler_output
        torch.testing.assert_close(encoder.model(pixel_values=x).image_embeds, want)


def test_a_clip_folder_missing_image_weights_is_refused_not_filled_at_random(tmp_path):
    _published_layout(tmp_path / "clip", drop=("visual_projection.weight",))
    with pytest.raises(MaskvatError, match="cannot load CLIP.*missing.*visual_projection.weight"):
        CLIPFrameEncoder.from_pretrained(tmp_path / "clip")
