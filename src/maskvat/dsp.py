"""Signal processing shared by every wing: mel filterbanks, the 100 Hz log-mel, spectral distances.

- ``mel_filterbank``: triangular filters on the HTK mel scale, either of unit area in Hz
  (Slaney norm: DAC's mel loss, the FDM's MFCCs) or with each row summing to 1 (the lab's
  onset detector and log-mel features).
- ``log_mel``: the 64-band log-mel at 100 frames/s that the lab encoders (sync judge,
  semantic pair, the ``lab-logmel`` stand-in for BEATs) and the sound classifier read.
- ``mel_distance`` (DAC's multi-scale mel loss, Kumar et al. 2023: for each window length w
  in (32 ... 2048) with a matching number of mel bands, the L1 distance between log10 mel
  magnitudes floored at ``floor``, averaged over scales), ``stft_distance`` (multi-resolution
  STFT: log-magnitude L1 + magnitude L1), ``si_sdr`` and ``best_lag``: the codec's training
  losses and its evaluation. Pure functions of ``wav: [B, T]`` tensors; differentiable.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

MEL_WINDOWS = (32, 64, 128, 256, 512, 1024, 2048)
MEL_BANDS = (5, 10, 20, 40, 80, 160, 320)
STFT_WINDOWS = (2048, 512)


LOG_MEL_RATE = 100.0  # frames per second of ``log_mel`` (hop 441 at 44.1 kHz)
LOG_MEL_BANDS = 64


def _hz_to_mel(f):
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def _mel_to_hz(m):
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


@functools.lru_cache(maxsize=64)
def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, *, fmin: float = 0.0, fmax: float | None = None,
                   norm: str = "area") -> np.ndarray:
    """Triangular HTK-mel filters [n_mels, n_fft // 2 + 1] (float64, read-only), edges equally
    spaced on the mel scale between ``fmin`` and ``fmax`` (default: Nyquist).

    norm "area": each filter has unit area in Hz (Slaney's norm; DAC's mel loss, the FDM).
    norm "sum": each row sums to 1, so a band is a weighted mean of its bins; a band narrower
    than one bin takes its nearest bin (the lab's onset detector and ``log_mel``).
    """
    if norm not in ("area", "sum"):
        raise ValueError(f"norm must be 'area' or 'sum', not {norm!r}")
    top = sample_rate / 2 if fmax is None else min(fmax, sample_rate / 2)
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(fmin), _hz_to_mel(top), n_mels + 2))
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up = (freqs[None] - lower) / np.maximum(centre - lower, 1e-9)
    down = (upper - freqs[None]) / np.maximum(upper - centre, 1e-9)
    fb = np.maximum(0.0, np.minimum(up, down))
    if norm == "area":
        fb = fb * (2.0 / (upper - lower))
    else:
        for b in np.flatnonzero(fb.sum(axis=1) == 0):
            fb[b, np.argmin(np.abs(freqs - centre[b, 0]))] = 1.0
        fb = fb / fb.sum(axis=1, keepdims=True)
    fb.setflags(write=False)
    return fb


def log_mel(wav: torch.Tensor, sample_rate: int = 44100) -> torch.Tensor:
    """wav [..., T] -> log-mel [..., 64, T // 441 + 1] at 100 frames/s: Hann window 1024,
    power spectrum, 64 bands (30 Hz - 16 kHz, rows summing to 1), natural log of power + 1e-6."""
    hop = int(round(sample_rate / LOG_MEL_RATE))
    spec = torch.stft(wav.reshape(-1, wav.shape[-1]).float(), n_fft=1024, hop_length=hop,
                      window=torch.hann_window(1024, device=wav.device), center=True, return_complex=True).abs() ** 2
    fb = torch.tensor(mel_filterbank(sample_rate, 1024, LOG_MEL_BANDS, fmin=30.0, fmax=16000.0, norm="sum"),
                         dtype=torch.float32, device=wav.device)
    mel = torch.log(fb @ spec + 1e-6)
    return mel.reshape(*wav.shape[:-1], LOG_MEL_BANDS, -1)


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
        fb = torch.from_numpy(mel_filterbank(sample_rate, window, n_mels).astype(np.float32)).to(pred.device)
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


def _as_batch(wav: torch.Tensor) -> torch.Tensor:
    return wav.reshape(-1, wav.shape[-1]) if wav.dim() != 2 else wav
