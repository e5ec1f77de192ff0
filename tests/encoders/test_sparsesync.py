"""SparseSync's S3D (the paper's sync encoder): its checkpoint layout loads, and the loaded
network computes what SparseSync's modules compute with the same weights.

``KyleminS3D`` below restates SparseSync's module tree (model/modules/feat_extractors/visual/
s3d.py, adapted from kylemin/S3D: BasicConv3d conv/bn, SepConv3d conv_s/bn_s/conv_t/bn_t,
Mixed_* branch0..3, ``base`` Sequential) and its ConvBridgeVisual (Sequential(Conv3d, GELU)),
so that its state dict has SparseSync's key names and its forward SparseSync's order."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from torch import nn

from checkpoint_helpers import foreign_object
from maskvat.encoders.registry import load_encoder
from maskvat.encoders.sparsesync import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    SparseSyncS3D,
    SparseSyncVideoEncoder,
)
from maskvat.errors import MaskvatError

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class BasicConv3d(nn.Module):
    def __init__(self, cin, cout, k, s=1, p=0):
        super().__init__()
        self.conv = nn.Conv3d(cin, cout, k, stride=s, padding=p, bias=False)
        self.bn = nn.BatchNorm3d(cout, eps=1e-3, momentum=1e-3)
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(self.bn(self.conv(x)))


class SepConv3d(nn.Module):
    def __init__(self, cin, cout, k, s=1, p=0):
        super().__init__()
        self.conv_s = nn.Conv3d(cin, cout, (1, k, k), stride=(1, s, s), padding=(0, p, p), bias=False)
        self.bn_s = nn.BatchNorm3d(cout, eps=1e-3, momentum=1e-3)
        self.relu_s = nn.ReLU()
        self.conv_t = nn.Conv3d(cout, cout, (k, 1, 1), stride=(s, 1, 1), padding=(p, 0, 0), bias=False)
        self.bn_t = nn.BatchNorm3d(cout, eps=1e-3, momentum=1e-3)
        self.relu_t = nn.ReLU()

    def forward(self, x):
        return self.relu_t(self.bn_t(self.conv_t(self.relu_s(self.bn_s(self.conv_s(x))))))


class Mixed(nn.Module):
    def __init__(self, cin, b0, b1m, b1, b2m, b2, b3):
        super().__init__()
        self.branch0 = nn.Sequential(BasicConv3d(cin, b0, 1))
        self.branch1 = nn.Sequential(BasicConv3d(cin, b1m, 1), SepConv3d(b1m, b1, 3, 1, 1))
        self.branch2 = nn.Sequential(BasicConv3d(cin, b2m, 1), SepConv3d(b2m, b2, 3, 1, 1))
        self.branch3 = nn.Sequential(nn.MaxPool3d(3, stride=1, padding=1), BasicConv3d(cin, b3, 1))

    def forward(self, x):
        return torch.cat([self.branch0(x), self.branch1(x), self.branch2(x), self.branch3(x)], 1)


class KyleminS3D(nn.Module):
    """SparseSync's S3DVisualFeatures: (B, T, C, H, W) -> base -> (B, t, 1024, h, w)."""

    def __init__(self):
        super().__init__()
        mixed = {"3b": (192, 64, 96, 128, 16, 32, 32), "3c": (256, 128, 128, 192, 32, 96, 64),
                 "4b": (480, 192, 96, 208, 16, 48, 64), "4c": (512, 160, 112, 224, 24, 64, 64),
                 "4d": (512, 128, 128, 256, 24, 64, 64), "4e": (512, 112, 144, 288, 32, 64, 64),
                 "4f": (528, 256, 160, 320, 32, 128, 128), "5b": (832, 256, 160, 320, 32, 128, 128),
                 "5c": (832, 384, 192, 384, 48, 128, 128)}
        self.base = nn.Sequential(
            SepConv3d(3, 64, 7, 2, 3), nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),
            BasicConv3d(64, 64, 1), SepConv3d(64, 192, 3, 1, 1),
            nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),
            Mixed(*mixed["3b"]), Mixed(*mixed["3c"]), nn.MaxPool3d(3, stride=2, padding=1),
            *(Mixed(*mixed[k]) for k in ("4b", "4c", "4d", "4e", "4f")), nn.MaxPool3d(2, stride=2),
            Mixed(*mixed["5b"]), Mixed(*mixed["5c"]))
        self.fc = nn.Sequential(nn.Conv3d(1024, 400, 1, bias=True))

    def forward(self, x):
        return self.base(x.permute(0, 2, 1, 3, 4)).permute(0, 2, 1, 3, 4)


