"""MaskVAT model: shapes of every variant, codec-initialised embeddings, [NULL] conditioning, save/load."""

import math
from dataclasses import replace

import pytest
import torch

from maskvat.errors import MaskvatError
from maskvat.model.config import MODEL_CONFIGS, ModelConfig, model_config
from maskvat.model.layers import nearest_resample
from maskvat.model.masking import apply_mask, cosine_mask, masked_cross_entropy
from maskvat.model.maskvat import MaskVAT

TINY = dict(d_model=32, n_layers=2, n_heads=4, enc_layers=1, n_levels=3, codebook_size=16, codec_hidden=8,
            max_frames=20, semantic_dim=6, sync_dim=5, audio_dim=4)


def tiny(name="lab-adaln-b", **kw) -> MaskVAT:
    torch.manual_seed(0)
    return MaskVAT(model_config(name, **{**TINY, **kw}))


def inputs(b=2, length=20, seed=0):
    g = torch.Generator().manual_seed(seed)
    codes = torch.randint(0, 16, (b, 3, length), generator=g)
    sem = torch.randn(b, 4, 6, generator=g)
    sync = torch.randn(b, 13, 5, generator=g)
    audio = torch.randn(b, 9, 4, generator=g)
    return codes, sem, sync, audio


@pytest.mark.parametrize("name", ["lab-adaln-a", "lab-adaln-b", "lab-seq2seq", "lab-hybrid"])
def test_forward_shapes_every_variant(name, one_torch_thread):
    model = tiny(name)
    codes, sem, sync, audio = inputs()
    logits = model(codes, sem, sync)
    assert logits.shape == (2, 3, 20, 16)
    cond = model.condition(sem, sync, length=20)
    aux = model.auxiliary_losses(cond, audio)
    if name in ("lab-seq2seq", "lab-hybrid"):
        assert cond.memory.shape == (2, 1 + 4, 32)
        assert set(aux) == {"mse", "contrastive"} and all(torch.isfinite(v) for v in aux.values())
    else:
        assert aux == {}


@pytest.mark.parametrize("name", ["lab-adaln-b", "lab-seq2seq", "lab-hybrid"])
def test_precomputed_modulation_gives_the_same_logits(name, one_torch_thread):
    model = tiny(name)
    for p in model.parameters():  # leave adaLN-Zero so the modulation matters
        torch.nn.init.normal_(p, std=0.1)
    codes, sem, sync, _ = inputs()
    cond = model.condition(sem, sync, length=20)
    cached = model.with_modulation(cond)
    assert (cached.modulation is None) == (name == "lab-seq2seq")
    torch.testing.assert_close(model.decode(codes, cached), model.decode(codes, cond), rtol=0, atol=0)
    other = model.condition(sem, sync * 3, length=20)
    assert not torch.allclose(model.decode(codes, model.with_modulation(other)), model.decode(codes, cached))


def test_adaln_a_ignores_sync_and_b_uses_it(one_torch_thread):
    codes, sem, sync, _ = inputs()
    a, b = tiny("lab-adaln-a"), tiny("lab-adaln-b")
    for m in (a, b):  # leave adaLN-Zero so conditioning reaches the output
        for p in m.parameters():
            torch.nn.init.normal_(p, std=0.1)
    assert torch.equal(a(codes, sem, sync), a(codes, sem, sync * 5))
    assert not torch.allclose(b(codes, sem, sync), b(codes, sem, sync * 5))


@pytest.mark.parametrize("name", ["lab-adaln-b", "lab-seq2seq", "lab-hybrid"])
def test_dropped_items_use_null_conditioning(name, one_torch_thread):
    model = tiny(name)
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.1)
    codes, sem, sync, _ = inputs()
    drop = torch.tensor([True, False])
    out1 = model(codes, sem, sync, drop)
    out2 = model(codes, sem * 3 + 1, sync * 3 + 1, drop)
    assert torch.allclose(out1[0], out2[0], atol=1e-5)  # dropped: features do not matter
    assert not torch.allclose(out1[1], out2[1], atol=1e-3)


def test_embedding_init_sums_to_codec_quantized(one_torch_thread):
    from maskvat.codec.tokenizer import AudioTokenizer

    tok = AudioTokenizer.from_preset("tiny")
    cfg = model_config("lab-adaln-b", **{**TINY, "n_levels": 9, "codebook_size": 1024, "codec_hidden": 64})
    model = MaskVAT(cfg)
    model.embed.init_from_codec(tok.level_embeddings())
    codes = torch.randint(0, 1024, (2, 9, 7), generator=torch.Generator().manual_seed(1))
    summed = model.embed.summed(codes)  # [B, L, H]
    assert torch.allclose(summed.transpose(1, 2), tok.quantized(codes), atol=1e-5)


def test_nearest_resample_repeats_frames():
    x = torch.arange(4.0).view(1, 4, 1)
    assert nearest_resample(x, 8).flatten().tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert nearest_resample(x, 2).flatten().tolist() == [1, 3]  # the frame under each output centre
    assert nearest_resample(x, 4) is x


def test_cosine_mask_rate_is_two_over_pi():
    g = torch.Generator().manual_seed(0)
    mask = cosine_mask(4000, 3, 50, generator=g)
    assert abs(mask.float().mean().item() - 2 / math.pi) < 0.01
    # one rate per item: the per-item fractions spread over (0, 1)
    per_item = mask.float().mean(dim=(1, 2))
    assert per_item.min() < 0.1 and per_item.max() > 0.9


def test_loss_counts_masked_positions_only():
    codes = torch.tensor([[[1, 2, 3]]])
    mask = torch.tensor([[[True, False, False]]])
    logits = torch.zeros(1, 1, 3, 4)
    logits[0, 0, 0, 1] = 50.0  # masked position predicted right
    logits[0, 0, 1, 0] = 50.0  # unmasked positions predicted wrong: must not count
    logits[0, 0, 2, 0] = 50.0
    assert masked_cross_entropy(logits, codes, mask).item() < 1e-6
    assert apply_mask(codes, mask, 4).tolist() == [[[4, 2, 3]]]


def test_save_and_load_roundtrip(tmp_path, one_torch_thread):
    model = tiny("lab-hybrid")
    model.save_pretrained(tmp_path / "m", half=False)
    back = MaskVAT.from_pretrained(tmp_path / "m")
    codes, sem, sync, _ = inputs()
    assert back.config == model.config
    assert torch.equal(back(codes, sem, sync), model.eval()(codes, sem, sync))


def test_load_errors_are_clear(tmp_path, monkeypatch):
    with pytest.raises(MaskvatError, match="no such folder"):
        MaskVAT.from_pretrained(tmp_path / "nope")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(MaskvatError, match="not in the local cache and offline mode is on"):
        MaskVAT.from_pretrained("someone/maskvat-vggsound")
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text("{")
    with pytest.raises(MaskvatError, match="not valid JSON"):
        MaskVAT.from_pretrained(tmp_path / "m")


def test_config_registry_and_validation():
    assert {"lab-adaln-a", "lab-adaln-b", "lab-seq2seq", "lab-hybrid"} <= set(MODEL_CONFIGS)
    assert MODEL_CONFIGS["lab-adaln-a"].use_sync is False
    with pytest.raises(MaskvatError, match="variant"):
        ModelConfig(variant="rnn")
    with pytest.raises(MaskvatError, match="sync"):
        replace(MODEL_CONFIGS["lab-hybrid"], use_sync=False)
    with pytest.raises(MaskvatError, match="unknown model config"):
        model_config("huge")
