"""VGGish audio embeddings (Hershey et al. 2017, "CNN architectures for large-scale audio
classification"), as in the AudioSet VGGish release, for embedding-based metrics (FAD).

- ``vggish_examples``: the release's front end, wav [T] at any rate -> log-mel examples
  [N, 1, 96, 64]: 16 kHz, 25 ms periodic-Hann window, 10 ms hop, 512-point FFT magnitude,
  64 HTK-mel bands over 125-7500 Hz, log(mel + 0.01), non-overlapping 0.96 s examples.
- ``VGGish``: the network, examples [N, 1, 96, 64] -> embeddings [N, 128]. Its state-dict
  keys and shapes are those of the common PyTorch port's weights file (``features.*``,
  ``embeddings.*``; see ``VGGISH_STATE_SHAPES``), so that file loads as is.
- ``VGGishPostprocess``: the release's optional PCA + 8-bit quantisation (off by default),
  stored in a weights file under ``pproc._pca_matrix`` [128, 128] and ``pproc._pca_means``
  [128, 1].
- ``VGGishEmbedder``: loads a local weights file and embeds a waveform -> [N, 128].

No weights ship with this package: point ``VGGishEmbedder.from_pretrained`` at a local copy.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from maskvat.errors import MaskvatError

SAMPLE_RATE = 16000
WINDOW = 400  # 25 ms at 16 kHz
HOP = 160  # 10 ms
N_FFT = 512  # next power of two >= WINDOW
N_MELS = 64
MEL_LOW_HZ, MEL_HIGH_HZ = 125.0, 7500.0
LOG_OFFSET = 0.01
EXAMPLE_FRAMES = 96  # 0.96 s of 10 ms frames; examples do not overlap
EMBEDDING_SIZE = 128
MIN_SAMPLES = WINDOW + (EXAMPLE_FRAMES - 1) * HOP  # 15600 samples at 16 kHz: 0.975 s

# The network's state dict (names and shapes), as in the PyTorch port's vggish-10086976.pth.
VGGISH_STATE_SHAPES: dict[str, tuple[int, ...]] = {}
for _i, (_cin, _cout) in zip((0, 3, 6, 8, 11, 13), ((1, 64), (64, 128), (128, 256), (256, 256), (256, 512), (512, 512))):
    VGGISH_STATE_SHAPES[f"features.{_i}.weight"] = (_cout, _cin, 3, 3)
    VGGISH_STATE_SHAPES[f"features.{_i}.bias"] = (_cout,)
for _i, (_fin, _fout) in zip((0, 2, 4), ((512 * 4 * 6, 4096), (4096, 4096), (4096, EMBEDDING_SIZE))):
    VGGISH_STATE_SHAPES[f"embeddings.{_i}.weight"] = (_fout, _fin)
    VGGISH_STATE_SHAPES[f"embeddings.{_i}.bias"] = (_fout,)
del _i, _cin, _cout, _fin, _fout

# The optional PCA parameters, when a weights file carries them.
PPROC_STATE_SHAPES: dict[str, tuple[int, ...]] = {
    "pproc._pca_matrix": (EMBEDDING_SIZE, EMBEDDING_SIZE),
    "pproc._pca_means": (EMBEDDING_SIZE, 1),
}
QUANTIZE_MIN, QUANTIZE_MAX = -2.0, 2.0


class VGGish(nn.Module):
    """Log-mel examples [N, 1, 96, 64] -> embeddings [N, 128].

    Four conv blocks (64, 128, 2x256, 2x512 channels, 3x3, each block ending in a 2x2 max
    pool) -> [N, 512, 6, 4], flattened channels-last (the TF layout) -> three fully connected
    layers 12288 -> 4096 -> 4096 -> 128, each followed by ReLU (as in the PyTorch port)."""

    def __init__(self):
        super().__init__()
        layers: list[nn.Module] = []
        cin = 1
        for block in ((64,), (128,), (256, 256), (512, 512)):
            for cout in block:
                layers += [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(inplace=True)]
                cin = cout
            layers.append(nn.MaxPool2d(2, 2))
        self.features = nn.Sequential(*layers)
        self.embeddings = nn.Sequential(
            nn.Linear(512 * 4 * 6, 4096), nn.ReLU(inplace=True),
            nn.Linear(4096, 4096), nn.ReLU(inplace=True),
            nn.Linear(4096, EMBEDDING_SIZE), nn.ReLU(inplace=True),
        )

    @staticmethod
    def flatten(x: torch.Tensor) -> torch.Tensor:
        """Conv features [N, C, H, W] -> [N, H * W * C], channel fastest (TF's NHWC order)."""
        return x.transpose(1, 3).transpose(1, 2).contiguous().reshape(len(x), -1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or tuple(x.shape[1:]) != (1, EXAMPLE_FRAMES, N_MELS):
            raise ValueError(f"VGGish needs examples [N, 1, {EXAMPLE_FRAMES}, {N_MELS}], got {tuple(x.shape)}")
        return self.embeddings(self.flatten(self.features(x)))


class VGGishPostprocess(nn.Module):
    """The release's post-processing of embeddings [N, 128] -> [N, 128]: PCA
    (``_pca_matrix @ (e - _pca_means)``), clip to [-2, 2], quantise to 0..255 (truncated to
    whole numbers, as the release's cast to uint8; returned as float)."""

    def __init__(self):
        super().__init__()
        self.register_buffer("_pca_matrix", torch.zeros(EMBEDDING_SIZE, EMBEDDING_SIZE))
        self.register_buffer("_pca_means", torch.zeros(EMBEDDING_SIZE, 1))

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        pca = (self._pca_matrix @ (embeddings.T - self._pca_means)).T
        clipped = pca.clamp(QUANTIZE_MIN, QUANTIZE_MAX)
        return torch.floor((clipped - QUANTIZE_MIN) * (255.0 / (QUANTIZE_MAX - QUANTIZE_MIN)))


def hertz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    """HTK mel scale: 1127 ln(1 + f / 700)."""
    return 1127.0 * np.log1p(np.asarray(hz, np.float64) / 700.0)


def vggish_mel_matrix() -> np.ndarray:
    """Mel weights [257, 64] mapping 512-FFT magnitude bins at 16 kHz to 64 bands: triangles
    on the HTK mel scale with edges spaced evenly from 125 to 7500 Hz (band i spans edges
    i..i+2, peaking at edge i+1); the DC bin gets no weight."""
    bins_mel = hertz_to_mel(np.linspace(0.0, SAMPLE_RATE / 2, N_FFT // 2 + 1))
    edges = np.linspace(hertz_to_mel(MEL_LOW_HZ), hertz_to_mel(MEL_HIGH_HZ), N_MELS + 2)
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bins_mel[:, None] - lower) / (centre - lower)
    falling = (upper - bins_mel[:, None]) / (upper - centre)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights[0] = 0.0
    return weights


def _resample(wav: np.ndarray, sample_rate: int) -> np.ndarray:
    if sample_rate == SAMPLE_RATE:
        return wav
    from scipy.signal import resample_poly

    g = math.gcd(SAMPLE_RATE, sample_rate)
    return resample_poly(wav, SAMPLE_RATE // g, sample_rate // g)


def vggish_examples(wav: np.ndarray, sample_rate: int) -> torch.Tensor:
    """Mono wav [T] at ``sample_rate`` -> VGGish input examples [N, 1, 96, 64] (float32).

    Resampled to 16 kHz (scipy's polyphase resampler), framed without padding (frames that
    do not fit whole are dropped, as are trailing frames short of a whole example), so
    N = 1 + (F - 96) // 96 with F = 1 + (T16 - 400) // 160. Audio too short for one example
    (0.975 s) is a MaskvatError."""
    wav = np.asarray(wav)
    if wav.ndim != 1:
        raise MaskvatError(f"VGGish needs mono audio [T], got an array of shape {wav.shape} (average the channels first)")
    if not (isinstance(sample_rate, (int, np.integer)) and sample_rate > 0):
        raise MaskvatError(f"VGGish needs a positive whole sample rate, got {sample_rate!r}")
    x = _resample(wav.astype(np.float64), int(sample_rate))
    if len(x) < MIN_SAMPLES:
        raise MaskvatError(f"audio of {len(wav) / sample_rate:.3f} s is too short for VGGish: one 0.96 s example "
                           f"of {EXAMPLE_FRAMES} frames needs at least {MIN_SAMPLES / SAMPLE_RATE:.3f} s")
    n_frames = 1 + (len(x) - WINDOW) // HOP
    idx = np.arange(WINDOW)[None] + HOP * np.arange(n_frames)[:, None]
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(WINDOW) / WINDOW)  # periodic
    magnitude = np.abs(np.fft.rfft(x[idx] * hann, N_FFT, axis=1))  # [F, 257]
    log_mel = np.log(magnitude @ vggish_mel_matrix() + LOG_OFFSET)  # [F, 64]
    n_examples = 1 + (n_frames - EXAMPLE_FRAMES) // EXAMPLE_FRAMES
    examples = log_mel[: n_examples * EXAMPLE_FRAMES].reshape(n_examples, 1, EXAMPLE_FRAMES, N_MELS)
    return torch.from_numpy(examples.astype(np.float32))


def _weights_file(path: Path) -> Path:
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in {".pth", ".pt"})
        if not found:
            raise MaskvatError(f"{path}: no VGGish weights here (no .pth or .pt file in this folder)")
        if len(found) > 1:
            raise MaskvatError(f"{path}: more than one weights file in this folder ({', '.join(p.name for p in found)}); "
                               "name the one to use")
        return found[0]
    if not path.is_file():
        raise MaskvatError(f"{path}: no such VGGish weights file")
    return path


def _few(keys: list[str], n: int = 4) -> str:
    return ", ".join(keys[:n]) + (f" and {len(keys) - n} more" if len(keys) > n else "")


class VGGishEmbedder:
    """wav [T] at any rate -> VGGish embeddings [N, 128], one per 0.96 s of audio.

    ``postprocess``: apply the release's PCA and quantisation (``VGGishPostprocess``); needs
    its parameters, which only a weights file with ``pproc.*`` entries provides."""

    def __init__(self, model: VGGish, pproc: VGGishPostprocess | None = None, *, postprocess: bool = False,
                 device: str | torch.device = "cpu", batch_size: int = 64):
        if postprocess and pproc is None:
            raise MaskvatError("VGGish post-processing asked for, but no PCA parameters were given")
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.pproc = pproc.to(self.device).eval() if pproc is not None else None
        self.postprocess = postprocess
        self.batch_size = batch_size

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike, *, postprocess: bool = False,
                        device: str | torch.device = "cpu", batch_size: int = 64) -> "VGGishEmbedder":
        """Load a local state dict (.pth/.pt, or a folder holding exactly one) whose keys are
        ``VGGISH_STATE_SHAPES``, plus optionally ``PPROC_STATE_SHAPES``."""
        file = _weights_file(Path(path))
        try:
            state = torch.load(file, map_location="cpu", weights_only=True)
        except Exception as err:  # a truncated, foreign or pickled-object file
            raise MaskvatError(f"{file}: not a PyTorch checkpoint (empty, truncated or another format); expected "
                              "VGGish weights") from err
        if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
            raise MaskvatError(f"{file}: not a state dict of tensors")
        expected = {**VGGISH_STATE_SHAPES, **PPROC_STATE_SHAPES}
        has_pproc = any(k in state for k in PPROC_STATE_SHAPES)
        wanted = expected if has_pproc else VGGISH_STATE_SHAPES
        missing = [k for k in wanted if k not in state]
        unexpected = [k for k in state if k not in expected]
        if missing or unexpected:
            parts = ([f"missing {_few(missing)}"] if missing else []) + ([f"unexpected {_few(unexpected)}"] if unexpected else [])
            raise MaskvatError(f"{file}: not VGGish weights ({'; '.join(parts)})")
        state = dict(state)
        if has_pproc and tuple(state["pproc._pca_means"].shape) == (EMBEDDING_SIZE,):
            state["pproc._pca_means"] = state["pproc._pca_means"].reshape(EMBEDDING_SIZE, 1)
        wrong = [f"{k} {tuple(state[k].shape)} (expected {shape})" for k, shape in wanted.items()
                 if tuple(state[k].shape) != shape]
        if wrong:
            raise MaskvatError(f"{file}: VGGish weights of the wrong shape: {_few(wrong, 2)}")
        if postprocess and not has_pproc:
            raise MaskvatError(f"{file}: post-processing asked for, but this file has no PCA parameters "
                               f"({', '.join(PPROC_STATE_SHAPES)})")
        model = VGGish()
        model.load_state_dict({k: state[k].float() for k in VGGISH_STATE_SHAPES})
        pproc = None
        if has_pproc:
            pproc = VGGishPostprocess()
            pproc.load_state_dict({k.removeprefix("pproc."): state[k].float() for k in PPROC_STATE_SHAPES})
        return cls(model, pproc, postprocess=postprocess, device=device, batch_size=batch_size)

    @torch.no_grad()
    def embed_examples(self, examples: torch.Tensor) -> np.ndarray:
        """Examples [N, 1, 96, 64] -> embeddings [N, 128] (float32; 0..255 when post-processed)."""
        out = []
        for i in range(0, len(examples), self.batch_size):
            e = self.model(examples[i:i + self.batch_size].to(self.device))
            if self.postprocess:
                e = self.pproc(e)
            out.append(e.float().cpu())
        return torch.cat(out).numpy()

    def embed(self, wav: np.ndarray, sample_rate: int) -> np.ndarray:
        """Mono wav [T] at ``sample_rate`` -> embeddings [N, 128], N = whole 0.96 s examples."""
        return self.embed_examples(vggish_examples(wav, sample_rate))
