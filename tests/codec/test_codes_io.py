"""Codes files round-trip values, dtype and metadata, and reject what is not one."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from maskvat.codec import load_codes, save_codes
from maskvat.errors import MediaError


@pytest.mark.parametrize("shape", [(9, 40), (2, 9, 40)])
def test_round_trip(tmp_path, shape):
    codes = torch.randint(0, 1024, shape, generator=torch.Generator().manual_seed(0))
    path = tmp_path / "c.safetensors"
    save_codes(path, codes, codec_name="tiny", sample_rate=44100, hop_length=512, num_samples=20000)
    back, meta = load_codes(path)
    assert back.dtype == torch.int64 and torch.equal(back, codes)
    assert meta["codec_name"] == "tiny"
    assert (meta["sample_rate"], meta["hop_length"], meta["num_samples"]) == (44100, 512, 20000)


def test_rejects_foreign_and_missing_files(tmp_path):
    save_file({"x": torch.zeros(3)}, str(tmp_path / "other.safetensors"))
    (tmp_path / "junk.safetensors").write_bytes(b"junk" * 10)
    for name, problem in [("other", "not a maskvat codes file"), ("junk", "not a codes file"), ("none", "no such file")]:
        with pytest.raises(MediaError, match=problem):
            load_codes(tmp_path / f"{name}.safetensors")
    with pytest.raises(MediaError, match="codes must be"):
        save_codes(tmp_path / "bad.safetensors", torch.zeros(5), codec_name="x", sample_rate=1, hop_length=1,
                   num_samples=1)
    assert not (tmp_path / "bad.safetensors").exists()
