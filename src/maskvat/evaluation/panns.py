"""PANNs CNN14 (Kong et al. 2020, "PANNs: Large-scale pretrained audio neural networks for audio
pattern recognition"), for the field's FD-PANNs and KL-PANNs, as MMAudio's av-benchmark computes
them: the 16 kHz model (``Cnn14_16k_mAP=0.438.pth``: 512-sample window, 160 hop, 64 mel bands
50-8000 Hz, 527 AudioSet classes) run on the whole clip; FD over the clips' 2048-d embeddings,
KL per clip between the softmax of the reference's and the generated sound's logits.

- ``Cnn14``: wav [B, T] at the model's rate -> (embedding [B, 2048], logits [B, 527]). Its
  modules and state-dict keys are those of the published checkpoints (``{"model": state}`` of
  qiuqiangkong/audioset_tagging_cnn: ``spectrogram_extractor.stft.conv_real.weight``,
  ``logmel_extractor.melW``, ``bn0``, ``conv_block1..6``, ``fc1``, ``fc_audioset``), the front
  end included: the STFT is a strided convolution with the checkpoint's DFT kernels (Hann window,
  reflect-padded centre frames), the mel bank is the checkpoint's ``melW`` (librosa's Slaney
  mel), then 10 log10(max(power, 1e-10)).
- ``PANNsEmbedder``: loads a local checkpoint (or a hub id's snapshot holding one .pth) and
  embeds wav [T] at any rate (soxr to the model's rate).
- ``kl_softmax``: KL(softmax(reference logits) || softmax(generated logits) + 1e-6), the
  av-benchmark / SpecVQGAN "KL softmax" of one pair.

No weights ship; the architecture is tested against ``panns_inference``'s own CNN14 with shared
random weights.
"""

from __future__ import annotations

import os
from pathlib import Path

import librosa
import numpy as np
import scipy.signal
import torch
import torch.nn.functional as F
from torch import nn

from maskvat.errors import MaskvatError
from maskvat.media import resample
from maskvat.weights import looks_like_hub_id, snapshot

CLASSES = 527
EMBEDDING_SIZE = 2048
# checkpoint variants by STFT size: (sample rate, window, hop, mel bands, fmin, fmax)
VARIANTS = {512: (16000, 512, 160, 64, 50.0, 8000.0), 1024: (32000, 1024, 320, 64, 50.0, 14000.0)}
KL_EPS = 1e-6


