"""A simple, documented onset detector: mel-band log spectral flux, adaptive threshold.

1. STFT of the mono signal: 1024-sample Hann window, hop 110 samples (2.5 ms) at 44.1 kHz;
   the signal is zero-padded in front only (so an abrupt end never looks like an onset).
2. 64 triangular mel bands (30 Hz - 16 kHz) of the magnitude, log-compressed as
   log(1 + 1000 E): bands average many bins, so steady noise does not flicker.
3. Flux of a frame (SuperFlux, Boeck & Widmer 2013): the sum over bands of the half-wave
   rectified rise over the maximum of the band and its two neighbours LAG frames earlier.
   The maximum filter keeps pitch glides (a fan speeding up) and vibrato from firing.
4. Adaptive threshold: (1 + RATIO) times the running median of the flux over 200 ms, plus
   an absolute FLOOR: steady noise (a running tap) has a high median and does not fire;
   silence has a zero median, and the floor keeps it quiet.
5. Peaks: local maxima above the threshold, at least 60 ms apart.
6. Time of a peak: the centre of the frame's window plus ATTACK_DELAY_S. A window sees a
   sharp attack before its centre reaches it, so peaks come early; the 4.6 ms delay is the
   median early bias measured on the lab's train split (80 clips, seed 0).
Parameters were chosen on the lab's train split. `maskvat lab score` applied to the
ground-truth audio itself gives the ceiling any generated track is compared with.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import maximum_filter1d, median_filter
from scipy.signal import stft

from maskvat import dsp

N_FFT = 1024
HOP = 110
N_BANDS = 64
LAG = 2
RATIO = 2.0
FLOOR = 2.0
MEDIAN_S = 0.2
MIN_GAP_S = 0.06
ATTACK_DELAY_S = 0.0046


def mel_filterbank(sr: int, n_fft: int = N_FFT, n_bands: int = N_BANDS):
    """[n_bands, n_fft // 2 + 1]: the detector's bands, 30 Hz - 16 kHz, rows summing to 1 (``maskvat.dsp``)."""
    return dsp.mel_filterbank(sr, n_fft, n_bands, fmin=30.0, fmax=16000.0, norm="sum")


def onset_strength(wav: np.ndarray, sr: int = 44100) -> tuple[np.ndarray, np.ndarray]:
    """(flux [F], times [F] in seconds: the centre of each frame's window) of mono ``wav`` [T]."""
    wav = np.asarray(wav, np.float64)
    if len(wav) < N_FFT:
        return np.zeros(0), np.zeros(0)
    pad = np.concatenate([np.zeros(N_FFT // 2), wav])
    _, _, spec = stft(pad, fs=sr, window="hann", nperseg=N_FFT, noverlap=N_FFT - HOP, boundary=None, padded=False)
    bands = np.log1p(1000.0 * (mel_filterbank(sr) @ np.abs(spec)))
    previous = maximum_filter1d(bands[:, :-LAG], size=3, axis=0, mode="nearest")
    flux = np.maximum(bands[:, LAG:] - previous, 0.0).sum(axis=0)
    times = np.arange(LAG, bands.shape[1]) * HOP / sr  # window m is centred on sample m * HOP of `wav`
    return flux, times


def detect_onsets(wav: np.ndarray, sr: int = 44100) -> np.ndarray:
    """Onset times in seconds, ascending: [M]."""
    flux, times = onset_strength(wav, sr)
    if flux.size == 0:
        return np.zeros(0)
    hop_s = HOP / sr
    local = median_filter(flux, size=max(3, int(MEDIAN_S / hop_s) | 1), mode="nearest")
    threshold = (1.0 + RATIO) * local + FLOOR
    gap = max(1, int(MIN_GAP_S / hop_s))
    is_peak = (flux == maximum_filter1d(flux, size=2 * gap + 1, mode="nearest")) & (flux > threshold)
    return times[np.nonzero(is_peak)[0]] + ATTACK_DELAY_S
