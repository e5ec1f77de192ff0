"""AudioTokenizer over transformers.DacModel: hop arithmetic, embedding tables, save/load."""

from __future__ import annotations

import json
import math
import shutil
import time

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import DacModel

from maskvat.codec import CODEC_PRESETS, AudioTokenizer
from maskvat.errors import MaskvatError


@pytest.fixture(scope="module")
def tok():
    return AudioTokenizer.from_preset("tiny", seed=0)


@pytest.fixture(scope="module")
def tok_with_biases():
    """A tiny codec whose out_proj biases are non-zero (DacModel initialises them to 0)."""
    tok = AudioTokenizer.from_preset("tiny", seed=1)
    g = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for q in tok.model.quantizer.quantizers:
            q.out_proj.bias.copy_(torch.randn(q.out_proj.bias.shape, generator=g))
    return tok


@pytest.fixture(scope="module")
def saved(tok, tmp_path_factory):
    """A folder written by save_pretrained."""
    path = tmp_path_factory.mktemp("codec") / "tiny"
    tok.save_pretrained(path)
    return path


def _noise(n, seed=0):
    return (np.random.default_rng(seed).standard_normal(n) * 0.1).astype(np.float32)


def _random_codes(shape, seed=0):
    return torch.randint(0, 1024, shape, generator=torch.Generator().manual_seed(seed))


def test_rates_match_the_paper(tok):
    assert tok.sample_rate == 44100 and tok.hop_length == 512
    assert tok.frame_rate == 44100 / 512  # 86.13, not config.frame_rate's rounded 87
    assert tok.model.config.frame_rate == 87
    assert (tok.n_levels, tok.codebook_size, tok.codebook_dim) == (9, 1024, 8)


@pytest.mark.parametrize("n", [1000, 512, 513, 44100])
def test_round_trip_shapes_and_hop_arithmetic(tok, n):
    codes = tok.encode(_noise(n))
    length = math.ceil(n / 512)
    assert codes.shape == (1, 9, length) and codes.dtype == torch.int64
    assert tok.num_frames(n) == length
    full = tok.decode(codes)
    assert full.shape == (1, length * 512) and full.dtype == torch.float32
    trimmed = tok.decode(codes, num_samples=n)
    assert trimmed.shape == (1, n)
    torch.testing.assert_close(trimmed, full[:, :n])


def test_encode_accepts_torch_and_numpy_1d_and_2d(tok):
    wav = _noise(1500, 4)
    ref = tok.encode(wav)
    for variant in (torch.from_numpy(wav), wav[None], torch.from_numpy(wav)[None], wav.astype(np.float64)):
        assert torch.equal(tok.encode(variant), ref)


def test_pad_to_hop_multiple(tok):
    assert tok.pad(torch.ones(2, 700)).shape == (2, 1024)
    assert tok.pad(torch.ones(2, 1024)).shape == (2, 1024)
    padded = tok.pad(torch.ones(700))
    assert padded[:700].eq(1).all() and padded[700:].abs().sum() == 0


def test_level_embeddings_sum_equals_from_codes(tok_with_biases):
    tok = tok_with_biases
    codes = _random_codes((3, 9, 17))
    tables = tok.level_embeddings()  # [K, D, H]
    assert tables.shape == (9, 1024, 64)
    summed = sum(tables[k][codes[:, k]] for k in range(9)).transpose(1, 2)  # [B, H, L]
    reference = tok.model.quantizer.from_codes(codes)[0]
    assert reference.abs().mean() > 0.1  # the biases matter: a table without them would fail
    torch.testing.assert_close(summed, reference, atol=1e-5, rtol=0)
    torch.testing.assert_close(tok.quantized(codes), reference)


def test_level_embeddings_are_differentiable(tok_with_biases):
    tok_with_biases.level_embeddings().sum().backward()
    q = tok_with_biases.model.quantizer.quantizers[3]
    assert q.codebook.weight.grad is not None and q.out_proj.bias.grad.abs().sum() > 0
    tok_with_biases.model.zero_grad(set_to_none=True)


def test_latents_are_the_codebook_rows_level_major(tok):
    codes = _random_codes((2, 9, 5), seed=1)
    lat = tok.latents(codes)
    assert lat.shape == (2, 72, 5)
    for k, b, t in [(0, 0, 0), (4, 1, 3), (8, 1, 4)]:
        row = tok.model.quantizer.quantizers[k].codebook.weight[codes[b, k, t]]
        torch.testing.assert_close(lat[b, 8 * k : 8 * k + 8, t], row)


def test_batch_encode_equals_each_alone(tok):
    a, b = _noise(3000, 1), _noise(3000, 2)
    both = tok.encode(np.stack([a, b]))
    assert torch.equal(both[0], tok.encode(a)[0]) and torch.equal(both[1], tok.encode(b)[0])
    assert not torch.equal(both[0], both[1])


