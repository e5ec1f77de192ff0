"""What every encoder shares: a config (rate, dims, input) and frame preprocessing.

Video encoders map frames [B, N, H, W, 3] uint8 (read at ``config.fps``) to a feature
sequence [B, N_out, dim] at ``config.rate`` features per second.
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


def frames_to_tensor(frames, size: int, mean, std) -> torch.Tensor:
    """frames [..., H, W, 3] uint8 -> [..., 3, size, size] float, normalised.

    Resize the short side to ``size`` (bicubic, antialiased), centre-crop, (x/255 - mean)/std.
    """
    x = torch.as_tensor(frames)
    lead = x.shape[:-3]
    x = x.reshape(-1, *x.shape[-3:]).permute(0, 3, 1, 2).float() / 255.0  # [M, 3, H, W]
    h, w = x.shape[-2:]
    scale = size / min(h, w)
    nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
    if (nh, nw) != (h, w):
        x = F.interpolate(x, size=(nh, nw), mode="bicubic", antialias=True, align_corners=False).clamp(0, 1)
    top, left = (nh - size) // 2, (nw - size) // 2
    x = x[..., top : top + size, left : left + size]
    x = (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    return x.reshape(*lead, 3, size, size)