class _STFT(nn.Module):
    """Power spectrogram by convolution with DFT kernels: wav [B, T] -> [B, 1, frames, n_fft // 2 + 1]."""

    def __init__(self, n_fft: int, hop: int):
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        window = scipy.signal.get_window("hann", n_fft, fftbins=True)
        k = np.arange(n_fft // 2 + 1)[:, None] * np.arange(n_fft)[None] * (-2j * np.pi / n_fft)
        kernel = np.exp(k) * window[None]
        self.conv_real = nn.Conv1d(1, n_fft // 2 + 1, n_fft, stride=hop, bias=False)
        self.conv_imag = nn.Conv1d(1, n_fft // 2 + 1, n_fft, stride=hop, bias=False)
        self.conv_real.weight.data = torch.tensor(kernel.real[:, None], dtype=torch.float32)
        self.conv_imag.weight.data = torch.tensor(kernel.imag[:, None], dtype=torch.float32)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        x = F.pad(wav[:, None], (self.n_fft // 2, self.n_fft // 2), mode="reflect")
        power = self.conv_real(x) ** 2 + self.conv_imag(x) ** 2  # [B, F, frames]
        return power.transpose(1, 2)[:, None]


class _Spectrogram(nn.Module):
    def __init__(self, n_fft: int, hop: int):
        super().__init__()
        self.stft = _STFT(n_fft, hop)

    def forward(self, wav):
        return self.stft(wav)


class _LogMel(nn.Module):
    def __init__(self, sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float):
        super().__init__()
        mel = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax).T
        self.melW = nn.Parameter(torch.tensor(mel, dtype=torch.float32), requires_grad=False)

    def forward(self, power: torch.Tensor) -> torch.Tensor:
        return 10.0 * torch.log10(torch.clamp(power @ self.melW, min=1e-10))


class _ConvBlock(nn.Module):
    """Two 3x3 convolutions (no bias) with batch norm and ReLU, then 2D average pooling."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.bn2 = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor, pool: tuple[int, int]) -> torch.Tensor:
        x = F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))))
        return F.avg_pool2d(x, pool)


class Cnn14(nn.Module):
    """wav [B, T] at ``sample_rate`` -> (embedding [B, 2048] = relu(fc1(pooled)), logits [B, 527])."""

    def __init__(self, sample_rate: int = 16000, window: int = 512, hop: int = 160, mels: int = 64,
                 fmin: float = 50.0, fmax: float = 8000.0, classes: int = CLASSES):
        super().__init__()
        self.sample_rate = sample_rate
        self.spectrogram_extractor = _Spectrogram(window, hop)
        self.logmel_extractor = _LogMel(sample_rate, window, mels, fmin, fmax)
        self.bn0 = nn.BatchNorm2d(mels)
        widths = (1, 64, 128, 256, 512, 1024, 2048)
        for i in range(6):
            self.add_module(f"conv_block{i + 1}", _ConvBlock(widths[i], widths[i + 1]))
        self.fc1 = nn.Linear(2048, 2048)
        self.fc_audioset = nn.Linear(2048, classes)

    def forward(self, wav: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.logmel_extractor(self.spectrogram_extractor(wav))  # [B, 1, frames, mels]
        x = self.bn0(x.transpose(1, 3)).transpose(1, 3)
        for i in range(6):
            x = getattr(self, f"conv_block{i + 1}")(x, (2, 2) if i < 5 else (1, 1))
        x = x.mean(dim=3)  # over frequency
        x = x.max(dim=2).values + x.mean(dim=2)  # over time
        embedding = F.relu(self.fc1(x))
        return embedding, self.fc_audioset(embedding)


def _weights_file(source: str | os.PathLike, what: str) -> Path:
    """The one .pth/.pt file that ``source`` names: a file, a folder holding exactly one, or a hub
    id whose snapshot holds exactly one (local cache first; MaskvatError offline)."""
    path = Path(source).expanduser()
    if not path.exists():
        if not looks_like_hub_id(str(source)):
            raise MaskvatError(f"{source}: no such {what} weights file")
        path = snapshot(str(source), f"{what} weights", hint=f"pass the path of a local {what} checkpoint")
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in (".pth", ".pt"))
        if len(found) != 1:
            raise MaskvatError(f"{path}: expected exactly one {what} checkpoint (.pth/.pt) here, found {len(found)}")
        path = found[0]
    return path


def load_checkpoint(source: str | os.PathLike, what: str) -> tuple[Path, dict[str, torch.Tensor]]:
    """(file, state dict) of a published checkpoint: a state dict, or a dict holding one under
    "model" or "state_dict"; MaskvatError naming the file otherwise."""
    file = _weights_file(source, what)
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated, foreign or pickled-object files
        raise MaskvatError(f"{file}: cannot be read as a {what} checkpoint ({type(exc).__name__})") from None
    for key in ("model", "state_dict"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise MaskvatError(f"{file}: not a {what} state dict of tensors")
    return file, state


def load_exact(model: nn.Module, state: dict[str, torch.Tensor], file: Path, what: str) -> nn.Module:
    """Load ``state`` into ``model`` refusing missing, unexpected or mis-shaped tensors."""
    own = model.state_dict()
    missing = [k for k in own if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in own]
    wrong = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or wrong:
        parts = [f"{label} {', '.join(keys[:3])}{' ...' if len(keys) > 3 else ''}"
                 for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)) if keys]
        raise MaskvatError(f"{file}: not {what} weights ({'; '.join(parts)})")
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()}, strict=False)
    return model.eval()


class PANNsEmbedder:
    """wav [T] at any rate -> (2048-d embedding [2048], logits [527]) of the whole clip."""

    def __init__(self, model: Cnn14):
        self.model = model.eval()

    @classmethod
    def from_pretrained(cls, source: str | os.PathLike) -> "PANNsEmbedder":
        file, state = load_checkpoint(source, "PANNs CNN14")
        kernel = state.get("spectrogram_extractor.stft.conv_real.weight")
        n_fft = int(kernel.shape[-1]) if kernel is not None else None
        if n_fft not in VARIANTS:
            raise MaskvatError(f"{file}: not a PANNs CNN14 checkpoint (no STFT kernel of 512 or 1024 samples)")
        return cls(load_exact(Cnn14(*VARIANTS[n_fft]), state, file, "PANNs CNN14"))

    @torch.no_grad()
    def embed(self, wav: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
        x = resample(np.asarray(wav, np.float32), sample_rate, self.model.sample_rate)
        emb, logits = self.model(torch.from_numpy(np.ascontiguousarray(x))[None])
        return emb[0].numpy(), logits[0].numpy()


def kl_softmax(generated_logits: np.ndarray, reference_logits: np.ndarray) -> float:
    """KL(p || q) with p = softmax(reference logits), q = softmax(generated logits) + 1e-6 (nats)."""
    p = torch.softmax(torch.as_tensor(reference_logits, dtype=torch.float64), -1)
    q = torch.softmax(torch.as_tensor(generated_logits, dtype=torch.float64), -1) + KL_EPS
    return float(F.kl_div(q.log(), p, reduction="sum"))