def test_stays_in_eval_mode_inside_a_training_parent(tok):
    parent = torch.nn.Sequential(tok).train()
    assert parent.training and not tok.training and not tok.model.training
    assert not tok.model.quantizer.training


def test_save_load_gives_identical_codes(tok, saved):
    again = AudioTokenizer.from_pretrained(saved)
    assert again.name == str(saved.resolve())
    wav = _noise(5000, 3)
    assert torch.equal(again.encode(wav), tok.encode(wav))
    codes = tok.encode(wav)
    torch.testing.assert_close(again.decode(codes), tok.decode(codes), atol=0, rtol=0)
    assert isinstance(DacModel.from_pretrained(str(saved)), DacModel)


def test_weight_normed_model_saves_plain_weights(tok, tmp_path):
    normed = AudioTokenizer.from_preset("tiny", seed=0)
    normed.model.apply_weight_norm()
    normed.save_pretrained(tmp_path / "plain")
    keys = load_file(str(tmp_path / "plain" / "model.safetensors")).keys()
    assert not any("parametrizations" in key for key in keys)
    wav = _noise(3000, 5)
    assert torch.equal(AudioTokenizer.from_pretrained(tmp_path / "plain").encode(wav), tok.encode(wav))
    # transformers' own save keeps the parametrizations: such a folder is refused, not loaded at random
    normed.model.save_pretrained(str(tmp_path / "normed"))
    with pytest.raises(MaskvatError, match="weight norm"):
        AudioTokenizer.from_pretrained(tmp_path / "normed")


def _broken_copies(saved, root):
    """Folders that look like codecs but are not usable ones: (folder, expected message)."""
    cases = {}
    for name in ("corrupt", "noweights", "partial", "mismatch"):
        shutil.copytree(saved, root / name)
        cases[name] = root / name
    (cases["corrupt"] / "model.safetensors").write_bytes(b"garbage" * 100)
    (cases["noweights"] / "model.safetensors").unlink()
    weights = load_file(str(saved / "model.safetensors"))
    save_file({k: v for k, v in weights.items() if not k.startswith("decoder.")},
              str(cases["partial"] / "model.safetensors"), metadata={"format": "pt"})
    config = json.loads((saved / "config.json").read_text())
    config["encoder_hidden_size"], config["hidden_size"] = 16, 128
    (cases["mismatch"] / "config.json").write_text(json.dumps(config))
    (root / "notacodec").mkdir()
    (root / "notacodec" / "config.json").write_text('{"model_type": "bert"}')
    (root / "empty").mkdir()
    return [
        (root / "missing", "no such folder"),
        (root / "empty", "no config.json"),
        (root / "notacodec", "not a DAC checkpoint"),
        (cases["corrupt"], "weights file is corrupt"),
        (cases["noweights"], "no file named model.safetensors"),
        (cases["partial"], "missing weights"),
        (cases["mismatch"], "do not fit its config.json"),
        ("tiny", "no published weights"),
    ]


def test_bad_sources_fail_with_one_line_errors(saved, tmp_path):
    for source, problem in _broken_copies(saved, tmp_path):
        with pytest.raises(MaskvatError, match=problem) as info:
            AudioTokenizer.from_pretrained(source)
        assert "\n" not in str(info.value)
    with pytest.raises(MaskvatError, match="cannot use device 'nodevice'"):
        AudioTokenizer.from_pretrained(saved, device="nodevice")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a CPU-only torch")
def test_cuda_on_a_cpu_torch_is_a_clear_error(saved):
    with pytest.raises(MaskvatError, match="cannot use device 'cuda'"):
        AudioTokenizer.from_pretrained(saved, device="cuda")


