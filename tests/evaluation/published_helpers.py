"""Shared by the published metrics' tests: published-layout weights that save small (for the
tests that write a checkpoint file), random weights for tiny models, and a folder of reference
videos and generated sounds for the metrics that read a picture (DeSync, IB-score)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from maskvat.evaluation.panns import SIXTEEN_K, Cnn14
from maskvat.media import write_audio, write_video


def randomised(model: torch.nn.Module, seed: int = 0, scale: float = 0.1) -> torch.nn.Module:
    """Every parameter random (LayerNorms near 1 / 0), so that no part is an identity; eval mode."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=g)
            p.copy_(1.0 + 0.1 * noise if "norm" in name and name.endswith("weight") else scale * noise)
    return model.eval()


def picture_clips(root: Path) -> Path:
    """``root/ref``: c0.mp4 (6 s, a square moving across the picture), c1.mp4 (3 s), c2.wav (no
    picture); ``root/gen``: noise of each length. Returns ``root``."""
    ref, gen = root / "ref", root / "gen"
    ref.mkdir()
    gen.mkdir()
    rng = np.random.default_rng(0)
    for name, seconds in (("c0", 6.0), ("c1", 3.0)):
        n = int(seconds * 25)
        frames = np.zeros((n, 48, 64, 3), np.uint8)
        for i in range(n):  # a bright square moving across the picture
            frames[i, 16:32, (i * 2) % 48:(i * 2) % 48 + 16] = 255
        t = np.arange(int(seconds * 44100)) / 44100
        write_video(ref / f"{name}.mp4", frames, 25, audio=(0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32),
                    sample_rate=44100)
        write_audio(gen / f"{name}.wav", (0.1 * rng.standard_normal(len(t))).astype(np.float32))
    write_audio(ref / "c2.wav", np.zeros(6 * 44100, np.float32))
    write_audio(gen / "c2.wav", (0.1 * rng.standard_normal(6 * 44100)).astype(np.float32))
    return root


def compact_cnn14_state(seed: int = 0) -> dict[str, torch.Tensor]:
    """A random CNN14 state dict in the published layout that saves small: the two widest conv
    blocks (71 of its 81 M weights) repeat one random kernel over their output channels (each
    channel then differs by its own random BatchNorm); everything else is random in full."""
    g = torch.Generator().manual_seed(seed)
    state = {}
    for k, v in Cnn14(SIXTEEN_K).state_dict().items():
        if k.startswith(("spectrogram_extractor", "logmel_extractor")) or k.endswith("num_batches_tracked"):
            state[k] = v
        elif k.startswith(("conv_block5.conv", "conv_block6.conv")):
            fan_in = v.shape[1] * 9
            state[k] = (torch.randn(1, *v.shape[1:], generator=g) * (2.0 / fan_in) ** 0.5).expand(v.shape)
        elif "running_var" in k:
            state[k] = torch.rand(v.shape, generator=g) + 0.5
        elif k.startswith("bn0.running_mean"):
            state[k] = torch.rand(v.shape, generator=g) * -20 - 20
        elif k.startswith("bn0.running_var"):
            state[k] = torch.rand(v.shape, generator=g) * 100 + 50
        elif "running_mean" in k or k.endswith("bias"):
            state[k] = 0.1 * torch.randn(v.shape, generator=g)
        elif v.ndim == 1:  # BatchNorm weights
            state[k] = torch.rand(v.shape, generator=g) + 0.5
        else:
            state[k] = torch.randn(v.shape, generator=g) * (2.0 / v[0].numel()) ** 0.5
    return state
