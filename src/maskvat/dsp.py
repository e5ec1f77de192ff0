"""Spectral distances between waveforms: the codec's training losses and its evaluation metric.

``mel_distance`` is DAC's multi-scale mel loss (Kumar et al. 2023): for each window length
w in (32 ... 2048) with a matching number of mel bands, the L1 distance between log10 mel
magnitudes floored at ``floor``, averaged over scales. ``stft_distance`` is the
multi-resolution STFT loss (log-magnitude L1 + magnitude L1). Pure functions of
``wav: [B, T]`` tensors; differentiable.

The adversarial stage's losses (least-squares GAN, Mao et al. 2017, as in HiFi-GAN and
DAC) take what ``maskvat.train.discriminators.Discriminator`` returns: a list of logits
tensors, one per sub-discriminator (any shape each), and a list of feature-map lists.
Adversarial terms are summed over sub-discriminators (as DAC and HiFi-GAN do, which
``lambda_adv = 1`` assumes); feature matching is the mean L1 over each sub-discriminator's
layers, summed over sub-discriminators (DAC sums over layers too, so its weight 2 weighs
feature matching 5x (periods) to 25x (STFT windows) more than it does here).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

MEL_WINDOWS = (32, 64, 128, 256, 512, 1024, 2048)
MEL_BANDS = (5, 10, 20, 40, 80, 160, 320)
STFT_WINDOWS = (2048, 512)


def _hz_to_mel(f):
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def _mel_to_hz(m):
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


@functools.lru_cache(maxsize=32)
def mel_filterbank(n_fft: int, n_mels: int, sample_rate: int) -> torch.Tensor:
    """Triangular HTK-mel filters [n_mels, n_fft // 2 + 1], each of unit area in Hz (Slaney norm)."""
    freqs = np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(sample_rate / 2), n_mels + 2))
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up = (freqs[None] - lower) / np.maximum(centre - lower, 1e-9)
    down = (upper - freqs[None]) / np.maximum(upper - centre, 1e-9)
    fb = np.maximum(0.0, np.minimum(up, down)) * (2.0 / (upper - lower))
    return torch.from_numpy(fb.astype(np.float32))


def _magnitude(wav: torch.Tensor, window: int, hop: int) -> torch.Tensor:
    """|STFT| [B, F, frames] with a Hann window, centre padding (reflect when the clip is long enough).

    sqrt(re^2 + im^2 + 1e-12) rather than ``abs``: the gradient of |z| is NaN at z = 0
    (a silent output), which would poison a whole training step."""
    mode = "reflect" if wav.shape[-1] > window // 2 else "constant"
    spec = torch.stft(wav, n_fft=window, hop_length=hop, window=torch.hann_window(window, device=wav.device),
                      center=True, pad_mode=mode, return_complex=True)
    return torch.sqrt(spec.real.pow(2) + spec.imag.pow(2) + 1e-12)


def mel_distance(pred: torch.Tensor, target: torch.Tensor, sample_rate: int = 44100, *,
                 windows=MEL_WINDOWS, bands=MEL_BANDS, floor: float = 1e-5, reduce: bool = True) -> torch.Tensor:
    """Multi-scale log-mel L1. pred, target: [B, T] -> scalar (``reduce``) or [B]."""
    pred, target = _as_batch(pred), _as_batch(target)
    total = 0.0
    for window, n_mels in zip(windows, bands):
        fb = mel_filterbank(window, n_mels, sample_rate).to(pred.device)
        hop = window // 4
        mp = torch.einsum("mf,bft->bmt", fb, _magnitude(pred, window, hop))
        mt = torch.einsum("mf,bft->bmt", fb, _magnitude(target, window, hop))
        diff = (mp.clamp_min(floor).log10() - mt.clamp_min(floor).log10()).abs()
        total = total + diff.mean(dim=(1, 2))
    total = total / len(windows)
    return total.mean() if reduce else total


