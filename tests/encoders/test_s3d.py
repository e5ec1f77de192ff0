"""S3D: torchvision's state dict loads as it is; the sync encoder's shapes and rates."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from maskvat.encoders.registry import load_encoder
from maskvat.encoders.s3d import S3D, S3DVideoEncoder
from maskvat.errors import MaskvatError

KEYS = Path(__file__).parent / "data" / "s3d_torchvision_keys.txt"


@pytest.fixture(scope="module")
def network():
    torch.manual_seed(0)
    return S3D().eval()


def test_state_dict_keys_and_shapes_equal_torchvision(network):
    expected = [line for line in KEYS.read_text().splitlines() if not line.startswith("#")]
    ours = [f"{k} {'x'.join(map(str, v.shape)) or 'scalar'}" for k, v in network.state_dict().items()]
    assert len(expected) == 464
    assert ours == expected


def test_pth_and_folder_loading_and_features(network, tmp_path):
    torch.save(network.state_dict(), tmp_path / "s3d.pth")
    encoder = load_encoder("s3d-kinetics400", str(tmp_path / "s3d.pth"))
    encoder.config.size, encoder.config.resize = 64, 73  # small frames keep the test fast (256 -> 224 scaled)
    frames = np.random.default_rng(0).integers(0, 255, size=(2, 16, 80, 96, 3), dtype=np.uint8)
    feats = encoder.encode_frames(frames)
    assert feats.shape == (2, 2, 1024)  # 16 frames at 25 fps -> 2 features at 3.125 per second
    assert encoder.config.rate == 25 / 8 and encoder.config.dim == 1024
    encoder.save_pretrained(tmp_path / "saved")
    again = S3DVideoEncoder.from_pretrained(tmp_path / "saved")
    assert again.config.size == 64
    torch.testing.assert_close(again.encode_frames(frames), feats)


def test_bad_weights_are_refused(tmp_path):
    torch.save({"not": torch.zeros(1)}, tmp_path / "x.pth")
    (tmp_path / "junk.pth").write_bytes(b"junk")
    for path, problem in [(tmp_path / "x.pth", "not an S3D state dict"), (tmp_path / "junk.pth", "not a PyTorch"),
                          (tmp_path / "none.pth", "no such file")]:
        with pytest.raises(MaskvatError, match=problem):
            S3DVideoEncoder.from_pretrained(path)
    with pytest.raises(MaskvatError, match="needs weights"):
        load_encoder("s3d-kinetics400")
    with pytest.raises(MaskvatError, match="unknown encoder"):
        load_encoder("beats-v9")