class AVSyncVisualPart(nn.Module):
    """The visual half of SparseSync's AVSyncModel, plus a stand-in for the parts not read."""

    def __init__(self):
        super().__init__()
        self.vfeat_extractor = KyleminS3D()
        self.v_bridge = nn.Module()
        self.v_bridge.bridge = nn.Sequential(nn.Conv3d(1024, 512, 1, bias=True), nn.GELU())
        self.afeat_extractor = nn.Conv2d(1, 4, 3)  # not read
        self.transformer = nn.Linear(512, 21)  # not read

    def forward(self, vis):  # vis (B, Tv, C, H, W) -> (B, t, 512, h, w), as AVSyncModel.forward
        v = self.vfeat_extractor(vis)
        return self.v_bridge.bridge(v.permute(0, 2, 1, 3, 4)).permute(0, 2, 1, 3, 4)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    torch.manual_seed(0)
    ref = AVSyncVisualPart().eval()
    with torch.no_grad():
        for m in ref.modules():
            if isinstance(m, nn.BatchNorm3d):  # non-trivial statistics, so a misplaced BN shows
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.1, 0.1)
    path = tmp_path_factory.mktemp("sparsesync") / "22-09-21T21-00-52.pt"
    # as SparseSync's training writes it: numpy floats in "metrics", its OmegaConf config object under
    # "args" (here of a module this process cannot import once saved, as omegaconf is not installed)
    torch.save({"model": ref.state_dict(), "epoch": 3, "metrics": {"accuracy_1": np.float64(0.4)},
                "args": foreign_object("_sparsesync_config_lib")}, path)
    del sys.modules["_sparsesync_config_lib"]
    return ref, path


def test_checkpoint_maps_one_to_one_and_computes_as_sparsesync(reference):
    ref, path = reference
    encoder = load_encoder("s3d-sparsesync", str(path))
    assert isinstance(encoder, SparseSyncVideoEncoder)
    trunk = [k for k in ref.state_dict() if k.startswith("vfeat_extractor.base.")]
    assert len(trunk) == len(encoder.network.features.state_dict()) == 462
    video = torch.randn(1, 16, 3, 64, 64)  # (B, Tv, C, H, W) normalised, as SparseSync's forward takes
    with torch.no_grad():
        want = ref(video)  # (B, t, 512, h, w)
        got = encoder.network(video.permute(0, 2, 1, 3, 4))  # (B, 512, t, h, w)
    assert got.shape == (1, 512, 2, 2, 2)
    torch.testing.assert_close(got, want.permute(0, 2, 1, 3, 4), atol=1e-5, rtol=1e-4)


def test_encoder_config_shapes_and_preprocessing(reference):
    _, path = reference
    encoder = load_encoder("s3d-sparsesync", str(path))
    c = encoder.config
    assert (c.name, c.dim, c.fps, c.rate, c.size, c.resize, c.keep_aspect) == \
        ("s3d-sparsesync", 512, 25.0, 3.125, 224, 256, True)
    c.size, c.resize = 64, 80  # small frames keep the test fast (the network is size-agnostic); 256 -> 224 scaled
    frames = np.random.default_rng(0).integers(0, 255, size=(1, 16, 80, 101, 3), dtype=np.uint8)
    feats = encoder.encode_frames(frames)
    assert feats.shape == (1, 2, 512)  # 16 frames at 25 fps -> 2 steps at 3.125/s
    # frames at the decode size (short side 80) are only centre-cropped (offsets rounded) and normalised
    crop = torch.from_numpy(frames[0, :, 8:72, 18:82]).float() / 255
    x = (crop - torch.tensor(IMAGENET_MEAN)) / torch.tensor(IMAGENET_STD)
    with torch.no_grad():
        direct = encoder.network(x.permute(3, 0, 1, 2)[None]).mean(dim=(3, 4)).transpose(1, 2)
    torch.testing.assert_close(feats, direct, atol=1e-5, rtol=1e-4)


def test_bad_checkpoints_are_refused(tmp_path, reference):
    ref, _ = reference
    state = ref.state_dict()
    no_bridge = {k: v for k, v in state.items() if not k.startswith("v_bridge.")}
    torch.save({"model": no_bridge}, tmp_path / "nobridge.pt")
    torch.save(SparseSyncS3D().features.state_dict(), tmp_path / "plain.pt")
    torch.save({"model": {k: v[:1] if k.endswith("conv_s.weight") else v for k, v in state.items()}},
               tmp_path / "shape.pt")
    for name, problem in [("nobridge.pt", "not a SparseSync checkpoint"), ("plain.pt", "not a SparseSync checkpoint"),
                          ("shape.pt", "wrong shape"), ("none.pt", "no such file")]:
        with pytest.raises(MaskvatError, match=problem):
            load_encoder("s3d-sparsesync", str(tmp_path / name))
    with pytest.raises(MaskvatError, match="SparseSync checkpoint"):
        load_encoder("s3d-sparsesync")
