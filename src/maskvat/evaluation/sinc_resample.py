"""Band-limited resampling as torchaudio does it (``torchaudio.transforms.Resample`` with its
defaults: ``sinc_interp_hann``, ``lowpass_filter_width=6``, ``rolloff=0.99``), written anew so that
torchaudio is not a dependency.

The published metrics' reference code (MMAudio's av-benchmark: PANNs, PaSST, Synchformer) reads
each file with torchaudio and resamples it with that transform, so a figure comparable to the
published ones resamples the same way (soxr, the project's resampler elsewhere, has another
filter).

The method (torchaudio's ``_get_sinc_resample_kernel`` / ``_apply_sinc_resample_kernel``): with
both rates divided by their gcd (``orig``, ``new``), output sample j of each block of ``new`` is
a dot product of the input with a Hann-windowed sinc low-pass at ``0.99 * min(orig, new)``
cycles, 6 zero crossings wide on each side, evaluated at the input positions
``i / orig - j / new``; the blocks advance by ``orig`` input samples (a strided conv1d). The input
is zero-padded by the kernel's half width before and half width + ``orig`` after; the output has
``ceil(T * new / orig)`` samples (that ceiling taken in float32, as torchaudio takes it). The kernel is computed in float64 and kept in float32, as the
transform caches it.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
import torch.nn.functional as F

LOWPASS_WIDTH = 6  # zero crossings of the sinc on each side
ROLLOFF = 0.99  # cut-off, as a fraction of the lower rate's Nyquist frequency


@functools.lru_cache(maxsize=8)
def sinc_kernel(orig_freq: int, new_freq: int) -> tuple[torch.Tensor, int]:
    """(kernel [new, 1, 2 * width + orig] float32, width) for rates already divided by their gcd."""
    base = min(orig_freq, new_freq) * ROLLOFF
    width = math.ceil(LOWPASS_WIDTH * orig_freq / base)
    idx = torch.arange(-width, width + orig_freq, dtype=torch.float64)[None, None] / orig_freq
    t = (torch.arange(0, -new_freq, -1)[:, None, None] / new_freq + idx) * base
    t = t.clamp(-LOWPASS_WIDTH, LOWPASS_WIDTH)
    window = torch.cos(t * math.pi / LOWPASS_WIDTH / 2) ** 2
    t = t * math.pi
    kernel = torch.where(t == 0, torch.ones_like(t), t.sin() / t) * window * (base / orig_freq)
    return kernel.to(torch.float32), width


def sinc_resample(wav: torch.Tensor | np.ndarray, orig_freq: int, new_freq: int) -> torch.Tensor:
    """wav [..., T] (float) at ``orig_freq`` -> [..., ceil(T * new / orig)] float32 at ``new_freq``
    (the input itself, as a tensor, when the rates are equal)."""
    x = torch.as_tensor(np.asarray(wav, np.float32) if isinstance(wav, np.ndarray) else wav).float()
    orig_freq, new_freq = int(orig_freq), int(new_freq)
    if orig_freq <= 0 or new_freq <= 0:
        raise ValueError(f"sample rates must be positive, got {orig_freq} and {new_freq}")
    if orig_freq == new_freq:
        return x
    g = math.gcd(orig_freq, new_freq)
    orig, new = orig_freq // g, new_freq // g
    kernel, width = sinc_kernel(orig, new)
    shape = x.shape
    x = x.reshape(-1, shape[-1])
    n, length = x.shape
    y = F.conv1d(F.pad(x, (width, width + orig))[:, None], kernel, stride=orig)  # [n, new, blocks]
    target = int(torch.ceil(torch.as_tensor(new * length / orig)))  # float32, as torchaudio
    y = y.transpose(1, 2).reshape(n, -1)[:, :target]
    return y.reshape(*shape[:-1], y.shape[-1])
