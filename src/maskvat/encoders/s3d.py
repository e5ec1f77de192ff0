"""S3D (Xie et al., ECCV 2018): separable 3D convolutions in Inception blocks.

Module names follow the Kinetics-400 S3D published with torchvision
(``torchvision.models.video.s3d``), so its state dict loads here as it is, with no
torchvision dependency. Shapes: video [B, 3, T, H, W] -> ``features`` [B, 1024, T/8, H/32, W/32].
``S3DVideoEncoder`` ("s3d-kinetics400") pools them spatially: [B, T/8, 1024]. The paper's
own sync encoder is SparseSync's fine-tuned S3D with its 512-d bridge (``sparsesync.py``).
"""

from __future__ import annotations

import torch
from torch import nn

from maskvat.encoders.base import EncoderConfig, frames_to_tensor
from maskvat.errors import MaskvatError

# Preprocessing of torchvision's S3D_Weights.KINETICS400_V1 (transforms._presets.VideoClassification):
# frames squashed to 256 x 256 (bilinear, no antialias), centre crop 224, Kinetics-400 mean/std.
KINETICS_MEAN = (0.43216, 0.394666, 0.37645)
KINETICS_STD = (0.22803, 0.22145, 0.216989)
KINETICS_RESIZE = 256


class ConvBNReLU3d(nn.Sequential):
    """Conv3d (no bias) -> BatchNorm3d (eps 1e-3, momentum 1e-3) -> ReLU; keys 0.*, 1.*."""

    def __init__(self, cin: int, cout: int, kernel, stride=1, padding=0):
        super().__init__(
            nn.Conv3d(cin, cout, kernel, stride=stride, padding=padding, bias=False),
            nn.BatchNorm3d(cout, eps=1e-3, momentum=1e-3),
            nn.ReLU(inplace=True),
        )


class SeparableConv3d(nn.Sequential):
    """A k x k spatial conv, then a k x 1 x 1 temporal one (both with BN and ReLU)."""

    def __init__(self, cin: int, cout: int, k: int, stride: int, padding: int):
        super().__init__(
            ConvBNReLU3d(cin, cout, (1, k, k), (1, stride, stride), (0, padding, padding)),
            ConvBNReLU3d(cout, cout, (k, 1, 1), (stride, 1, 1), (padding, 0, 0)),
        )


class SeparableInception3d(nn.Module):
    """Four branches concatenated on channels: 1x1; 1x1 -> sep3; 1x1 -> sep3; maxpool -> 1x1."""

    def __init__(self, cin: int, b0: int, b1_mid: int, b1: int, b2_mid: int, b2: int, b3: int):
        super().__init__()
        self.branch0 = ConvBNReLU3d(cin, b0, 1)
        self.branch1 = nn.Sequential(ConvBNReLU3d(cin, b1_mid, 1), SeparableConv3d(b1_mid, b1, 3, 1, 1))
        self.branch2 = nn.Sequential(ConvBNReLU3d(cin, b2_mid, 1), SeparableConv3d(b2_mid, b2, 3, 1, 1))
        self.branch3 = nn.Sequential(nn.MaxPool3d(3, stride=1, padding=1), ConvBNReLU3d(cin, b3, 1))
        self.out_channels = b0 + b1 + b2 + b3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch0(x), self.branch1(x), self.branch2(x), self.branch3(x)], dim=1)


# (in, b0, b1_mid, b1, b2_mid, b2, b3) of the Inception blocks, in order (Mixed_3b ... Mixed_5c).
_INCEPTION = {
    "3b": (192, 64, 96, 128, 16, 32, 32),
    "3c": (256, 128, 128, 192, 32, 96, 64),
    "4b": (480, 192, 96, 208, 16, 48, 64),
    "4c": (512, 160, 112, 224, 24, 64, 64),
    "4d": (512, 128, 128, 256, 24, 64, 64),
    "4e": (512, 112, 144, 288, 32, 64, 64),
    "4f": (528, 256, 160, 320, 32, 128, 128),
    "5b": (832, 256, 160, 320, 32, 128, 128),
    "5c": (832, 384, 192, 384, 48, 128, 128),
}


