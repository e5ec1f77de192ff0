"""Codec training: the autoencoder learns with the quantizer bypassed, every loss stays finite,
dead codes are restarted, a resumed run equals an uninterrupted one, runs export as codecs."""

import numpy as np
import pytest
import torch
from audio_helpers import impact_clip as clip

from maskvat.codec.tokenizer import AudioTokenizer
from maskvat.data.corpus import AudioCorpus
from maskvat.dsp import best_lag, mel_distance, si_sdr
from maskvat.errors import MaskvatError
from maskvat.train.codec import (
    CodecTrainConfig,
    check_config,
    code_usage,
    export_from_run,
    new_codec,
    quantize,
    restart_dead_codes,
    train_codec,
    train_step,
)


@pytest.fixture
def corpus():
    return AudioCorpus([clip(i, 44100) for i in range(3)], ["a", "b", "c"])


def test_losses_are_zero_for_identical_signals_and_order_silence():
    x = torch.from_numpy(clip())[None]
    assert mel_distance(x, x).item() == 0
    assert mel_distance(torch.zeros_like(x), x) > mel_distance(0.5 * x, x) > 0
    assert si_sdr(x, x).item() > 60
    assert best_lag(np.roll(x[0].numpy(), 7), x[0].numpy(), 20) == 7


def test_bypassed_autoencoder_overfits_one_clip(one_torch_thread):
    wav = torch.from_numpy(clip())[None].repeat(2, 1)
    cfg = CodecTrainConfig(preset="tiny", bypass_steps=10**6, segment=8192)
    model = new_codec("tiny")
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, betas=(0.8, 0.99))
    first = None
    for step in range(60):
        loss, terms, _ = train_step(model, wav, cfg, step)
        opt.zero_grad()
        loss.backward()
        opt.step()
        first = first if first is not None else terms["mel"]
    assert terms["mel"] < 0.6 * first, (first, terms["mel"])


def test_vq_training_steps_keep_losses_finite(corpus, tmp_path, one_torch_thread):
    cfg = CodecTrainConfig(preset="tiny", steps=6, batch_size=2, segment=4096, bypass_steps=2, kmeans_crops=4,
                           restart_every=2, warmup=2, checkpoint_every=3)
    last = train_codec(corpus, tmp_path / "run", cfg, progress=False)
    for key in ("loss", "mel", "stft", "codebook", "commitment"):
        assert np.isfinite(last[key]), key
    assert last["codebook"] > 0  # the quantizer is on after the bypass steps
    tok = AudioTokenizer.from_pretrained(tmp_path / "run" / "codec")
    assert tok.encode(torch.from_numpy(clip())[None]).shape == (1, 9, 16)


def test_dead_code_restart_replaces_unused_codes(one_torch_thread):
    model = new_codec("tiny")
    z = model.encoder(torch.from_numpy(clip())[None, None])
    qp = quantize(model, z)
    usage = code_usage(qp.codes, qp.active, 1024)
    dead = usage[0] == 0
    before = model.quantizer.quantizers[0].codebook.weight.detach().clone()
    replaced = restart_dead_codes(model, usage, qp.latents, torch.Generator().manual_seed(0))
    after = model.quantizer.quantizers[0].codebook.weight.detach()
    pool = qp.latents[0].detach().permute(0, 2, 1).reshape(-1, 8)
    changed = (after != before).any(dim=1)
    assert replaced[0] == min(int(dead.sum()), len(pool)) > 0  # one new code per latent vector at most
    assert int(changed.sum()) == replaced[0] and not changed[~dead].any()  # used codes untouched
    # the new codes sit on distinct encoder outputs
    nearest = torch.cdist(after[changed], pool).min(dim=1)
    assert nearest.values.max() < 0.1 * pool.norm(dim=1).mean()
    assert len(set(nearest.indices.tolist())) == replaced[0]


