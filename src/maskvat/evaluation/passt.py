"""PaSST (Koutini et al., Interspeech 2022, "Efficient Training of Audio Transformers with
Patchout"), for the field's FD_PaSST and KL_PaSST as MMAudio's av-benchmark computes them
(``av_bench/extract.py``: ``hear21passt.base.get_basic_model(mode="all")``, the AudioSet model
``passt_s_swa_p16_128_ap476``; ``evaluate.py``).

The network is ``hear21passt.models.passt.PaSST`` (kkoutini/passt_hear21) in that configuration:
patches 16x16 with stride 10 over a 128-band x 998-frame log-mel (12 x 99 patches), 768-d,
12 blocks of 12 heads, a class and a distillation token. Its state-dict keys are the published
checkpoint's (``passt-s-f128-p16-s10-ap.476-swa.pt``; read directly or under ``"model"``):

  patch_embed.proj.{weight [768, 1, 16, 16], bias}     the patches (a conv, stride 10)
  cls_token, dist_token [1, 1, 768]; new_pos_embed [1, 2, 768]
  freq_new_pos_embed [1, 768, 12, 1]; time_new_pos_embed [1, 768, 1, 99]
  blocks.0..11.{norm1, attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2}.*
  norm.*; head.0.* (LayerNorm), head.1.* (Linear 768 -> 527); head_dist.* (Linear 768 -> 527)

Front end (``AugmentMelSTFT`` in eval mode, no augmentation): wav [B, T] at 32 kHz ->
pre-emphasis x[n+1] - 0.97 x[n] -> |STFT|^2 (n_fft 1024, hop 320, a 800-sample symmetric Hann
window, centred, reflect padding) -> Kaldi mel bank of 128 bands over 0-15000 Hz
(``encoders.fbank.kaldi_mel_banks``) -> log(mel + 1e-5) -> (x + 4.5) / 5:
[B, 128, 1 + (T - 1) // 320] (1000 frames for 10 s).

Forward: patches + time and frequency position embeddings -> flattened, the two tokens (each
plus its position embedding) in front -> 12 pre-norm blocks (LayerNorm eps 1e-6, exact GELU) ->
norm -> features = mean of the two tokens [B, 768] -> logits = head(features) [B, 527]
(``head_dist`` is loaded, as in the reference, but not used at inference).

Preprocessing as av-benchmark: mono, minus its mean, torchaudio's sinc resampler to 32 kHz
(``evaluation.sinc_resample``), the first ``seconds`` (8 s), then zero-padded (or cut) to 10 s,
the model's window: one embedding and one logit vector per clip.

- FD_PaSST: Frechet distance between the clips' 768-d embeddings (``metrics.frechet_distance``).
- KL_PaSST: per clip KL(softmax(reference logits) || softmax(generated logits)), nats
  (``metrics.kl_softmax``); the figure is the mean over clips.

No weights ship; equivalence with ``hear21passt`` (network and front end) is tested on shared
random weights.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from maskvat.encoders.fbank import kaldi_mel_banks
from maskvat.errors import MaskvatError
from maskvat.evaluation.sinc_resample import sinc_resample
from maskvat.weights import load_checkpoint, load_exact, published_file

SAMPLE_RATE = 32000
WINDOW_SAMPLES = 320000  # the model's 10 s: 1000 frames after pre-emphasis, 99 patch columns
SECONDS = 8.0  # av-benchmark's default audio_length
N_FFT, WIN, HOP, MELS = 1024, 800, 320, 128
FMAX = 15000.0  # sr / 2 - fmax_aug_range / 2 (2000 Hz): the reference's eval-time band
EMBEDDING_SIZE, CLASSES = 768, 527
GRID = (12, 99)  # frequency x time patches of a 10 s clip
PREEMPHASIS = 0.97


class MelSTFT(nn.Module):
    """wav [B, T] at 32 kHz -> normalised log-mel [B, 128, 1 + (T - 1) // 320] (see the module doc)."""

    def __init__(self):
        super().__init__()
        self.register_buffer("window", torch.hann_window(WIN, periodic=False), persistent=False)
        self.register_buffer("banks", kaldi_mel_banks(MELS, N_FFT, SAMPLE_RATE, 0.0, FMAX).float(), persistent=False)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        x = wav[:, 1:] - PREEMPHASIS * wav[:, :-1]
        spec = torch.stft(x, N_FFT, hop_length=HOP, win_length=WIN, window=self.window, center=True,
                          normalized=False, return_complex=True)
        power = spec.real ** 2 + spec.imag ** 2
        return ((self.banks @ power + 1e-5).log() + 4.5) / 5.0


class PatchEmbed(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Conv2d(1, EMBEDDING_SIZE, 16, stride=10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)  # [B, 768, 12, t]


class Attention(nn.Module):
    def __init__(self, dim: int = EMBEDDING_SIZE, heads: int = 12):
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        attn = ((q @ k.transpose(-2, -1)) * self.scale).softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, c))


