"""Kaldi fbank (BEATs' front end) against kaldi-native-fbank, the C++ port of Kaldi's code."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from maskvat.encoders.fbank import LOG_FLOOR, kaldi_fbank, kaldi_mel_banks, mel_scale


def _signal(seconds: float = 1.0, sr: int = 16000) -> np.ndarray:
    """A 440 Hz tone with a chirp and noise, at the 16-bit scale Kaldi reads (BEATs: x * 2^15)."""
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * sr)) / sr
    x = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.1 * np.sin(2 * np.pi * (200 + 3000 * t) * t)
    return ((x + 0.02 * rng.standard_normal(len(t))) * 32768).astype(np.float32)


def _reference(wav: np.ndarray, num_bins: int, sr: int = 16000) -> np.ndarray:
    knf = pytest.importorskip("kaldi_native_fbank", reason="kaldi-native-fbank (the [test] extra) is not installed")
    opts = knf.FbankOptions()
    opts.frame_opts.dither = 0.0
    opts.frame_opts.samp_freq = sr
    opts.frame_opts.frame_length_ms = 25.0
    opts.frame_opts.frame_shift_ms = 10.0
    opts.mel_opts.num_bins = num_bins
    fb = knf.OnlineFbank(opts)
    fb.accept_waveform(sr, wav.tolist())
    fb.input_finished()
    return np.stack([fb.get_frame(i) for i in range(fb.num_frames_ready)])


@pytest.mark.parametrize("num_bins", [128, 23])
def test_fbank_equals_kaldi_native_fbank(num_bins):
    wav = _signal(1.23)
    ref = _reference(wav, num_bins)
    ours = kaldi_fbank(torch.from_numpy(wav), sample_rate=16000, num_mel_bins=num_bins).numpy()
    assert ours.shape == ref.shape == (1 + (len(wav) - 400) // 160, num_bins)
    err = np.abs(ours - ref)
    assert np.median(err) < 1e-4 and err.max() < 5e-3  # the reference works in float32; values are 2-25


def test_fbank_batch_silence_floor_and_short_input():
    wav = torch.from_numpy(_signal(0.5))
    batch = torch.stack([wav, torch.zeros_like(wav)])
    out = kaldi_fbank(batch, num_mel_bins=128)
    torch.testing.assert_close(out[0], kaldi_fbank(wav, num_mel_bins=128))
    torch.testing.assert_close(out[1], torch.full_like(out[1], math.log(LOG_FLOOR)))  # log(float32 eps)
    assert kaldi_fbank(torch.zeros(399), num_mel_bins=128).shape == (0, 128)  # under one 25 ms window
    assert kaldi_fbank(torch.zeros(400), num_mel_bins=128).shape == (1, 128)


def test_mel_banks_by_hand():
    banks = kaldi_mel_banks(128, 512, 16000)
    assert banks.shape == (128, 257) and banks[:, -1].abs().max() == 0  # Nyquist bin left out, as Kaldi
    # filter i peaks at an FFT bin next to its centre, on Kaldi's mel scale between 20 Hz and 8 kHz;
    # filter 3 (~78 Hz) is narrower than an FFT bin and catches none, as in Kaldi (its band is log(eps))
    lo, hi = mel_scale(20.0), mel_scale(8000.0)
    centre_hz = 700 * (torch.exp((lo + (hi - lo) / 129 * torch.arange(1, 129)) / 1127) - 1)
    peak_hz = banks.argmax(dim=1) * 16000 / 512
    used = banks.sum(dim=1) > 0
    assert used.sum() == 127 and not used[3]
    assert (peak_hz - centre_hz)[used].abs().max() <= 16000 / 512
    assert banks.max() <= 1.0 and banks.min() >= 0.0
    # a 440 Hz tone: the loudest band is the one whose filter passes 440 Hz best
    tone = torch.sin(2 * math.pi * 440 * torch.arange(16000) / 16000) * 10000
    loud = kaldi_fbank(tone, num_mel_bins=128).mean(0).argmax()
    assert loud == banks[:, round(440 * 512 / 16000)].argmax()