class S3D(nn.Module):
    """The S3D network. ``features``: [B, 3, T, H, W] -> [B, 1024, T/8, H/32, W/32];
    ``forward`` adds torchvision's head (avg pool 2x7x7, dropout, 1x1x1 conv) -> [B, classes]."""

    feature_dim = 1024

    def __init__(self, num_classes: int = 400, dropout: float = 0.2):
        super().__init__()
        self.features = nn.Sequential(
            SeparableConv3d(3, 64, 7, 2, 3),
            nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),
            ConvBNReLU3d(64, 64, 1),
            SeparableConv3d(64, 192, 3, 1, 1),
            nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),
            SeparableInception3d(*_INCEPTION["3b"]),
            SeparableInception3d(*_INCEPTION["3c"]),
            nn.MaxPool3d(3, stride=2, padding=1),
            *(SeparableInception3d(*_INCEPTION[k]) for k in ("4b", "4c", "4d", "4e", "4f")),
            nn.MaxPool3d(2, stride=2),
            SeparableInception3d(*_INCEPTION["5b"]),
            SeparableInception3d(*_INCEPTION["5c"]),
        )
        self.avgpool = nn.AvgPool3d((2, 7, 7), stride=1)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Conv3d(1024, num_classes, 1, bias=True))

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        x = self.classifier(self.avgpool(self.features(video)))
        return x.mean(dim=(2, 3, 4))

    def pooled_features(self, video: torch.Tensor) -> torch.Tensor:
        """video [B, 3, T, H, W] (normalised) -> [B, T/8, 1024], spatially average-pooled."""
        return self.features(video).mean(dim=(3, 4)).transpose(1, 2)


class S3DVideoEncoder(nn.Module):
    """Sync video features (S3D role): frames [B, N, H, W, 3] uint8 at ``fps`` -> [B, N/8, 1024].

    Frames are prepared as torchvision's Kinetics-400 S3D transform does: resized to
    256 x 256 (aspect not kept), centre crop 224, Kinetics mean/std.

    Weights: torchvision's Kinetics-400 S3D state dict (a ``.pth`` file, e.g. the published
    ``s3d-d76dad2f.pth``), or a folder written by ``save_pretrained`` (SparseSync-style
    fine-tuned weights converted to the same keys load the same way).
    """

    def __init__(self, network: S3D, config):
        super().__init__()
        self.network = network.eval()
        self.config = config

    @classmethod
    def default_config(cls, source: str | None = None, fps: float = 25.0, size: int = 224):
        return EncoderConfig(name="s3d-kinetics400", modality="video", dim=S3D.feature_dim, rate=fps / 8, fps=fps,
                             size=size, source=source, resize=KINETICS_RESIZE * size // 224, keep_aspect=False)

    @classmethod
    def from_pretrained(cls, source, *, fps: float = 25.0, size: int = 224) -> "S3DVideoEncoder":
        from pathlib import Path

        from safetensors.torch import load_file

        path = Path(source)
        if path.is_dir():
            config = EncoderConfig.load(path)
            state = load_file(str(path / "model.safetensors"))
        elif path.is_file():
            config = cls.default_config(str(path), fps, size)
            try:
                state = torch.load(str(path), map_location="cpu", weights_only=True)
            except Exception as exc:  # torch raises several types for a bad pickle
                raise MaskvatError(f"{path}: not a PyTorch state dict ({str(exc).splitlines()[0][:120]})") from None
        else:
            raise MaskvatError(f"cannot load S3D weights from {source!r}: no such file or folder")
        network = S3D(num_classes=state["classifier.1.weight"].shape[0] if "classifier.1.weight" in state else 400)
        missing, unexpected = network.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise MaskvatError(f"{source}: not an S3D state dict (missing {missing[:3]}, unexpected {unexpected[:3]})")
        return cls(network, config)

    def save_pretrained(self, folder) -> None:
        from pathlib import Path

        from safetensors.torch import save_file

        Path(folder).mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in self.network.state_dict().items()}, str(Path(folder) / "model.safetensors"))
        self.config.save(folder)

    @torch.no_grad()
    def encode_frames(self, frames) -> torch.Tensor:
        """frames [B, N, H, W, 3] uint8 (N >= 8) -> [B, N // 8 (rounded up), 1024]."""

        c = self.config
        x = frames_to_tensor(frames, c.size, KINETICS_MEAN, KINETICS_STD, resize=c.resize, keep_aspect=c.keep_aspect,
                             interpolation="bilinear", antialias=False, crop="round")  # [B, N, 3, S, S]
        x = x.permute(0, 2, 1, 3, 4).to(next(self.network.parameters()).device)  # [B, 3, N, S, S]
        return self.network.pooled_features(x)