class Mlp(nn.Module):
    def __init__(self, dim: int = EMBEDDING_SIZE, hidden: int = 4 * EMBEDDING_SIZE):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm1 = nn.LayerNorm(EMBEDDING_SIZE, eps=1e-6)
        self.attn = Attention()
        self.norm2 = nn.LayerNorm(EMBEDDING_SIZE, eps=1e-6)
        self.mlp = Mlp()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PaSST(nn.Module):
    """log-mel [B, 1, 128, frames] -> (logits [B, 527], features [B, 768]); see the module doc.
    ``depth`` other than 12 is for tests only (the published model has 12 blocks)."""

    def __init__(self, depth: int = 12):
        super().__init__()
        self.patch_embed = PatchEmbed()
        self.cls_token = nn.Parameter(torch.zeros(1, 1, EMBEDDING_SIZE))
        self.dist_token = nn.Parameter(torch.zeros(1, 1, EMBEDDING_SIZE))
        self.new_pos_embed = nn.Parameter(torch.zeros(1, 2, EMBEDDING_SIZE))
        self.freq_new_pos_embed = nn.Parameter(torch.zeros(1, EMBEDDING_SIZE, GRID[0], 1))
        self.time_new_pos_embed = nn.Parameter(torch.zeros(1, EMBEDDING_SIZE, 1, GRID[1]))
        self.blocks = nn.Sequential(*[Block() for _ in range(depth)])
        self.norm = nn.LayerNorm(EMBEDDING_SIZE, eps=1e-6)
        self.head = nn.Sequential(nn.LayerNorm(EMBEDDING_SIZE), nn.Linear(EMBEDDING_SIZE, CLASSES))
        self.head_dist = nn.Linear(EMBEDDING_SIZE, CLASSES)

    def forward(self, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.patch_embed(mel)
        t = x.shape[-1]
        if t > GRID[1]:
            raise MaskvatError(f"PaSST reads at most 10 s ({GRID[1]} patch columns), got {t}")
        x = x + self.time_new_pos_embed[..., :t] + self.freq_new_pos_embed
        x = x.flatten(2).transpose(1, 2)
        b = len(x)
        cls = self.cls_token.expand(b, -1, -1) + self.new_pos_embed[:, :1]
        dist = self.dist_token.expand(b, -1, -1) + self.new_pos_embed[:, 1:]
        x = self.norm(self.blocks(torch.cat((cls, dist, x), dim=1)))
        features = (x[:, 0] + x[:, 1]) / 2
        return self.head(features), features


def load_passt(source: str | os.PathLike) -> PaSST:
    """The published PaSST checkpoint (a state dict, or one under "model"; a file, a folder
    holding one, or a hub id whose snapshot holds one) -> PaSST in eval mode; MaskvatError naming
    the file otherwise. A flat patch-embedding weight (the authors' older files) is reshaped to
    the conv's, as the reference's ``checkpoint_filter_fn`` does."""
    file = published_file(source, "PaSST checkpoint", hint="pass the path of passt-s-f128-p16-s10-ap.476-swa.pt")
    ckpt = load_checkpoint(file, "a PaSST checkpoint")
    state = ckpt.get("model", ckpt) if isinstance(ckpt, dict) else ckpt
    if not isinstance(state, dict) or "time_new_pos_embed" not in state:
        raise MaskvatError(f"{file}: not a PaSST checkpoint (no time_new_pos_embed)")
    state = dict(state)
    w = state.get("patch_embed.proj.weight")
    if isinstance(w, torch.Tensor) and w.ndim < 4 and w.numel() == EMBEDDING_SIZE * 16 * 16:
        state["patch_embed.proj.weight"] = w.reshape(EMBEDDING_SIZE, 1, 16, 16)
    return load_exact(PaSST(), state, file, "PaSST").eval()


@dataclass
class PaSSTOutput:
    """One clip: ``embedding`` [768] (FD), ``logits`` [527] (KL)."""

    embedding: np.ndarray
    logits: np.ndarray


class PaSSTEmbedder:
    """wav [T] (mono, any rate) -> ``PaSSTOutput`` of the clip's 10 s window, preprocessed as
    av-benchmark (see the module doc). ``seconds``: the first seconds kept (None: up to 10 s)."""

    sample_rate = SAMPLE_RATE

    def __init__(self, model: PaSST, *, seconds: float | None = SECONDS, device: str | torch.device = "cpu",
                 source: str | None = None):
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.mel = MelSTFT().to(self.device)
        self.seconds = seconds
        self.source = source

    @classmethod
    def from_pretrained(cls, source: str | os.PathLike, **kwargs) -> "PaSSTEmbedder":
        return cls(load_passt(source), source=str(source), **kwargs)

    def prepare(self, wav: np.ndarray, sample_rate: int) -> torch.Tensor:
        """wav [T] at ``sample_rate`` -> the model's input [320000] at 32 kHz (mean removed,
        resampled, cut to ``seconds``, zero-padded or cut to 10 s)."""
        x = torch.as_tensor(np.asarray(wav, np.float32))
        if x.ndim != 1:
            raise MaskvatError(f"PaSST needs mono audio [T], got shape {tuple(x.shape)}")
        x = sinc_resample(x - x.mean(), int(sample_rate), SAMPLE_RATE)
        if self.seconds is not None:
            x = x[: int(SAMPLE_RATE * self.seconds)]
        x = x[:WINDOW_SAMPLES]
        return F.pad(x, (0, WINDOW_SAMPLES - len(x)))

    @torch.no_grad()
    def embed(self, wav: np.ndarray, sample_rate: int) -> PaSSTOutput:
        x = self.prepare(wav, sample_rate)[None].to(self.device)
        logits, features = self.model(self.mel(x)[:, None])
        return PaSSTOutput(features[0].float().cpu().numpy(), logits[0].float().cpu().numpy())