@pytest.mark.parametrize("source", ["descript/dac_44khz", "dac_44khz"])
def test_hub_id_offline_fails_fast(source, monkeypatch):
    start = time.monotonic()
    with pytest.raises(MaskvatError, match="not in the local cache.*--codec PATH"):
        AudioTokenizer.from_pretrained(source, local_files_only=True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(MaskvatError, match="descript/dac_44khz': not in the local cache"):
        AudioTokenizer.from_pretrained(source)
    assert time.monotonic() - start < 5


def test_bad_codes_and_audio_are_refused(tok):
    with pytest.raises(MaskvatError, match="codes must be"):
        tok.decode(torch.zeros(1, 8, 4, dtype=torch.long))
    with pytest.raises(MaskvatError, match="codes must lie"):
        tok.decode(torch.full((1, 9, 4), 1024))
    with pytest.raises(MaskvatError, match="cannot trim 4 frames"):
        tok.decode(torch.zeros(1, 9, 4, dtype=torch.long), num_samples=4 * 512 + 1)
    with pytest.raises(MaskvatError, match="T > 0"):
        tok.encode(np.zeros(0, np.float32))
    with pytest.raises(MaskvatError, match="NaN"):
        tok.encode(np.full(600, np.nan, np.float32))


def test_presets():
    cfg = CODEC_PRESETS["dac_44khz"].dac_config()
    assert CODEC_PRESETS["dac_44khz"].hub_id == "descript/dac_44khz"
    assert (cfg.sampling_rate, cfg.hop_length, cfg.n_codebooks, cfg.codebook_size, cfg.codebook_dim) == (
        44100, 512, 9, 1024, 8)
    assert list(cfg.downsampling_ratios) == [2, 4, 8, 8] and list(cfg.upsampling_ratios) == [8, 8, 4, 2]
    assert (cfg.encoder_hidden_size, cfg.decoder_hidden_size, cfg.hidden_size) == (64, 1536, 1024)
    tiny = CODEC_PRESETS["tiny"].dac_config()
    assert (tiny.sampling_rate, tiny.hop_length, tiny.n_codebooks, tiny.codebook_size, tiny.codebook_dim) == (
        44100, 512, 9, 1024, 8)
    assert AudioTokenizer.from_preset("tiny").name == "tiny (untrained)"
    with pytest.raises(MaskvatError, match="unknown codec preset"):
        AudioTokenizer.from_preset("huge")


def test_from_preset_is_seeded():
    a, b, c = (AudioTokenizer.from_preset("tiny", seed=s).level_embeddings() for s in (0, 0, 1))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_shipped_lab_codec_loads_offline_and_reconstructs():
    """The default codec is the shipped one: it loads with no network and its round trip of
    three plucked/struck notes is far nearer the input than silence is, using many codes per level."""
    from maskvat.codec import DEFAULT_CODEC
    from maskvat.dsp import mel_distance

    assert DEFAULT_CODEC == "lab"
    torch.set_num_threads(1)
    sr = 44100
    t = np.arange(2 * sr) / sr
    rng = np.random.default_rng(0)
    x = np.zeros_like(t)
    for onset, f in ((0.2, 440.0), (0.7, 660.0), (1.3, 220.0)):
        m = t >= onset
        tt = t[m] - onset
        x[m] += 0.5 * np.exp(-tt * 12) * np.sin(2 * np.pi * f * tt) + 0.2 * np.exp(-tt * 60) * rng.standard_normal(m.sum())
    x = torch.tensor(x, dtype=torch.float32)[None]
    tok = AudioTokenizer.from_pretrained(DEFAULT_CODEC)
    with torch.no_grad():
        codes = tok.encode(x)
        rec = tok.decode(codes, num_samples=x.shape[-1])
    assert codes.shape == (1, 9, 173)
    assert mel_distance(rec, x).item() < 0.7 * mel_distance(torch.zeros_like(x), x).item()
    assert min(len(torch.unique(codes[0, k])) for k in range(9)) >= 30  # no collapsed level


def test_a_codec_whose_config_says_another_sample_rate_is_refused(tmp_path):
    """Early hub snapshots of descript/dac_44khz said 16000 Hz in config.json: fail clearly, not resample wrongly."""
    import json

    AudioTokenizer.from_preset("tiny").save_pretrained(tmp_path / "c")
    cfg = json.loads((tmp_path / "c" / "config.json").read_text())
    (tmp_path / "c" / "config.json").write_text(json.dumps({**cfg, "sampling_rate": 16000}))
    with pytest.raises(MaskvatError, match="16000 Hz.*44100"):
        AudioTokenizer.from_pretrained(tmp_path / "c")


def test_codes_and_sound_equal_transformers_dac_model_on_the_same_weights(tok_with_biases, tmp_path):
    """The reference is transformers' DacModel, loaded by transformers itself from the folder we
    save: the same codes for a batch (with our end padding to a whole hop) and the same sound."""
    tok_with_biases.save_pretrained(tmp_path / "c")
    theirs = DacModel.from_pretrained(str(tmp_path / "c")).eval()
    ours = AudioTokenizer.from_pretrained(tmp_path / "c")
    assert [(k, v.shape) for k, v in ours.model.state_dict().items()] == \
        [(k, v.shape) for k, v in theirs.state_dict().items()]
    wav = np.stack([_noise(3 * 512 + 100, 7), _noise(3 * 512 + 100, 8)])  # not a whole number of hops
    padded = torch.nn.functional.pad(torch.from_numpy(wav), (0, 512 - 100))[:, None, :]
    with torch.no_grad():
        want = theirs.encode(padded).audio_codes
        codes = ours.encode(wav)
        assert codes.shape == want.shape == (2, 9, 4) and torch.equal(codes, want.long())
        sound = theirs.decode(audio_codes=want).audio_values.reshape(2, -1)
        torch.testing.assert_close(ours.decode(codes), sound, atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(ours.decode(codes, num_samples=wav.shape[1]), sound[:, :wav.shape[1]],
                                   atol=1e-6, rtol=1e-5)
