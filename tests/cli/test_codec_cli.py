"""``maskvat codec encode|decode`` end to end with a locally saved codec."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch

from maskvat.cli.main import main
from maskvat.codec import AudioTokenizer, load_codes, save_codes

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def codec_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("codec") / "tiny"
    AudioTokenizer.from_preset("tiny", seed=0).save_pretrained(path)
    return path


@pytest.fixture
def wav_file(tmp_path):
    wav = (np.random.default_rng(0).standard_normal(30000) * 0.1).astype(np.float32)
    sf.write(tmp_path / "in.wav", wav, 44100)
    return tmp_path / "in.wav"


def _one_line_error(capsys, *needles):
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("maskvat: error: ") and "Traceback" not in err
    for needle in needles:
        assert needle in err


def test_encode_then_decode_keeps_length(tmp_path, wav_file, codec_dir, capsys):
    codes = tmp_path / "in.safetensors"
    assert main(["codec", "encode", str(wav_file), "-o", str(codes), "--codec", str(codec_dir)]) == 0
    out = capsys.readouterr().out
    assert "K=9, L=59" in out and "0.680 s" in out and "86.13 frames/s" in out
    saved, meta = load_codes(codes)
    assert saved.shape == (9, 59)
    assert meta["num_samples"] == 30000 and meta["codec_name"] == str(codec_dir.resolve())
    wav = sf.read(wav_file, dtype="float32")[0]
    assert torch.equal(saved, AudioTokenizer.from_pretrained(codec_dir).encode(wav)[0])  # 16-bit wav is exact here
    for out_name in ("out.flac", "out.wav"):
        assert main(["codec", "decode", str(codes), "-o", str(tmp_path / out_name), "--codec", str(codec_dir)]) == 0
        back, sr = sf.read(tmp_path / out_name)
        assert sr == 44100 and len(back) == 30000
    assert "warning" not in capsys.readouterr().err


def test_decode_warns_when_the_codec_differs(tmp_path, codec_dir, capsys):
    codes = tmp_path / "c.safetensors"
    save_codes(codes, torch.zeros(9, 4, dtype=torch.long), codec_name="descript/dac_44khz", sample_rate=44100,
               hop_length=512, num_samples=2000)
    assert main(["codec", "decode", str(codes), "-o", str(tmp_path / "o.wav"), "--codec", str(codec_dir)]) == 0
    err = capsys.readouterr().err
    assert "warning" in err and "descript/dac_44khz" in err
    assert len(sf.read(tmp_path / "o.wav")[0]) == 2000


def test_paper_codec_offline_is_one_clear_line(tmp_path, wav_file, monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(["codec", "encode", str(wav_file), "-o", str(tmp_path / "c.safetensors"),
                 "--codec", "descript/dac_44khz"]) == 2
    _one_line_error(capsys, "descript/dac_44khz", "--codec PATH")
    assert not (tmp_path / "c.safetensors").exists()


def test_missing_input_and_bad_outputs(tmp_path, wav_file, codec_dir, capsys):
    codec = ["--codec", str(codec_dir)]
    missing = tmp_path / "missing.wav"
    assert main(["codec", "encode", str(missing), "-o", str(tmp_path / "c.safetensors"), *codec]) == 2
    _one_line_error(capsys, str(missing), "no such file")
    assert main(["codec", "encode", str(wav_file), "-o", str(tmp_path / "c.npz"), *codec]) == 2
    _one_line_error(capsys, "end in .safetensors")
    assert main(["codec", "encode", str(wav_file), "-o", str(tmp_path / "no" / "c.safetensors"), *codec]) == 2
    _one_line_error(capsys, "does not exist")
    assert main(["codec", "decode", str(wav_file), "-o", str(tmp_path / "x.wav"), *codec]) == 2
    _one_line_error(capsys, "not a codes file")
    assert main(["codec", "decode", str(missing), "-o", str(tmp_path / "x.wav"), *codec]) == 2
    _one_line_error(capsys, str(missing), "no such file")
    assert not (tmp_path / "x.wav").exists()


def test_decode_refuses_codes_it_cannot_decode(tmp_path, codec_dir, capsys):
    codec = ["--codec", str(codec_dir)]
    batch, other_k = tmp_path / "batch.safetensors", tmp_path / "k4.safetensors"
    meta = dict(codec_name="x", sample_rate=44100, hop_length=512, num_samples=1000)
    save_codes(batch, torch.zeros(2, 9, 2, dtype=torch.long), **meta)
    save_codes(other_k, torch.zeros(4, 2, dtype=torch.long), **meta)
    assert main(["codec", "decode", str(batch), "-o", str(tmp_path / "x.wav"), *codec]) == 2
    _one_line_error(capsys, "holds 2 codegrams")
    assert main(["codec", "decode", str(other_k), "-o", str(tmp_path / "x.wav"), *codec]) == 2
    _one_line_error(capsys, "k4.safetensors", "K=4")
    assert main(["codec", "decode", str(batch), "-o", str(tmp_path / "x.mp3"), *codec]) == 2
    _one_line_error(capsys, "must end in .wav or .flac")


def test_cli_default_codec_is_the_packages_and_parsing_stays_light():
    import subprocess
    import sys

    from maskvat.cli import codec as cli_codec
    from maskvat.codec import DEFAULT_CODEC

    assert cli_codec.DEFAULT_CODEC == DEFAULT_CODEC
    code = "import sys; from maskvat.cli.main import build_parser; build_parser(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"  # `maskvat probe` must not pay for importing torch


def test_eval_reports_added_tones_per_file_and_in_json(tmp_path, codec_dir, capsys):
    import json

    audio = tmp_path / "clips"
    audio.mkdir()
    rng = np.random.default_rng(0)
    for name in ("a.wav", "b.flac"):
        sf.write(audio / name, (0.1 * rng.standard_normal(20000)).astype(np.float32), 44100)
    assert main(["codec", "eval", "--audio", str(audio), "--no-anchors", "--json", "--codec", str(codec_dir)]) == 0
    result = json.loads(capsys.readouterr().out)
    tones = result["added_tones"]
    assert tones["files"] == 2 and [row["file"] for row in tones["per_file"]] == ["a.wav", "b.flac"]
    assert tones["files_with_added_tones"] == sum(1 for row in tones["per_file"] if row["count"])
    assert result["codec"]["files_with_added_tones"] == tones["files_with_added_tones"]
    assert tones["settings"]["min_prominence_db"] > 0
    assert main(["codec", "eval", "--audio", str(audio), "--no-anchors", "--codec", str(codec_dir)]) == 0
    text = capsys.readouterr().out
    assert f"added tones: {tones['files_with_added_tones']} of 2 files" in text and "per_file" not in text
    assert main(["codec", "eval", "--audio", str(audio / "a.wav"), "--no-anchors", "--json", "--codec", str(codec_dir)]) == 0
    assert [row["file"] for row in json.loads(capsys.readouterr().out)["added_tones"]["per_file"]] == ["a.wav"]


def test_eval_takes_one_file_and_prints_a_table_that_says_what_each_figure_means(wav_file, codec_dir, capsys):
    """Finding 4: --audio's help said folder though a file works, and the output was raw dicts with an
    unexplained SI-SDR. --json keeps its keys."""
    from maskvat.cli.main import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(["codec", "eval", "--help"])
    assert "an audio/video file or a folder" in " ".join(capsys.readouterr().out.split())
    assert main(["codec", "eval", "--audio", str(wav_file), "--codec", str(codec_dir)]) == 0
    lines = capsys.readouterr().out.splitlines()
    head = next(i for i, line in enumerate(lines) if "mel distance (log10) ↓" in line)
    assert "SI-SDR (dB) ↑" in lines[head]
    rows = [line.split() for line in lines[head + 1:head + 5]]
    assert [r[:2] for r in rows[1:]] == [["libopus", "6"], ["libopus", "8"], ["libopus", "12"]]
    for r in rows:
        float(r[-2]), float(r[-1])  # two numbers per system
    text = "\n".join(lines)
    assert "round trip of 1 file(s)" in text and "{" not in text
    assert "lower is better" in text and "in dB" in text and "higher is better" in text
    assert main(["codec", "eval", "--audio", str(wav_file), "--codec", str(codec_dir), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == {"codec", "files", "audio", "opus_6kbps", "opus_8kbps", "opus_12kbps", "codes_used_share",
                           "perplexity", "added_tones"}
    assert set(result["codec"]) == {"mel_distance", "si_sdr_db", "files_with_added_tones"} and result["files"] == 1
    assert float(rows[0][-2]) == pytest.approx(result["codec"]["mel_distance"], abs=1e-3)


def test_eval_of_nothing_to_code_is_one_line(tmp_path, codec_dir, capsys, monkeypatch):
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(20000, np.float32), 44100)
    assert main(["codec", "eval", "--audio", str(silent), "--codec", str(codec_dir)]) == 2
    err = capsys.readouterr().err  # (after the files' progress bar)
    assert "Traceback" not in err and err.splitlines()[-1].startswith(f"maskvat: error: {silent}: every file is silent")

    def no_codec(*args, **kwargs):
        raise AssertionError("the codec was loaded")

    monkeypatch.setattr(AudioTokenizer, "from_pretrained", no_codec)
    assert main(["codec", "eval", "--audio", str(tmp_path / "missing"), "--codec", str(codec_dir)]) == 2
    _one_line_error(capsys, "missing: no such file or folder")
