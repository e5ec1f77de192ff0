"""PANNs CNN14 (Kong et al. 2020, "PANNs: Large-Scale Pretrained Audio Neural Networks for Audio
Pattern Recognition", IEEE/ACM TASLP), for the field's FD_PANNs and KL_PANNs as MMAudio's
av-benchmark computes them (hkchengrex/av-benchmark: ``av_bench/extract.py``, ``evaluate.py``).

The network is the ``Cnn14`` of qiuqiangkong/audioset_tagging_cnn (``pytorch/models.py``; the
same class as ``panns_inference.models.Cnn14`` and av-benchmark's copy), with torchlibrosa's front
end. Its modules and state-dict keys are those of the published checkpoints, whose file holds
the state dict under ``"model"``:

  spectrogram_extractor.stft.conv_{real,imag}.weight  [n_fft/2+1, 1, n_fft]  DFT kernels x periodic Hann
  logmel_extractor.melW                             [n_fft/2+1, 64]        librosa's Slaney mel bank
  bn0.*                                             BatchNorm2d(64) over the mel bands
  conv_block1..6.{conv1,conv2,bn1,bn2}.*            3x3 convs without bias, 1 -> 64 -> ... -> 2048 channels
  fc1.*                                             Linear(2048, 2048)
  fc_audioset.*                                     Linear(2048, 527)

Two published checkpoints differ only in the front end (``VARIANTS``, chosen by the STFT
kernel's length): ``Cnn14_16k_mAP=0.438.pth`` (16 kHz, 512-sample window, hop 160, mel
50-8000 Hz; the one av-benchmark uses) and ``Cnn14_mAP=0.431.pth`` (32 kHz, 1024, hop 320,
50-14000 Hz; ``panns_inference``'s default).

Forward (eval mode; dropout and SpecAugment off): wav [B, T] -> reflect-padded centred frames ->
power spectrogram |STFT|^2 [B, 1, F, n_fft/2+1] -> mel -> 10 log10(max(., 1e-10)) -> bn0 over
mel bands -> six conv blocks (average pools 2x2, the last 1x1) -> mean over frequency -> max +
mean over time [B, 2048] -> embedding = relu(fc1(.)) [B, 2048] -> logits = fc_audioset(embedding)
[B, 527]; the AudioSet class probabilities are sigmoid(logits) (``clipwise_output``).

Preprocessing as av-benchmark's ``AudioDataset`` (from audioldm_eval): mono, minus its mean,
resampled with torchaudio's sinc resampler (``evaluation.sinc_resample``), cut to the first
``seconds`` (8 s by default) and run whole: one embedding and one logit vector per clip.

- FD_PANNs: Frechet distance between the Gaussians of the generated and reference clips' 2048-d
  embeddings (``metrics.frechet_distance``), one embedding per clip.
- KL_PANNs (``metrics.kl_softmax``): per clip KL(softmax(reference logits) || softmax(generated logits)),
  in nats, summed over the 527 classes; the mean over clips is the figure ("KL-PANNS-softmax"
  of av-benchmark's ``compute_kl``, the formulation SpecVQGAN, Diff-Foley and MMAudio report).
  Note that it normalises the *logits* with a softmax; the sigmoid probabilities are not a
  distribution over classes.

No weights ship; ``PANNsEmbedder.from_pretrained`` reads a local copy of the published file.
Equivalence with ``panns_inference`` (torchlibrosa's front end) is tested on shared random weights.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import librosa
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from maskvat.errors import MaskvatError
from maskvat.evaluation.sinc_resample import sinc_resample
from maskvat.weights import load_checkpoint, load_exact, published_file

CLASSES = 527
EMBEDDING_SIZE = 2048
MEL_BANDS = 64
SECONDS = 8.0  # av-benchmark's default audio_length (MMAudio's clips)
MIN_SECONDS = 0.32  # five 2x2 pools need 32 frames: 31 hops plus one


@dataclass(frozen=True)
class Variant:
    """A published checkpoint's front end: rate (Hz), window = n_fft (samples), hop (samples),
    mel band edges (Hz)."""

    sample_rate: int
    window: int
    hop: int
    fmin: float
    fmax: float


VARIANTS = {512: Variant(16000, 512, 160, 50.0, 8000.0),  # Cnn14_16k_mAP=0.438.pth (av-benchmark)
            1024: Variant(32000, 1024, 320, 50.0, 14000.0)}  # Cnn14_mAP=0.431.pth (panns_inference)
SIXTEEN_K, THIRTY_TWO_K = VARIANTS[512], VARIANTS[1024]


class STFT(nn.Module):
    """torchlibrosa's STFT: wav [B, T] -> (real, imag) [B, 1, frames, n_fft/2+1], centred frames
    (reflect padding of n_fft/2), frames = 1 + T // hop. The DFT kernels are the module's
    weights (the checkpoint's)."""

    def __init__(self, n_fft: int, hop: int):
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        bins = n_fft // 2 + 1
        window = librosa.filters.get_window("hann", n_fft, fftbins=True)
        dft = np.exp(-2j * np.pi * np.outer(np.arange(bins), np.arange(n_fft)) / n_fft) * window[None]
        self.conv_real = nn.Conv1d(1, bins, n_fft, stride=hop, bias=False)
        self.conv_imag = nn.Conv1d(1, bins, n_fft, stride=hop, bias=False)
        with torch.no_grad():
            self.conv_real.weight.copy_(torch.tensor(dft.real, dtype=torch.float32)[:, None])
            self.conv_imag.weight.copy_(torch.tensor(dft.imag, dtype=torch.float32)[:, None])
        self.requires_grad_(False)

    def forward(self, wav: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = F.pad(wav[:, None], (self.n_fft // 2, self.n_fft // 2), mode="reflect")
        return (self.conv_real(x)[:, None].transpose(2, 3), self.conv_imag(x)[:, None].transpose(2, 3))


class Spectrogram(nn.Module):
    """wav [B, T] -> power spectrogram [B, 1, frames, n_fft/2+1]."""

    def __init__(self, n_fft: int, hop: int):
        super().__init__()
        self.stft = STFT(n_fft, hop)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        real, imag = self.stft(wav)
        return real ** 2 + imag ** 2


class LogmelFilterBank(nn.Module):
    """Power spectrogram [..., n_fft/2+1] -> 10 log10(max(power @ melW, 1e-10)) [..., 64] (dB re 1,
    no top_db clipping). ``melW`` [n_fft/2+1, 64] is librosa's Slaney-normalised mel bank."""

    AMIN = 1e-10

    def __init__(self, variant: Variant):
        super().__init__()
        mel = librosa.filters.mel(sr=variant.sample_rate, n_fft=variant.window, n_mels=MEL_BANDS,
                                  fmin=variant.fmin, fmax=variant.fmax).T
        self.melW = nn.Parameter(torch.tensor(mel, dtype=torch.float32), requires_grad=False)

    def forward(self, power: torch.Tensor) -> torch.Tensor:
        return 10.0 * torch.log10(torch.clamp(power @ self.melW, min=self.AMIN))


class ConvBlock(nn.Module):
    """[B, cin, H, W] -> two (3x3 conv without bias -> BatchNorm -> ReLU) -> average pool."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.bn2 = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor, pool: tuple[int, int]) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        return F.avg_pool2d(x, pool)


class Cnn14(nn.Module):
    """wav [B, T] at ``variant.sample_rate`` -> (embedding [B, 2048], logits [B, 527]); see the
    module doc. Inference only: no dropout, SpecAugment or mixup."""

    WIDTHS = (1, 64, 128, 256, 512, 1024, 2048)

    def __init__(self, variant: Variant = SIXTEEN_K, classes: int = CLASSES):
        super().__init__()
        self.variant = variant
        self.spectrogram_extractor = Spectrogram(variant.window, variant.hop)
        self.logmel_extractor = LogmelFilterBank(variant)
        self.bn0 = nn.BatchNorm2d(MEL_BANDS)
        for i in range(6):
            self.add_module(f"conv_block{i + 1}", ConvBlock(self.WIDTHS[i], self.WIDTHS[i + 1]))
        self.fc1 = nn.Linear(EMBEDDING_SIZE, EMBEDDING_SIZE)
        self.fc_audioset = nn.Linear(EMBEDDING_SIZE, classes)

    def log_mel(self, wav: torch.Tensor) -> torch.Tensor:
        """wav [B, T] -> log-mel [B, 1, 1 + T // hop, 64] (dB)."""
        return self.logmel_extractor(self.spectrogram_extractor(wav))

    def forward(self, wav: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.log_mel(wav)
        x = self.bn0(x.transpose(1, 3)).transpose(1, 3)
        for i in range(6):
            x = getattr(self, f"conv_block{i + 1}")(x, (2, 2) if i < 5 else (1, 1))
        x = x.mean(dim=3)  # over mel
        x = x.max(dim=2).values + x.mean(dim=2)  # over time
        embedding = F.relu(self.fc1(x))
        return embedding, self.fc_audioset(embedding)


def load_cnn14(source: str | os.PathLike) -> Cnn14:
    """A published CNN14 checkpoint (``{"model": state_dict, ...}`` or a bare state dict; a file,
    a folder holding one, or a hub id whose snapshot holds one) -> Cnn14 in eval mode, its
    variant read off the STFT kernel. MaskvatError (one line, naming the file) otherwise."""
    file = published_file(source, "PANNs CNN14 checkpoint",
                          hint="pass the path of Cnn14_16k_mAP=0.438.pth (or Cnn14_mAP=0.431.pth)")
    ckpt = load_checkpoint(file, "a PANNs CNN14 checkpoint")
    state = ckpt.get("model", ckpt) if isinstance(ckpt, dict) else ckpt
    if not isinstance(state, dict):
        raise MaskvatError(f"{file}: not a PANNs CNN14 checkpoint (expected its state dict under 'model')")
    kernel = state.get("spectrogram_extractor.stft.conv_real.weight")
    n_fft = int(kernel.shape[-1]) if isinstance(kernel, torch.Tensor) else None
    if n_fft not in VARIANTS:
        raise MaskvatError(f"{file}: not a PANNs CNN14 checkpoint (no STFT kernel of 512 or 1024 samples "
                           "under spectrogram_extractor.stft.conv_real.weight)")
    return load_exact(Cnn14(VARIANTS[n_fft]), state, file, "PANNs CNN14").eval()


@dataclass
class PANNsOutput:
    """One clip: ``embedding`` [2048] (FD), ``logits`` [527] (KL); ``probabilities`` = sigmoid."""

    embedding: np.ndarray
    logits: np.ndarray

    @property
    def probabilities(self) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.logits))


class PANNsEmbedder:
    """wav [T] (mono, any rate) -> ``PANNsOutput`` of the whole clip, preprocessed as av-benchmark
    (see the module doc). ``seconds``: the first seconds kept (None: all)."""

    def __init__(self, model: Cnn14, *, seconds: float | None = SECONDS, device: str | torch.device = "cpu",
                 source: str | None = None):
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.seconds = seconds
        self.source = source

    @classmethod
    def from_pretrained(cls, source: str | os.PathLike, **kwargs) -> "PANNsEmbedder":
        return cls(load_cnn14(source), source=str(source), **kwargs)

    @property
    def sample_rate(self) -> int:
        return self.model.variant.sample_rate

    def prepare(self, wav: np.ndarray, sample_rate: int) -> torch.Tensor:
        """wav [T] at ``sample_rate`` -> the model's input [T'] at its rate (mean removed,
        resampled, cut to ``seconds``)."""
        x = torch.as_tensor(np.asarray(wav, np.float32))
        if x.ndim != 1:
            raise MaskvatError(f"PANNs needs mono audio [T], got shape {tuple(x.shape)}")
        x = sinc_resample(x - x.mean(), int(sample_rate), self.sample_rate)
        if self.seconds is not None:
            x = x[: int(self.sample_rate * self.seconds)]
        if len(x) < MIN_SECONDS * self.sample_rate:
            raise MaskvatError(f"audio of {len(x) / self.sample_rate:.3f} s is too short for PANNs CNN14 "
                               f"(it needs {MIN_SECONDS} s)")
        return x

    @torch.no_grad()
    def embed(self, wav: np.ndarray, sample_rate: int) -> PANNsOutput:
        x = self.prepare(wav, sample_rate)
        emb, logits = self.model(x[None].to(self.device))
        return PANNsOutput(emb[0].float().cpu().numpy(), logits[0].float().cpu().numpy())