def stft_distance(pred: torch.Tensor, target: torch.Tensor, *, windows=STFT_WINDOWS, floor: float = 1e-5) -> torch.Tensor:
    """Multi-resolution STFT loss: mean over windows of log10-magnitude L1 + magnitude L1. [B, T] -> scalar."""
    pred, target = _as_batch(pred), _as_batch(target)
    total = 0.0
    for window in windows:
        sp, st = _magnitude(pred, window, window // 4), _magnitude(target, window, window // 4)
        total = total + (sp.clamp_min(floor).log10() - st.clamp_min(floor).log10()).abs().mean() + (sp - st).abs().mean()
    return total / len(windows)


def si_sdr(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Scale-invariant SDR in dB per item. [B, T] -> [B]."""
    pred, target = _as_batch(pred), _as_batch(target)
    pred = pred - pred.mean(-1, keepdim=True)
    target = target - target.mean(-1, keepdim=True)
    alpha = (pred * target).sum(-1, keepdim=True) / (target.pow(2).sum(-1, keepdim=True) + eps)
    proj = alpha * target
    return 10 * torch.log10(proj.pow(2).sum(-1) / ((pred - proj).pow(2).sum(-1) + eps) + eps)


def best_lag(pred: np.ndarray, target: np.ndarray, max_lag: int) -> int:
    """The shift d (|d| <= max_lag, samples) maximising sum(pred[t + d] * target[t])."""
    n = len(pred) + len(target)
    size = 1 << math.ceil(math.log2(max(n, 2)))
    corr = np.fft.irfft(np.fft.rfft(pred, size) * np.conj(np.fft.rfft(target, size)), size)
    lags = np.concatenate([np.arange(0, max_lag + 1), np.arange(-max_lag, 0)])
    return int(lags[np.argmax(corr[lags])])


def discriminator_loss(real_logits, fake_logits) -> torch.Tensor:
    """LSGAN discriminator loss: sum over sub-discriminators of mean((1 - D(real))^2) + mean(D(fake)^2).

    real_logits, fake_logits: a tensor, or lists of N tensors (sub-discriminator i: any shape,
    the same for real and fake) -> scalar. 0 when every real logit is 1 and every fake one 0.
    """
    real_logits, fake_logits = _as_list(real_logits), _as_list(fake_logits)
    if len(real_logits) != len(fake_logits):
        raise ValueError(f"{len(real_logits)} real vs {len(fake_logits)} fake logits tensors")
    return torch.stack([(1 - r).pow(2).mean() + f.pow(2).mean() for r, f in zip(real_logits, fake_logits)]).sum()


def generator_adv_loss(fake_logits) -> torch.Tensor:
    """LSGAN generator loss: sum over sub-discriminators of mean((1 - D(fake))^2).

    fake_logits: a tensor or a list of N tensors (any shapes) -> scalar."""
    return torch.stack([(1 - f).pow(2).mean() for f in _as_list(fake_logits)]).sum()


def feature_matching_loss(real_feats, fake_feats) -> torch.Tensor:
    """Feature matching (Larsen et al. 2016; HiFi-GAN): L1 between the discriminator's hidden
    activations on real and generated audio, summed over every layer of every sub-discriminator
    (DAC's reduction, for which its weight 2 is set). Real features are detached (no gradient to the discriminator).

    real_feats, fake_feats: lists of N lists of tensors (sub-discriminator i, layer j: the same
    shape in both, e.g. [B, C, H, W]); a flat list of tensors counts as one sub-discriminator.
    -> scalar; 0 for identical features, positive otherwise.
    """
    if real_feats and torch.is_tensor(real_feats[0]):
        real_feats, fake_feats = [real_feats], [fake_feats]
    if len(real_feats) != len(fake_feats):
        raise ValueError(f"{len(real_feats)} real vs {len(fake_feats)} fake feature lists")
    per_disc = []
    for real, fake in zip(real_feats, fake_feats):
        if len(real) != len(fake) or not real:
            raise ValueError(f"{len(real)} real vs {len(fake)} fake feature maps (need the same, at least one)")
        per_disc.append(torch.stack([(f - r.detach()).abs().mean() for r, f in zip(real, fake)]).sum())
    return torch.stack(per_disc).sum()


def _as_list(x) -> list[torch.Tensor]:
    return [x] if torch.is_tensor(x) else list(x)


def _as_batch(wav: torch.Tensor) -> torch.Tensor:
    return wav.reshape(-1, wav.shape[-1]) if wav.dim() != 2 else wav