def test_resume_gives_the_same_next_loss(corpus, tmp_path, one_torch_thread):
    cfg = CodecTrainConfig(preset="tiny", steps=5, batch_size=2, segment=4096, bypass_steps=2, kmeans_crops=4,
                           restart_every=100, warmup=2, checkpoint_every=1)
    whole = train_codec(corpus, tmp_path / "whole", cfg, progress=False)
    train_codec(corpus, tmp_path / "split", cfg, progress=False, stop_after=3)
    resumed = train_codec(corpus, tmp_path / "split", cfg, progress=False)
    assert resumed["step"] == whole["step"] == 5
    assert resumed["loss"] == pytest.approx(whole["loss"], rel=1e-5)
    export_from_run(tmp_path / "split", tmp_path / "exported", half=True)
    tok = AudioTokenizer.from_pretrained(tmp_path / "exported")  # fp16 on disk, float32 in memory
    assert next(tok.model.parameters()).dtype == torch.float32
    assert tok.encode(torch.from_numpy(clip())[None]).shape == (1, 9, 16)
    with pytest.raises(MaskvatError, match="other settings"):
        train_codec(corpus, tmp_path / "split", CodecTrainConfig(preset="tiny", steps=9), progress=False)


def test_exported_codec_computes_what_was_trained(tmp_path, one_torch_thread):
    from maskvat.train.codec import export_codec, kmeans_init

    model = new_codec("tiny")
    wav = torch.from_numpy(np.stack([clip(0), clip(1)]))
    kmeans_init(model, wav, iters=2)
    with torch.no_grad():
        qp = quantize(model, model.encoder(wav[:, None]))
        trained = model.decoder(qp.quantized)[:, 0]
    export_codec(model, tmp_path / "codec")
    tok = AudioTokenizer.from_pretrained(tmp_path / "codec")
    codes = tok.encode(wav)
    assert torch.equal(codes, torch.stack(qp.codes, dim=1))
    assert torch.allclose(tok.decode(codes), trained, atol=1e-4)


def test_loud_crops_land_on_the_sparse_loud_moments():
    """A codec trained on random short crops of stick footage hardly ever sees a hit (about 1 % of
    the frames) and returns hits 15-20 dB too soft; ``loud`` places that fraction of the crops on
    frames drawn by energy."""
    rng = np.random.default_rng(0)
    waves = []
    for _ in range(3):  # 10 s of quiet noise with four loud 5 ms clicks each
        w = (rng.standard_normal(441000) * 0.01).astype(np.float32)
        for at in rng.integers(0, 441000 - 300, 4):
            w[at:at + 220] = 0.9
        waves.append(w)
    corpus = AudioCorpus(waves, ["a", "b", "c"])
    has_click = lambda crops: (np.abs(crops).max(1) > 0.3).mean()  # noqa: E731  (noise peaks < 0.1 at +6 dB)
    plain = corpus.sample_batch(64, 8192, np.random.default_rng(1))
    loud = corpus.sample_batch(64, 8192, np.random.default_rng(1), loud=1.0)
    half = corpus.sample_batch(64, 8192, np.random.default_rng(1), loud=0.5)
    assert has_click(plain) < 0.2  # 4 x 8192 / 441000: about 7 % of random crops hold a click
    assert has_click(loud) > 0.85  # the clicks hold 94 % of the energy
    assert has_click(half[:32]) > 0.85 and has_click(half[32:]) < 0.3
    assert np.array_equal(plain, corpus.sample_batch(64, 8192, np.random.default_rng(1), loud=0.0))


def test_loud_crops_outside_zero_to_one_are_refused():
    with pytest.raises(MaskvatError, match="loud_crops"):
        check_config(CodecTrainConfig(loud_crops=1.5))


def test_loud_crops_off_keeps_a_fit_folders_codec_fingerprint_and_on_changes_it():
    """A run folder made before ``loud_crops`` existed must resume with the same command."""
    from maskvat.train.fit import FitConfig, FitRun

    base = FitRun("unused", FitConfig(), [])
    assert "loud_crops" not in base.stage_settings("codec")["codec"]
    on = FitRun("unused", FitConfig.from_dict({"codec": {"loud_crops": 0.5}}), [])
    assert on.stage_settings("codec")["codec"]["loud_crops"] == 0.5
    assert on.ids["split"] == base.ids["split"] and on.ids["codec"] != base.ids["codec"]
    assert on.ids["generator"] != base.ids["generator"]
