"""Published-layout weights that save small, for the tests that write a checkpoint file."""

from __future__ import annotations

import torch

from maskvat.evaluation.panns import SIXTEEN_K, Cnn14


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
