"""Augmentation for the encoders' self-supervised training on footage (``maskvat fit``).

An hour of one user's footage is a few hundred windows: the sync judge and the semantic pair
learn them by heart (the Greatest Hits fit: training loss 0.003, within-one-class offset accuracy
0.27 on the val files). Each window is changed at random in ways that keep what the encoder
must read: a window's frames all get one crop, one flip and one colour change (the motion and
its timing are untouched), and its log-mel loses one random block of bands (SpecAugment's
frequency mask, Park et al. 2019; its timing is untouched too). The offsets and the pairing are
those of the window before augmentation.

Pure functions of a numpy generator: a training step seeded by (seed, step) draws the same
augmentation again after a resume.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from maskvat.errors import MaskvatError


@dataclass(frozen=True)
class Augment:
    """What one window may undergo; ``Augment.off()`` changes nothing.

    flip: probability of a horizontal flip; min_crop: the square crop's side as a fraction of
    the frame's side, drawn in [min_crop, 1] (then resized back); brightness, contrast,
    saturation: each a factor drawn in [1 - x, 1 + x]; mel_mask: the most log-mel bands of one
    masked block (0: none)."""

    flip: float = 0.5
    min_crop: float = 0.7
    brightness: float = 0.25
    contrast: float = 0.25
    saturation: float = 0.25
    mel_mask: int = 8

    def __post_init__(self):
        if not 0 <= self.flip <= 1:
            raise MaskvatError(f"augment: flip is a probability in [0, 1], not {self.flip}")
        if not 0 < self.min_crop <= 1:
            raise MaskvatError(f"augment: min_crop is a fraction in (0, 1], not {self.min_crop}")
        for name in ("brightness", "contrast", "saturation"):
            if not 0 <= getattr(self, name) < 1:
                raise MaskvatError(f"augment: {name} is in [0, 1), not {getattr(self, name)}")
        if self.mel_mask < 0:
            raise MaskvatError(f"augment: mel_mask is a number of bands >= 0, not {self.mel_mask}")

    @classmethod
    def off(cls) -> Augment:
        return cls(flip=0.0, min_crop=1.0, brightness=0.0, contrast=0.0, saturation=0.0, mel_mask=0)

    @classmethod
    def from_setting(cls, setting: bool | dict) -> Augment:
        """A config's ``augment``: false (off), true (these defaults) or a dict of fields."""
        if setting is True:
            return cls()
        if setting is False or setting is None:
            return cls.off()
        if isinstance(setting, dict):
            unknown = sorted(set(setting) - set(cls.__dataclass_fields__))
            if unknown:
                raise MaskvatError(f"augment: unknown field(s) {', '.join(unknown)} "
                                   f"(known: {', '.join(cls.__dataclass_fields__)})")
            return cls(**setting)
        raise MaskvatError(f"augment: true, false or a dict of fields, not {setting!r}")


def augment_frames(frames: torch.Tensor, rng: np.random.Generator, aug: Augment) -> torch.Tensor:
    """frames [B, F, S, S, 3] uint8 -> the same shape and dtype, each window's F frames changed alike:
    a square crop of side c*S at a random place (c in [min_crop, 1]) resized back to S (bilinear,
    one batched ``grid_sample``), a horizontal flip, then brightness, contrast (about the window's mean grey) and saturation
    (about each pixel's grey), clipped to [0, 255]."""
    if frames.ndim != 5 or frames.shape[-1] != 3 or frames.shape[2] != frames.shape[3]:
        raise MaskvatError(f"augment_frames: frames must be [B, F, S, S, 3], not {list(frames.shape)}")
    b, n, s = frames.shape[:3]
    crop = rng.uniform(aug.min_crop, 1.0, size=b)
    corner = rng.uniform(0.0, 1.0, size=(b, 2))
    flip = rng.uniform(size=b) < aug.flip
    bright, contrast, sat = (rng.uniform(1 - x, 1 + x, size=b) for x in (aug.brightness, aug.contrast, aug.saturation))
    # crop and flip as one affine resampling of each window's F frames (stacked as channels): output
    # x in [-1, 1] reads input x * side + centre (mirrored where flipped), as a crop-then-resize
    centre = (2 * corner - 1) * (1 - crop)[:, None]  # [B, 2]: (x, y) of the crop's centre
    theta = np.zeros((b, 2, 3), dtype=np.float32)
    theta[:, 0, 0] = np.where(flip, -crop, crop)
    theta[:, 1, 1] = crop
    theta[:, :, 2] = centre
    x = frames.permute(0, 1, 4, 2, 3).reshape(b, n * 3, s, s).float()  # [B, F * 3, S, S]
    grid = F.affine_grid(torch.from_numpy(theta), [b, n * 3, s, s], align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False).view(b, n, 3, s, s)
    # brightness k, saturation a about each pixel's grey g, contrast c about the window's mean grey m
    # (saturation keeps g, so m is that of the input): k * (c * a * x + c * (1 - a) * g + (1 - c) * m)
    grey = (0.299 * x[:, :, 0] + 0.587 * x[:, :, 1] + 0.114 * x[:, :, 2]).unsqueeze(2)  # [B, F, 1, S, S]
    mean = grey.mean(dim=(1, 2, 3, 4), keepdim=True)
    view = lambda v: x.new_tensor(v).view(b, 1, 1, 1, 1)
    k, a, c = view(bright), view(sat), view(contrast)
    x.mul_(k * c * a).add_(grey * (k * c * (1 - a)) + (k * (1 - c)) * mean)  # in place: the largest tensor here
    x.clamp_(0, 255).round_()
    return x.to(torch.uint8).permute(0, 1, 3, 4, 2).contiguous()  # [B, F, S, S, 3]


def mask_mel_bands(mel: torch.Tensor, rng: np.random.Generator, aug: Augment) -> torch.Tensor:
    """mel [B, M, T] (log-mel) -> a copy with, per window, one block of 0..mel_mask adjacent bands
    set to that window's lowest value (SpecAugment's frequency mask)."""
    if mel.ndim != 3:
        raise MaskvatError(f"mask_mel_bands: mel must be [B, M, T], not {list(mel.shape)}")
    b, m = mel.shape[:2]
    width = rng.integers(0, min(aug.mel_mask, m) + 1, size=b)
    start = rng.integers(0, m - width + 1)
    out = mel.clone()
    floor = mel.amin(dim=(1, 2))
    for i in range(b):
        out[i, start[i] : start[i] + width[i]] = floor[i]
    return out


def augment_windows(frames: torch.Tensor, mel: torch.Tensor, setting: bool | dict, seed: int,
                    step: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A trainer's batch (frames [B, F, S, S, 3] uint8, mel [B, M, T]) augmented as a config's
    ``augment`` says, from a generator seeded by (seed, step, 1): the windows were drawn from
    (seed, step), so they are those an unaugmented run draws, and a resumed run redraws the same."""
    aug = Augment.from_setting(setting)
    if aug == Augment.off():
        return frames, mel
    rng = np.random.default_rng([seed, step, 1])
    return augment_frames(frames, rng, aug), mask_mel_bands(mel, rng, aug)
