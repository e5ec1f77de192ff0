"""The discriminators of DAC's adversarial stage (Kumar et al. 2023), written from the papers.

``MultiPeriodDiscriminator`` (HiFi-GAN, Kong et al. 2020): for each period p in
(2, 3, 5, 7, 11) the waveform [B, T] is padded at the end to a multiple of p and folded
to [B, 1, T/p, p], so that a 2-D convolution with kernel (5, 1) sees every p-th sample.
Each period has its own stack: four weight-normed Conv2d with kernel (5, 1) and stride
(3, 1), one more with stride 1, leaky ReLU 0.1 after each, and a (3, 1) convolution to one
channel that gives the logits. Channels are HiFi-GAN's (32, 128, 512, 1024, 1024) times
``width``.

``MultiResolutionSTFTDiscriminator`` (DAC's complex multi-band discriminator): for each
window w in (2048, 1024, 512), the complex STFT with a Hann window and hop w / 4 (torch's
``normalized=True``, i.e. divided by sqrt(w), so that the inputs are of order one rather
than of order w), real and imaginary parts as 2 channels: [B, 2, frames, F]. The frequency
axis is split into bands at (0, 0.1, 0.25, 0.5, 0.75, 1) of the bins, as DAC does; each
band goes through its own stack of 2-D convolutions over (time, frequency): a (3, 9) conv
with stride 1, three (3, 9) convs with stride (1, 2) (halving the frequency axis), and a
(3, 3) conv, each followed by leaky ReLU 0.1, all with ``32 * width`` channels. The bands'
outputs are concatenated along frequency and a (3, 3) conv to one channel gives the
logits. ``bands=None`` skips the split (one stack over the whole spectrogram).

Deliberately not done: DAC peak-normalises each clip before its discriminators; here they
see the waveform as it is (a near-silent generated clip would otherwise be scaled up by
orders of magnitude, and so would its gradient).

Every sub-discriminator returns ``(logits, features)``: the logits tensor and the list of
its hidden activations (after each leaky ReLU), which feature matching compares.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

PERIODS = (2, 3, 5, 7, 11)
STFT_WINDOWS = (2048, 1024, 512)
STFT_BANDS = (0.0, 0.1, 0.25, 0.5, 0.75, 1.0)
MPD_CHANNELS = (32, 128, 512, 1024, 1024)
MRD_CHANNELS = 32
SLOPE = 0.1


def _scaled(channels: int, width: float) -> int:
    return max(1, round(channels * width))


def _conv(c_in: int, c_out: int, kernel, stride=1, padding=0) -> nn.Conv2d:
    return weight_norm(nn.Conv2d(c_in, c_out, kernel, stride, padding))


class PeriodDiscriminator(nn.Module):
    """One period of the multi-period discriminator. wav [B, T] -> (logits [B, 1, T', p], 5 feature maps)."""

    def __init__(self, period: int, width: float = 1.0):
        super().__init__()
        self.period = period
        chans = [1] + [_scaled(c, width) for c in MPD_CHANNELS]
        strides = (3, 3, 3, 3, 1)
        self.convs = nn.ModuleList(_conv(chans[i], chans[i + 1], (5, 1), (strides[i], 1), (2, 0)) for i in range(5))
        self.post = _conv(chans[-1], 1, (3, 1), 1, (1, 0))

    def forward(self, wav: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        b, t = wav.shape
        extra = -t % self.period
        if extra:
            wav = F.pad(wav[:, None], (0, extra), mode="reflect" if t > extra else "replicate")[:, 0]
        x = wav.reshape(b, 1, -1, self.period)
        feats = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), SLOPE)
            feats.append(x)
        return self.post(x), feats


class MultiPeriodDiscriminator(nn.Module):
    """HiFi-GAN's multi-period discriminator. wav [B, T] -> (one logits tensor per period,
    one list of 5 feature maps per period)."""

    def __init__(self, periods=PERIODS, width: float = 1.0):
        super().__init__()
        self.discriminators = nn.ModuleList(PeriodDiscriminator(p, width) for p in periods)

    def forward(self, wav: torch.Tensor) -> tuple[list[torch.Tensor], list[list[torch.Tensor]]]:
        outs = [d(wav) for d in self.discriminators]
        return [o[0] for o in outs], [o[1] for o in outs]


class STFTDiscriminator(nn.Module):
    """One resolution of the multi-resolution STFT discriminator.

    wav [B, T] -> (logits [B, 1, frames, F'], 5 * n_bands feature maps: for each layer,
    each band's activation [B, C, frames, F_band'])."""

    def __init__(self, window: int, width: float = 1.0, bands=STFT_BANDS):
        super().__init__()
        self.window = window
        n_bins = window // 2 + 1
        edges = [0.0, 1.0] if bands is None else list(bands)
        cuts = [round(f * n_bins) for f in edges]
        self.bands = [(lo, hi) for lo, hi in zip(cuts[:-1], cuts[1:]) if hi > lo]
        ch = _scaled(MRD_CHANNELS, width)

        def stack() -> nn.ModuleList:
            return nn.ModuleList([
                _conv(2, ch, (3, 9), 1, (1, 4)),
                _conv(ch, ch, (3, 9), (1, 2), (1, 4)),
                _conv(ch, ch, (3, 9), (1, 2), (1, 4)),
                _conv(ch, ch, (3, 9), (1, 2), (1, 4)),
                _conv(ch, ch, (3, 3), 1, (1, 1)),
            ])

        self.stacks = nn.ModuleList(stack() for _ in self.bands)
        self.post = _conv(ch, 1, (3, 3), 1, (1, 1))
        self.register_buffer("hann", torch.hann_window(window), persistent=False)

    def spectrogram(self, wav: torch.Tensor) -> torch.Tensor:
        """wav [B, T] -> [B, 2, frames, window // 2 + 1]: real and imaginary parts of the normalised STFT."""
        mode = "reflect" if wav.shape[-1] > self.window // 2 else "constant"
        spec = torch.stft(wav, n_fft=self.window, hop_length=self.window // 4, window=self.hann, center=True,
                          pad_mode=mode, normalized=True, return_complex=True)  # [B, F, frames]
        return torch.view_as_real(spec).permute(0, 3, 2, 1)

    def forward(self, wav: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        spec = self.spectrogram(wav)
        feats, outs = [], []
        for (lo, hi), stack in zip(self.bands, self.stacks):
            x = spec[..., lo:hi]
            for conv in stack:
                x = F.leaky_relu(conv(x), SLOPE)
                feats.append(x)
            outs.append(x)
        return self.post(torch.cat(outs, dim=-1)), feats


class MultiResolutionSTFTDiscriminator(nn.Module):
    """DAC's complex multi-resolution (multi-band) STFT discriminator. wav [B, T] -> (one
    logits tensor per window, one list of 5 * n_bands feature maps per window)."""

    def __init__(self, windows=STFT_WINDOWS, width: float = 1.0, bands=STFT_BANDS):
        super().__init__()
        self.discriminators = nn.ModuleList(STFTDiscriminator(w, width, bands) for w in windows)

    def forward(self, wav: torch.Tensor) -> tuple[list[torch.Tensor], list[list[torch.Tensor]]]:
        outs = [d(wav) for d in self.discriminators]
        return [o[0] for o in outs], [o[1] for o in outs]


class Discriminator(nn.Module):
    """Both of DAC's discriminators. ``width`` scales every channel count: 1.0 gives the
    papers' sizes (8.2 M weights per period, 0.47 M per window, 42.5 M in all); 0.25 gives
    2.7 M in all (the training default, CPU-sized), 0.0625 gives 0.17 M (tests).

    wav [B, T] or [B, 1, T] -> (logits: 8 tensors, one per sub-discriminator (5 periods, then
    3 windows); features: 8 lists of feature maps (5 per period, 25 per window with 5 bands)).
    """

    def __init__(self, width: float = 1.0, periods=PERIODS, windows=STFT_WINDOWS, bands=STFT_BANDS):
        super().__init__()
        if width <= 0:
            raise ValueError(f"discriminator width must be positive, got {width}")
        self.mpd = MultiPeriodDiscriminator(periods, width)
        self.mrd = MultiResolutionSTFTDiscriminator(windows, width, bands)

    def forward(self, wav: torch.Tensor) -> tuple[list[torch.Tensor], list[list[torch.Tensor]]]:
        if wav.dim() == 3:
            wav = wav[:, 0]
        p_logits, p_feats = self.mpd(wav)
        r_logits, r_feats = self.mrd(wav)
        return p_logits + r_logits, p_feats + r_feats
