"""What every encoder shares: a config (rate, dims, input) and frame preprocessing.

Video encoders map frames [B, N, H, W, 3] uint8 (read at ``config.fps``) to a feature
sequence [B, N_out, dim] at ``config.rate`` features per second. The pipeline decodes
frames at ``decode_size(width, height, **frame_geometry(config))``: the geometry the
encoder's reference preprocessing expects before its centre crop (a short side of
``resize`` keeping the aspect ratio, or ``resize`` x ``resize``), so that encoders see
frames as their references did, not squashed to a square.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from maskvat.errors import MaskvatError

CONFIG_FILE = "encoder.json"


@dataclass
class EncoderConfig:
    """An encoder's contract with the rest of the pipeline."""

    name: str  # registry name, e.g. "clip-vit-b32"
    modality: str  # "video" or "audio"
    dim: int  # feature channels C
    rate: float  # output features per second
    fps: float | None = None  # video: frames per second it reads
    size: int | None = None  # video: square input side in pixels
    sample_rate: int | None = None  # audio: input sample rate
    source: str | None = None  # hub id or folder of the weights
    resize: int | None = None  # video: side resized to before the centre crop of ``size`` (None: decode size x size)
    keep_aspect: bool = True  # video: ``resize`` is the short side (True) or both sides (False)

    def save(self, folder: str | os.PathLike) -> None:
        Path(folder, CONFIG_FILE).write_text(json.dumps(asdict(self), indent=1))

    @classmethod
    def load(cls, folder: str | os.PathLike) -> "EncoderConfig":
        path = Path(folder, CONFIG_FILE)
        try:
            return cls(**json.loads(path.read_text()))
        except FileNotFoundError:
            raise MaskvatError(f"{folder}: not an encoder folder (no {CONFIG_FILE})") from None
        except (json.JSONDecodeError, TypeError) as exc:
            raise MaskvatError(f"{path}: not a valid encoder config ({exc})") from None


class Encoder:
    """What every encoder that is not itself an ``nn.Module`` offers beside ``config``: a
    ``device`` and ``to(device)``, which moves the networks named in ``networks``; its
    ``encode_frames`` / ``encode_audio`` compute there and return features on that device."""

    networks: tuple[str, ...] = ()  # attribute names of the nn.Modules it holds
    _device = torch.device("cpu")

    @property
    def device(self) -> torch.device:
        return self._device

    def to(self, device: str | torch.device) -> "Encoder":
        self._device = torch.device(device)
        for name in self.networks:
            getattr(self, name).to(self._device)
        return self


def frame_geometry(config: EncoderConfig) -> dict:
    """The keywords of ``decode_size`` for an encoder's config."""
    return {"size": config.size, "resize": config.resize, "keep_aspect": config.keep_aspect}


def decode_size(width: int, height: int, *, size: int, resize: int | None = None,
                keep_aspect: bool = True) -> tuple[int, int]:
    """(width, height) to decode a width x height video at, for an encoder whose reference
    resizes to ``resize`` and centre-crops ``size``: short side ``resize`` with the long side
    truncated as torchvision's and transformers' resizes do (``keep_aspect``), ``resize`` x
    ``resize`` (not ``keep_aspect``), or ``size`` x ``size`` when ``resize`` is None (the lab
    encoders, which read squashed frames)."""
    if resize is None:
        return size, size
    if not keep_aspect:
        return resize, resize
    short = min(width, height)
    w, h = (resize, max(resize, int(resize * height / short))) if width == short else \
        (max(resize, int(resize * width / short)), resize)
    return w, h


def frames_to_tensor(frames, size: int, mean, std, *, resize: int | None = None, keep_aspect: bool = True,
                     interpolation: str = "bicubic", antialias: bool = True, crop: str = "floor") -> torch.Tensor:
    """frames [..., H, W, 3] uint8 -> [..., 3, size, size] float, normalised.

    Frames not already at ``decode_size`` are resized there (``interpolation``, ``antialias``
    as F.interpolate), then centre-cropped to ``size`` (top offset (H - size) // 2 for
    ``crop="floor"`` as transformers' image processors, round((H - size) / 2) for "round" as
    torchvision and SparseSync), then (x / 255 - mean) / std. ``resize`` None means ``size``.
    """
    x = torch.as_tensor(frames)
    lead = x.shape[:-3]
    x = x.reshape(-1, *x.shape[-3:]).permute(0, 3, 1, 2).float() / 255.0  # [M, 3, H, W]
    h, w = x.shape[-2:]
    nw, nh = decode_size(w, h, size=size, resize=resize or size, keep_aspect=keep_aspect)
    if (nh, nw) != (h, w):
        x = F.interpolate(x, size=(nh, nw), mode=interpolation, antialias=antialias, align_corners=False)
        x = x.clamp(0, 1)
    if crop == "round":
        top, left = int(round((nh - size) / 2)), int(round((nw - size) / 2))
    else:
        top, left = (nh - size) // 2, (nw - size) // 2
    x = x[..., top : top + size, left : left + size]
    x = (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    return x.reshape(*lead, 3, size, size)
