"""AudioTokenizer over transformers.DacModel: hop arithmetic, embedding tables, save/load."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import torch
from transformers import DacModel

from maskvat.codec import CODEC_PRESETS, AudioTokenizer
from maskvat.errors import MaskvatError


@pytest.fixture(scope="module")
def tok():
    return AudioTokenizer.from_preset("tiny", seed=0)


def _noise(n, seed=0):
    return (np.random.default_rng(seed).standard_normal(n) * 0.1).astype(np.float32)


def test_rates_match_the_paper(tok):
    assert tok.sample_rate == 44100 and tok.hop_length == 512
    assert tok.frame_rate == 44100 / 512  # 86.13, not config.frame_rate's rounded 87
    assert (tok.n_levels, tok.codebook_size, tok.codebook_dim) == (9, 1024, 8)


@pytest.mark.parametrize("n", [1000, 512, 513, 44100])
def test_round_trip_shapes_and_hop_arithmetic(tok, n):
    codes = tok.encode(_noise(n))
    length = math.ceil(n / 512)
    assert codes.shape == (1, 9, length) and codes.dtype == torch.int64
    assert tok.num_frames(n) == length
    assert tok.decode(codes).shape == (1, length * 512)
    assert tok.decode(codes, num_samples=n).shape == (1, n)


def test_pad_to_hop_multiple(tok):
    assert tok.pad(torch.ones(2, 700)).shape == (2, 1024)
    assert tok.pad(torch.ones(2, 1024)).shape == (2, 1024)
    assert tok.pad(torch.ones(700))[700:].abs().sum() == 0


def test_level_embeddings_sum_equals_from_codes(tok):
    g = torch.Generator().manual_seed(0)
    codes = torch.randint(0, 1024, (3, 9, 17), generator=g)
    tables = tok.level_embeddings()  # [K, D, H]
    assert tables.shape == (9, 1024, 64)
    summed = sum(tables[k][codes[:, k]] for k in range(9)).transpose(1, 2)  # [B, H, L]
    reference = tok.model.quantizer.from_codes(codes)[0]
    torch.testing.assert_close(summed, reference, atol=1e-5, rtol=0)
    torch.testing.assert_close(tok.quantized(codes), reference)


def test_latents_are_the_codebook_rows_level_major(tok):
    codes = torch.randint(0, 1024, (2, 9, 5), generator=torch.Generator().manual_seed(1))
    lat = tok.latents(codes)
    assert lat.shape == (2, 72, 5)
    k, b, t = 4, 1, 3
    row = tok.model.quantizer.quantizers[k].codebook.weight[codes[b, k, t]]
    torch.testing.assert_close(lat[b, 8 * k : 8 * k + 8, t], row)


def test_batch_encode_equals_each_alone(tok):
    a, b = _noise(3000, 1), _noise(3000, 2)
    both = tok.encode(np.stack([a, b]))
    assert torch.equal(both[0], tok.encode(a)[0]) and torch.equal(both[1], tok.encode(b)[0])


def test_save_load_gives_identical_codes(tok, tmp_path):
    tok.save_pretrained(tmp_path / "codec")
    again = AudioTokenizer.from_pretrained(tmp_path / "codec")
    wav = _noise(5000, 3)
    assert torch.equal(again.encode(wav), tok.encode(wav))
    assert isinstance(DacModel.from_pretrained(str(tmp_path / "codec")), DacModel)


def test_bad_sources_fail_fast_with_clear_errors(tmp_path):
    (tmp_path / "notacodec").mkdir()
    (tmp_path / "notacodec" / "config.json").write_text('{"model_type": "bert"}')
    cases = [
        (tmp_path / "missing", "no such folder"),
        (tmp_path / "notacodec", "not a DAC checkpoint"),
        ("tiny", "no published weights"),
    ]
    for source, problem in cases:
        with pytest.raises(MaskvatError, match=problem):
            AudioTokenizer.from_pretrained(source)
    start = time.monotonic()
    with pytest.raises(MaskvatError, match="not in the local cache"):
        AudioTokenizer.from_pretrained("descript/dac_44khz", local_files_only=True)
    assert time.monotonic() - start < 5


def test_bad_codes_and_audio_are_refused(tok):
    with pytest.raises(MaskvatError, match="codes must be"):
        tok.decode(torch.zeros(1, 8, 4, dtype=torch.long))
    with pytest.raises(MaskvatError, match="codes must lie"):
        tok.decode(torch.full((1, 9, 4), 1024))
    with pytest.raises(MaskvatError, match="T > 0"):
        tok.encode(np.zeros(0, np.float32))


def test_dac_44khz_preset_matches_the_published_architecture():
    cfg = CODEC_PRESETS["dac_44khz"].dac_config()
    assert CODEC_PRESETS["dac_44khz"].hub_id == "descript/dac_44khz"
    assert (cfg.sampling_rate, cfg.hop_length, cfg.n_codebooks, cfg.codebook_size, cfg.codebook_dim) == (
        44100, 512, 9, 1024, 8)
    assert (cfg.encoder_hidden_size, cfg.decoder_hidden_size, cfg.hidden_size) == (64, 1536, 1024)
