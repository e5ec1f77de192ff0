"""AudioTokenizer: waveform <-> DAC codegram, over ``transformers.DacModel``.

Shapes: wav [B, T] at ``sample_rate``; codes [B, K, L] with L = ceil(T / hop_length).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch
from transformers import DacConfig, DacModel

from maskvat.codec.presets import CODEC_PRESETS
from maskvat.errors import MaskvatError
from maskvat.hub import load_pretrained


class AudioTokenizer(torch.nn.Module):
    """A DAC codec used as the tokenizer of MaskVAT (SPEC 1, paper 3.1)."""

    def __init__(self, model: DacModel, name: str = "dac"):
        super().__init__()
        self.model = model.eval()
        self.name = name
        cfg = model.config
        self.sample_rate = int(cfg.sampling_rate)
        self.hop_length = int(np.prod(cfg.downsampling_ratios))
        # config.frame_rate rounds up (87 for DAC 44k); the true rate is 44100 / 512 = 86.13.
        self.frame_rate = self.sample_rate / self.hop_length
        self.n_levels = int(cfg.n_codebooks)
        self.codebook_size = int(cfg.codebook_size)
        self.codebook_dim = int(cfg.codebook_dim)

    # ---- construction -------------------------------------------------------------------
    @classmethod
    def from_preset(cls, name: str, *, seed: int = 0) -> "AudioTokenizer":
        """A freshly initialised (untrained) codec of a preset's architecture."""
        if name not in CODEC_PRESETS:
            raise MaskvatError(f"unknown codec preset {name!r} (choose from {sorted(CODEC_PRESETS)})")
        torch.manual_seed(seed)
        return cls(DacModel(CODEC_PRESETS[name].dac_config()), name=f"{name} (untrained)")

    @classmethod
    def from_pretrained(
        cls, name_or_path: str | os.PathLike, *, device: str | torch.device = "cpu", local_files_only: bool = False
    ) -> "AudioTokenizer":
        """Load a codec from a local folder, a preset name with a hub id, or a hub id."""
        source = str(name_or_path)
        preset = CODEC_PRESETS.get(source)
        if preset is not None:
            if preset.hub_id is None:
                raise MaskvatError(f"codec preset {source!r} has no published weights; pass a trained codec folder")
            source = preset.hub_id
        if Path(source).expanduser().exists():
            _check_dac_folder(Path(source).expanduser())
        model = load_pretrained(DacModel, source, "codec", local_files_only=local_files_only,
                                hint="pass --codec PATH to a saved codec folder")
        return cls(model, name=str(name_or_path)).to(device)

    def save_pretrained(self, path: str | os.PathLike) -> None:
        """Write safetensors + config.json (readable by ``DacModel.from_pretrained`` too)."""
        self.model.save_pretrained(str(path), safe_serialization=True)

    # ---- arithmetic ---------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def num_frames(self, num_samples: int) -> int:
        """Codegram length L for ``num_samples`` samples: ceil(T / hop)."""
        return math.ceil(num_samples / self.hop_length)

    def pad(self, wav: torch.Tensor) -> torch.Tensor:
        """Zero-pad the last axis of wav [..., T] to a multiple of the hop (DacModel.encode does not)."""
        extra = self.num_frames(wav.shape[-1]) * self.hop_length - wav.shape[-1]
        return torch.nn.functional.pad(wav, (0, extra)) if extra else wav

    # ---- encode / decode ----------------------------------------------------------------
    @torch.no_grad()
    def encode(self, wav: torch.Tensor | np.ndarray) -> torch.Tensor:
        """wav [B, T] or [T] float at ``sample_rate`` -> codes [B, K, L] int64."""
        x = torch.as_tensor(np.asarray(wav) if not torch.is_tensor(wav) else wav, dtype=torch.float32)
        if x.ndim == 1:
            x = x[None]
        if x.ndim != 2 or x.shape[-1] == 0:
            raise MaskvatError(f"encode expects audio [B, T] with T > 0, got shape {tuple(x.shape)}")
        x = self.pad(x.to(self.device))[:, None, :]
        return self.model.encode(x).audio_codes.long()

    @torch.no_grad()
    def decode(self, codes: torch.Tensor, num_samples: int | None = None) -> torch.Tensor:
        """codes [B, K, L] -> wav [B, L * hop] float32 (trimmed to ``num_samples`` if given)."""
        codes = self._check_codes(codes)
        wav = self.model.decode(audio_codes=codes).audio_values
        wav = wav.reshape(codes.shape[0], -1).float()
        return wav[:, :num_samples] if num_samples is not None else wav

    def quantized(self, codes: torch.Tensor) -> torch.Tensor:
        """codes [B, K, L] -> the decoder's input, the sum over levels: [B, H, L]."""
        return self.model.quantizer.from_codes(self._check_codes(codes))[0]

    def latents(self, codes: torch.Tensor) -> torch.Tensor:
        """codes [B, K, L] -> per-level 8-dim codebook vectors, level-major: [B, 8K, L] (for FDD)."""
        return self.model.quantizer.from_codes(self._check_codes(codes))[1]

    def level_embeddings(self) -> torch.Tensor:
        """[K, D, H]: each level's codebook through that level's out_proj (with its bias).

        Summing ``level_embeddings()[k, codes[:, k]]`` over k equals ``quantized(codes)``:
        these tables initialise the transformer's per-level token embeddings (SPEC 1).
        """
        tables = []
        for q in self.model.quantizer.quantizers:
            w = q.out_proj.weight[:, :, 0]  # [H, 8]
            tables.append(q.codebook.weight @ w.T + q.out_proj.bias)  # [D, H]
        return torch.stack(tables)

    def _check_codes(self, codes: torch.Tensor) -> torch.Tensor:
        codes = torch.as_tensor(codes).long().to(self.device)
        if codes.ndim != 3 or codes.shape[1] != self.n_levels:
            raise MaskvatError(f"codes must be [B, {self.n_levels}, L], got shape {tuple(codes.shape)}")
        if codes.numel() and (codes.min() < 0 or codes.max() >= self.codebook_size):
            raise MaskvatError(f"codes must lie in [0, {self.codebook_size}), got [{codes.min()}, {codes.max()}]")
        return codes


def _check_dac_folder(path: Path) -> None:
    """A folder must hold a DAC config before transformers is asked to load it."""
    if not (path / "config.json").is_file():
        raise MaskvatError(f"cannot load codec from {path}: no config.json (not a saved codec folder)")
    try:
        model_type = DacConfig.from_pretrained(str(path)).model_type
    except (OSError, ValueError) as exc:
        raise MaskvatError(f"cannot load codec from {path}: not a DAC checkpoint ({_first_line(exc)})") from None
    if model_type != "dac":
        raise MaskvatError(f"cannot load codec from {path}: not a DAC checkpoint (model_type is {model_type!r})")


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__
