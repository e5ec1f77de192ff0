"""Kaldi's log mel filter bank ("fbank") features, in torch.

    feats = kaldi_fbank(wav * 2**15, sample_rate=16000, num_mel_bins=128)   # [B, F, 128]

The front end of BEATs (microsoft/unilm ``beats/BEATs.py`` calls
``torchaudio.compliance.kaldi.fbank``; torchaudio is not a dependency here). Kaldi's
recipe (``compute-fbank-feats`` with its defaults, dither off): frames of ``frame_length``
ms every ``frame_shift`` ms, only whole frames ("snip edges"); per frame: remove the DC
offset, pre-emphasis x[n] - 0.97 x[n-1] (x[-1] = x[0]), Povey window (Hann^0.85, not
periodic), zero-pad to a power of two, power spectrum, triangular mel filters on Kaldi's
mel scale 1127 ln(1 + f/700) between ``low_freq`` and ``high_freq`` (the Nyquist bin left
out), log with a floor of float32 epsilon. Checked against ``kaldi-native-fbank`` (the
C++ port of Kaldi's code) in tests/encoders/test_fbank.py.
"""

from __future__ import annotations

import math

import torch

from maskvat.errors import MaskvatError

LOG_FLOOR = float(torch.finfo(torch.float32).eps)


def mel_scale(freq):
    """Hz -> Kaldi mel: 1127 ln(1 + f / 700)."""
    return 1127.0 * torch.log1p(torch.as_tensor(freq, dtype=torch.float64) / 700.0)


def kaldi_mel_banks(num_bins: int, n_fft: int, sample_rate: float, low_freq: float = 20.0,
                    high_freq: float = 0.0) -> torch.Tensor:
    """Kaldi's triangular mel filters [num_bins, n_fft // 2 + 1] (float64; the last column, the
    Nyquist bin, is zero as in Kaldi). high_freq <= 0 counts back from the Nyquist frequency."""
    nyquist = sample_rate / 2
    if high_freq <= 0:
        high_freq += nyquist
    if not 0 <= low_freq < high_freq <= nyquist:
        raise MaskvatError(f"mel filters need 0 <= low_freq < high_freq <= {nyquist:g} Hz "
                           f"(got {low_freq:g}, {high_freq:g})")
    mel_low, mel_high = mel_scale(low_freq), mel_scale(high_freq)
    delta = (mel_high - mel_low) / (num_bins + 1)
    edges = mel_low + delta * torch.arange(num_bins + 2, dtype=torch.float64)  # left, centre, right of each
    left, centre, right = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    mel = mel_scale(torch.arange(n_fft // 2, dtype=torch.float64) * sample_rate / n_fft)[None]
    up = (mel - left) / (centre - left)
    down = (right - mel) / (right - centre)
    banks = torch.clamp(torch.minimum(up, down), min=0.0)
    return torch.cat([banks, torch.zeros(num_bins, 1, dtype=torch.float64)], dim=1)


def povey_window(size: int) -> torch.Tensor:
    """Kaldi's default window: (0.5 - 0.5 cos(2 pi n / (N - 1)))^0.85, float64 [size]."""
    return torch.hann_window(size, periodic=False, dtype=torch.float64).pow(0.85)


def hanning_window(size: int) -> torch.Tensor:
    """Kaldi's "hanning" window: 0.5 - 0.5 cos(2 pi n / (N - 1)), float64 [size]."""
    return torch.hann_window(size, periodic=False, dtype=torch.float64)


WINDOWS = {"povey": povey_window, "hanning": hanning_window}


def kaldi_fbank(wav: torch.Tensor, *, sample_rate: float = 16000, num_mel_bins: int = 23,
                frame_length: float = 25.0, frame_shift: float = 10.0, low_freq: float = 20.0,
                high_freq: float = 0.0, preemphasis: float = 0.97, window: str = "povey") -> torch.Tensor:
    """Log mel filter bank energies of ``wav`` [T] or [B, T] -> [F, bins] or [B, F, bins].

    ``window``: "povey" (Kaldi's default) or "hanning" (a symmetric Hann window, Kaldi's
    ``--window-type=hanning``; ImageBind's front end asks torchaudio's ``kaldi.fbank`` for it).

    F = 1 + (T - W) // S whole frames of W = sample_rate * frame_length / 1000 samples every
    S = sample_rate * frame_shift / 1000 (0 frames when T < W). Values are Kaldi's: the scale
    of ``wav`` matters (Kaldi reads 16-bit integers; BEATs multiplies [-1, 1] audio by 2^15).
    Computed in float64, returned in ``wav``'s floating dtype (float32 for integers).
    """
    wav = torch.as_tensor(wav)
    out_dtype = wav.dtype if wav.is_floating_point() else torch.float32
    squeeze = wav.dim() == 1
    if wav.dim() not in (1, 2):
        raise MaskvatError(f"fbank needs audio [T] or [B, T], got shape {tuple(wav.shape)}")
    if window not in WINDOWS:
        raise MaskvatError(f"fbank window {window!r}: use one of {', '.join(WINDOWS)}")
    x = wav.to(torch.float64).reshape(-1, wav.shape[-1])
    window_fn = WINDOWS[window]
    window = int(sample_rate * frame_length * 0.001)
    shift = int(sample_rate * frame_shift * 0.001)
    n_fft = 1 << max(0, math.ceil(math.log2(window)))
    if x.shape[-1] < window:
        empty = x.new_zeros(x.shape[0], 0, num_mel_bins).to(out_dtype)
        return empty[0] if squeeze else empty
    frames = x.unfold(-1, window, shift)  # [B, F, W]
    frames = frames - frames.mean(dim=-1, keepdim=True)
    previous = torch.cat([frames[..., :1], frames[..., :-1]], dim=-1)
    frames = (frames - preemphasis * previous) * window_fn(window).to(frames.device)
    power = torch.fft.rfft(frames, n=n_fft).abs().pow(2)  # [B, F, n_fft // 2 + 1]
    banks = kaldi_mel_banks(num_mel_bins, n_fft, sample_rate, low_freq, high_freq).to(frames.device)
    mel = torch.matmul(power, banks.T).clamp_min(LOG_FLOOR).log()
    mel = mel.to(out_dtype)
    return mel[0] if squeeze else mel
