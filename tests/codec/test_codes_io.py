"""Codes files round-trip values, dtype and metadata, and reject what is not one."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from maskvat.codec import load_codes, save_codes
from maskvat.errors import MediaError

META = dict(codec_name="tiny", sample_rate=44100, hop_length=512, num_samples=20000)


@pytest.mark.parametrize("shape", [(9, 40), (2, 9, 40)])
def test_round_trip(tmp_path, shape):
    codes = torch.randint(0, 1024, shape, generator=torch.Generator().manual_seed(0))
    codes[..., 0] = 1023  # the largest DAC code survives int16
    path = tmp_path / "c.safetensors"
    save_codes(path, codes, **META)
    back, meta = load_codes(path)
    assert back.dtype == torch.int64 and torch.equal(back, codes)
    assert meta["codec_name"] == "tiny"
    assert (meta["sample_rate"], meta["hop_length"], meta["num_samples"]) == (44100, 512, 20000)
    assert [p.name for p in tmp_path.iterdir()] == ["c.safetensors"]  # no temporary left behind


def test_stored_as_int16(tmp_path):
    from safetensors import safe_open

    save_codes(tmp_path / "c.safetensors", torch.zeros(9, 3, dtype=torch.long), **META)
    with safe_open(str(tmp_path / "c.safetensors"), framework="pt") as f:
        assert f.get_tensor("codes").dtype == torch.int16
        assert f.metadata()["maskvat_codes"] == "1"


def test_rejects_foreign_and_missing_files(tmp_path):
    save_file({"x": torch.zeros(3)}, str(tmp_path / "other.safetensors"))
    (tmp_path / "junk.safetensors").write_bytes(b"junk" * 10)
    save_file({"codes": torch.zeros(9, 3, dtype=torch.int16)}, str(tmp_path / "nometa.safetensors"),
              metadata={"maskvat_codes": "1", "codec_name": "x", "sample_rate": "44100"})
    cases = [("other", "not a maskvat codes file"), ("junk", "not a codes file"), ("none", "no such file"),
             ("nometa", "missing or bad metadata 'hop_length'")]
    for name, problem in cases:
        with pytest.raises(MediaError, match=problem) as info:
            load_codes(tmp_path / f"{name}.safetensors")
        assert f"{name}.safetensors" in str(info.value)


@pytest.mark.parametrize("codes, problem", [
    (torch.zeros(5, dtype=torch.long), "codes must be integer"),
    (torch.zeros(9, 5), "codes must be integer"),
    (torch.full((9, 5), 40000), "codes must lie in"),
    (torch.full((9, 5), -1), "codes must lie in"),
])
def test_save_refuses_bad_codes(tmp_path, codes, problem):
    with pytest.raises(MediaError, match=problem):
        save_codes(tmp_path / "bad.safetensors", codes, **META)
    assert not (tmp_path / "bad.safetensors").exists()


def test_save_into_missing_folder_names_it(tmp_path):
    with pytest.raises(MediaError, match="does not exist"):
        save_codes(tmp_path / "nope" / "c.safetensors", torch.zeros(9, 2, dtype=torch.long), **META)
