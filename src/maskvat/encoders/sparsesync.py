"""The paper's sync encoder: SparseSync's S3D, fine-tuned for audio-visual offset detection
(Iashin et al., BMVC 2022; paper 3.2.1), with its 512-d visual bridge.

SparseSync (v-iashin/SparseSync) starts from the Kinetics-400 S3D and trains it with its
offset classifier. Its checkpoint is a torch file whose ``model`` holds the whole
``AVSyncModel``; the parts read here are

  vfeat_extractor.base.*     the S3D trunk (``model/modules/feat_extractors/visual/s3d.py``,
                             kylemin/S3D naming: conv_s/bn_s/conv_t/bn_t, conv/bn, Mixed_*)
  v_bridge.bridge.0.{weight,bias}   Conv3d(1024, 512, 1x1x1), followed by GELU
                             (``model/modules/bridges.py`` ConvBridgeVisual; configs/sparse_sync.yaml)

so S3D's 1024 channels become the 512 the paper states: v_S3D in R^{N x 512 x h x w},
average-pooled over space to [N, 512]. The trunk is mapped onto our S3D module (torchvision's
names); everything else in the file (audio ResNet, selectors, classifier) is not used.

Preprocessing as SparseSync's test transforms: video at 25 fps with its short side resized
to 256 (its re-encoding step), centre crop 224, ImageNet mean/std. frames [B, N, H, W, 3]
uint8 at 25 fps -> [B, ~N/8, 512] at 25/8 = 3.125 features per second (SparseSync reads
5 s = 125 frames -> 16 steps; a 10 s clip gives 31).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from maskvat.encoders.base import EncoderConfig, frames_to_tensor
from maskvat.encoders.s3d import S3D
from maskvat.errors import MaskvatError
from maskvat.weights import load_checkpoint

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
FPS = 25.0
RESIZE = 256
SIZE = 224
TRUNK = "vfeat_extractor."
BRIDGE = "v_bridge.bridge.0."

# kylemin/SparseSync module names inside an S3D block -> torchvision's Sequential indices.
_RENAMES = [
    (re.compile(r"\.conv_s\."), ".0.0."), (re.compile(r"\.bn_s\."), ".0.1."),
    (re.compile(r"\.conv_t\."), ".1.0."), (re.compile(r"\.bn_t\."), ".1.1."),
    (re.compile(r"\.conv\."), ".0."), (re.compile(r"\.bn\."), ".1."),
]


def trunk_key_to_torchvision(key: str) -> str:
    """``base.5.branch1.1.conv_s.weight`` (SparseSync, under vfeat_extractor.) ->
    ``features.5.branch1.1.0.0.weight`` (torchvision). Branch 0 of an Inception block is a
    one-layer Sequential in SparseSync and the layer itself in torchvision."""
    if not key.startswith("base."):
        raise KeyError(key)
    out = "features." + key[len("base."):]
    out = re.sub(r"\.branch0\.0\.", ".branch0.", out)
    for pattern, repl in _RENAMES:
        out = pattern.sub(repl, out)
    return out


class SparseSyncS3D(nn.Module):
    """S3D trunk -> Conv3d(1024, 512, 1) -> GELU. ``forward``: video [B, 3, T, H, W]
    (normalised) -> [B, 512, T/8, H/32, W/32]."""

    dim = 512

    def __init__(self):
        super().__init__()
        self.features = S3D().features  # the trunk, torchvision's names (its classifier is not kept)
        self.bridge = nn.Conv3d(S3D.feature_dim, self.dim, kernel_size=1, bias=True)

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.bridge(self.features(video)))

    def load_sparsesync_state(self, model_state: dict, source: str = "checkpoint") -> None:
        """Load the ``vfeat_extractor.base.*`` and ``v_bridge.bridge.0.*`` entries of a SparseSync
        ``model`` state dict (a leading ``module.`` is allowed); every trunk and bridge tensor
        must be there with its shape."""
        state = {k[len("module."):] if k.startswith("module.") else k: v for k, v in model_state.items()}
        trunk = {}
        for k, v in state.items():
            if k.startswith(TRUNK + "base."):
                trunk[trunk_key_to_torchvision(k[len(TRUNK):])] = v
        ours = {"features." + k for k in self.features.state_dict()}
        missing = sorted(ours - trunk.keys())
        unexpected = sorted(trunk.keys() - ours)
        bridge = {k[len(BRIDGE):]: v for k, v in state.items() if k.startswith(BRIDGE)}
        if set(bridge) != {"weight", "bias"}:
            missing.append(BRIDGE + "{weight,bias}")
        if missing or unexpected:
            raise MaskvatError(f"{source}: not a SparseSync checkpoint (missing {missing[:3]}, "
                               f"unexpected {unexpected[:3]}; expected {TRUNK}base.* and {BRIDGE}* under 'model')")
        try:
            self.features.load_state_dict({k[len("features."):]: v for k, v in trunk.items()})
            self.bridge.load_state_dict(bridge)
        except RuntimeError as exc:  # shape mismatch
            raise MaskvatError(f"{source}: SparseSync weights of the wrong shape ({str(exc).splitlines()[-1][:160]})") \
                from None


class SparseSyncVideoEncoder(nn.Module):
    """Sync video features (S3D role, the paper's): frames [B, N, H, W, 3] uint8 at 25 fps
    -> [B, N_out, 512] at 3.125/s, N_out = S3D's temporal length (N/8 rounded as its pools do)."""

    def __init__(self, network: SparseSyncS3D, source: str | None = None):
        super().__init__()
        self.network = network.eval()
        self.config = EncoderConfig(name="s3d-sparsesync", modality="video", dim=SparseSyncS3D.dim, rate=FPS / 8,
                                    fps=FPS, size=SIZE, source=source, resize=RESIZE, keep_aspect=True)

    @classmethod
    def from_pretrained(cls, source: str | os.PathLike) -> "SparseSyncVideoEncoder":
        """``source``: a SparseSync checkpoint (a torch file with the AVSyncModel state dict under
        ``model``, e.g. the published ``22-09-21T21-00-52.pt``)."""
        path = Path(source)
        if not path.is_file():
            raise MaskvatError(f"cannot load SparseSync weights from {str(source)!r}: no such file "
                               "(pass a SparseSync checkpoint .pt, whose 'model' holds vfeat_extractor.* keys)")
        ckpt = load_checkpoint(path, "a SparseSync checkpoint")  # its "args" (OmegaConf) and "metrics" are not read
        if not (isinstance(ckpt, dict) and isinstance(ckpt.get("model"), dict)):
            raise MaskvatError(f"{path}: not a SparseSync checkpoint (expected a dict with its state dict under 'model')")
        network = SparseSyncS3D()
        network.load_sparsesync_state(ckpt["model"], str(path))
        return cls(network, str(path))

    @torch.no_grad()
    def encode_frames(self, frames) -> torch.Tensor:
        """frames [B, N, H, W, 3] uint8 at 25 fps (N >= 8) -> [B, N_out, 512]."""
        c = self.config
        x = frames_to_tensor(frames, c.size, IMAGENET_MEAN, IMAGENET_STD, resize=c.resize, keep_aspect=c.keep_aspect,
                             interpolation="bicubic", antialias=True, crop="round")  # [B, N, 3, S, S]
        x = x.permute(0, 2, 1, 3, 4).to(next(self.network.parameters()).device)  # [B, 3, N, S, S]
        return self.network(x).mean(dim=(3, 4)).transpose(1, 2)
