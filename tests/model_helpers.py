"""Tiny untrained models for tests (shared by the generate and bench tests)."""

from pathlib import Path


def save_tiny_model(root: Path, max_frames: int = 40) -> Path:
    """An untrained tiny lab-adaln-b model over the tiny codec, saved under ROOT/{codec,model}; returns ROOT/model."""
    import torch

    from maskvat.codec.tokenizer import AudioTokenizer
    from maskvat.model.config import model_config
    from maskvat.model.maskvat import MaskVAT

    AudioTokenizer.from_preset("tiny").save_pretrained(root / "codec")
    cfg = model_config("lab-adaln-b", d_model=32, n_layers=1, n_heads=4, codec=str(root / "codec"), codec_hidden=64,
                       max_frames=max_frames)
    torch.manual_seed(0)
    MaskVAT(cfg).save_pretrained(root / "model")
    return root / "model"
