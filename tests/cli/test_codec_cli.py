"""``maskvat codec encode|decode`` end to end with a locally saved codec."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from maskvat.cli.main import main
from maskvat.codec import AudioTokenizer, load_codes


@pytest.fixture(scope="module")
def codec_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("codec") / "tiny"
    AudioTokenizer.from_preset("tiny").save_pretrained(path)
    return path


def test_encode_then_decode_keeps_length(tmp_path, codec_dir, capsys):
    wav = (np.random.default_rng(0).standard_normal(30000) * 0.1).astype(np.float32)
    sf.write(tmp_path / "in.wav", wav, 44100)
    codes = tmp_path / "in.safetensors"
    assert main(["codec", "encode", str(tmp_path / "in.wav"), "-o", str(codes), "--codec", str(codec_dir)]) == 0
    assert "K=9, L=59" in capsys.readouterr().out
    assert load_codes(codes)[0].shape == (9, 59)
    out = tmp_path / "out.flac"
    assert main(["codec", "decode", str(codes), "-o", str(out), "--codec", str(codec_dir)]) == 0
    back, sr = sf.read(out)
    assert sr == 44100 and len(back) == 30000


def _one_line_error(capsys, *needles):
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    for needle in needles:
        assert needle in err


def test_default_codec_offline_is_one_clear_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    sf.write(tmp_path / "in.wav", np.zeros(1000, np.float32), 44100)
    assert main(["codec", "encode", str(tmp_path / "in.wav"), "-o", str(tmp_path / "c.safetensors")]) == 2
    _one_line_error(capsys, "descript/dac_44khz", "--codec PATH")
    assert not (tmp_path / "c.safetensors").exists()


def test_missing_input_and_bad_output(tmp_path, codec_dir, capsys):
    missing = tmp_path / "missing.wav"
    assert main(["codec", "encode", str(missing), "-o", str(tmp_path / "c.safetensors"), "--codec", str(codec_dir)]) == 2
    _one_line_error(capsys, str(missing), "no such file")
    sf.write(tmp_path / "in.wav", np.zeros(1000, np.float32), 44100)
    assert main(["codec", "encode", str(tmp_path / "in.wav"), "-o", str(tmp_path / "c.npz")]) == 2
    _one_line_error(capsys, "end in .safetensors")
    assert main(["codec", "decode", str(tmp_path / "in.wav"), "-o", str(tmp_path / "x.wav"), "--codec", str(codec_dir)]) == 2
    _one_line_error(capsys, "not a codes file")
