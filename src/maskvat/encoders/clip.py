"""The semantic frame encoder (CLIP role): CLIP image embeddings, one per frame.

Pretrained: ``openai/clip-vit-base-patch32`` through transformers (hub id or a local
folder saved with ``save_pretrained``). frames [B, N, H, W, 3] uint8 at ``fps`` ->
[B, N, 512] image embeddings (the projected CLS token, as CLIP compares with text).

Preprocessing is CLIPImageProcessor's: short side resized to ``image_size`` (224; bicubic,
the long side truncated), centre crop ``image_size``, CLIP mean/std
(tests/encoders/test_encoder_references.py compares the two).
"""

from __future__ import annotations

import os

import torch
from torch import nn

from maskvat.encoders.base import EncoderConfig, frames_to_tensor
from maskvat.weights import checked_from_pretrained, load_pretrained

# openai/clip-vit-base-patch32 on the hub is the whole CLIPModel: its text tower is not used here
TEXT_TOWER = ("text_model.", "text_projection.", "logit_scale")


class _CheckedCLIP:
    """``CLIPVisionModelWithProjection.from_pretrained`` from a CLIP folder (the published CLIPModel
    or an image tower alone) that refuses missing or mismatched image weights instead of filling
    them at random, and loads the published layout without transformers' report on the text tower."""

    @staticmethod
    def from_pretrained(source: str, **kwargs):
        from transformers import CLIPVisionModelWithProjection

        return checked_from_pretrained(CLIPVisionModelWithProjection, source, unused=TEXT_TOWER, **kwargs)

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


class CLIPFrameEncoder(nn.Module):
    def __init__(self, model, config: EncoderConfig):
        super().__init__()
        self.model = model.eval()
        self.config = config

    @classmethod
    def from_pretrained(cls, source: str | os.PathLike, *, fps: float = 8.0, name: str = "clip") -> "CLIPFrameEncoder":
        model = load_pretrained(_CheckedCLIP, source, "CLIP",
                                hint=f"pass the path of a saved CLIP folder (on the command line: {name}=FOLDER)")
        cfg = model.config
        config = EncoderConfig(name=name, modality="video", dim=cfg.projection_dim, rate=fps, fps=fps,
                               size=cfg.image_size, source=str(source), resize=cfg.image_size, keep_aspect=True)
        return cls(model, config)

    def save_pretrained(self, folder: str | os.PathLike) -> None:
        self.model.save_pretrained(str(folder))
        self.config.save(folder)

    @torch.no_grad()
    def encode_frames(self, frames) -> torch.Tensor:
        """frames [B, N, H, W, 3] uint8 -> [B, N, dim]."""
        c = self.config
        x = frames_to_tensor(frames, c.size, CLIP_MEAN, CLIP_STD, resize=c.resize, keep_aspect=True,
                             interpolation="bicubic", antialias=True, crop="floor")  # [B, N, 3, S, S]
        b, n = x.shape[:2]
        device = next(self.model.parameters()).device
        emb = self.model(pixel_values=x.reshape(b * n, *x.shape[2:]).to(device)).image_embeds
        return emb.reshape(b, n, -1)
