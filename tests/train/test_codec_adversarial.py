"""The codec's adversarial stage: discriminator shapes, LSGAN and feature-matching losses in
closed form, adversarial steps train the discriminator, a frozen encoder keeps the code space,
and a resumed adversarial run equals an uninterrupted one."""

import json

import numpy as np
import pytest
import soundfile as sf
import torch
from audio_helpers import impact_clip as clip

from maskvat.cli.main import main
from maskvat.codec.tokenizer import AudioTokenizer
from maskvat.data.corpus import AudioCorpus
from maskvat.errors import MaskvatError
from maskvat.train.codec import (
    CodecTrainConfig,
    empty_codec,
    export_codec,
    export_from_run,
    kmeans_init,
    new_codec,
    new_discriminator,
    reconstruct,
    train_codec,
)
from maskvat.train.codec_losses import (
    discriminator_loss,
    feature_matching_loss,
    generator_adv_loss,
)
from maskvat.train.discriminators import Discriminator
from maskvat.train.runlog import read_log

W = 0.0625  # discriminator width of the tests: 0.17 M weights


@pytest.fixture
def corpus():
    return AudioCorpus([clip(i, 44100) for i in range(3)], ["a", "b", "c"])


def adv_cfg(**kw):
    base = dict(preset="tiny", steps=4, batch_size=2, segment=4096, bypass_steps=2, kmeans_crops=4,
                restart_every=100, warmup=2, checkpoint_every=1, adversarial_start=1, disc_width=W)
    return CodecTrainConfig(**{**base, **kw})


@pytest.fixture
def source_codec(tmp_path):
    """A tiny codec with k-means codebooks, exported as our training exports (what --init-from reads)."""
    model = new_codec("tiny", seed=3)
    kmeans_init(model, torch.from_numpy(np.stack([clip(5), clip(6)])), iters=2)
    export_codec(model, tmp_path / "source")
    return tmp_path / "source"


@pytest.fixture
def raw_rows_codec(tmp_path):
    """A tiny codec whose codebook rows are not unit-norm, as in the published DAC. (Random
    rows: k-means on a few clips leaves duplicate rows, whose ties rounding may break either way.)"""
    model = new_codec("tiny", seed=4)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for level in model.quantizer.quantizers:
            level.codebook.weight.mul_(torch.empty(len(level.codebook.weight), 1).uniform_(0.5, 2.0, generator=gen))
    AudioTokenizer(model).save_pretrained(tmp_path / "raw_rows")
    return tmp_path / "raw_rows"


def test_discriminator_shapes_and_feature_counts(one_torch_thread):
    wav = torch.from_numpy(np.stack([clip(0, 4096), clip(1, 4096)]))
    torch.manual_seed(0)
    disc = Discriminator(width=W)
    logits, feats = disc(wav)
    assert len(logits) == len(feats) == 8  # 5 periods, 3 STFT windows
    assert [len(f) for f in feats] == [5] * 5 + [25] * 3  # 5 layers; 5 layers x 5 bands
    for period, x in zip((2, 3, 5, 7, 11), logits[:5]):
        assert x.shape[:2] == (2, 1) and x.shape[-1] == period
    for window, x in zip((2048, 1024, 512), logits[5:]):
        assert x.shape[:2] == (2, 1) and x.shape[2] == 4096 // (window // 4) + 1  # STFT frames
    assert feats[0][0].shape[1] == 2 and feats[0][-1].shape[1] == 64  # 32 and 1024 channels x 1/16
    assert all(torch.isfinite(x).all() for x in logits)
    assert torch.equal(disc(wav[:, None])[0][0], logits[0])  # [B, 1, T] as [B, T]
    whole = Discriminator(width=W, bands=None)
    assert [len(f) for f in whole(wav)[1]] == [5] * 5 + [5] * 3
    small, big = (sum(p.numel() for p in Discriminator(width=w).parameters()) for w in (W, 0.25))
    assert 0 < small < big / 10
    with pytest.raises(ValueError):
        Discriminator(width=0)


def test_lsgan_losses_equal_their_closed_forms():
    ones, zeros, half = torch.ones(2, 1, 5, 3), torch.zeros(2, 1, 5, 3), torch.full((4, 7), 0.5)
    assert discriminator_loss([ones, ones], [zeros, zeros]).item() == 0  # a perfect discriminator
    assert discriminator_loss([zeros, zeros], [ones, ones]).item() == 4  # (1 + 1) per sub-discriminator
    assert discriminator_loss(half, half).item() == pytest.approx(0.5)  # 0.25 + 0.25
    assert discriminator_loss([ones, zeros], [zeros, zeros]).item() == 1
    assert generator_adv_loss([ones, ones]).item() == 0
    assert generator_adv_loss([zeros, zeros, zeros]).item() == 3
    assert generator_adv_loss(half).item() == pytest.approx(0.25)
    with pytest.raises(ValueError):
        discriminator_loss([ones], [zeros, zeros])


def test_feature_matching_is_zero_for_identical_features_and_l1_otherwise():
    torch.manual_seed(0)
    feats = [[torch.randn(2, 3, 4, 5), torch.randn(2, 6, 4)], [torch.randn(2, 1, 9)]]
    assert feature_matching_loss(feats, [[f.clone() for f in d] for d in feats]).item() == 0
    shifted = [[f + 0.5 for f in d] for d in feats]
    assert feature_matching_loss(feats, shifted).item() == pytest.approx(1.5)  # 0.5 per layer, 3 layers in all
    # summed over one sub-discriminator's layers (DAC): |1| and |3| -> 4
    assert feature_matching_loss([torch.zeros(3), torch.zeros(2)], [torch.ones(3), torch.full((2,), 3.0)]).item() == 4
    real = [[torch.zeros(4, requires_grad=True)]]
    fake = [[torch.ones(4, requires_grad=True)]]
    loss = feature_matching_loss(real, fake)
    assert loss.item() > 0
    loss.backward()
    assert real[0][0].grad is None and fake[0][0].grad is not None  # real features are targets only


def test_adversarial_steps_keep_losses_finite_and_train_the_discriminator(corpus, tmp_path, one_torch_thread):
    cfg = adv_cfg()
    last = train_codec(corpus, tmp_path / "run", cfg, progress=False)
    for key in ("loss", "mel", "stft", "codebook", "commitment", "d_loss", "adv", "fm"):
        assert np.isfinite(last[key]), key
    assert last["adv"] > 0 and last["fm"] > 0 and last["d_loss"] > 0
    log = read_log(tmp_path / "run" / "log.csv")
    assert ["d_loss" in r for r in log] == [False, True, True, True]  # adversarial from step index 1
    state = torch.load(tmp_path / "run" / "checkpoint.pt", map_location="cpu", weights_only=False)
    fresh = new_discriminator(cfg).state_dict()
    assert fresh.keys() == state["extra"]["disc"].keys()
    changed = [k for k in fresh if not torch.equal(fresh[k], state["extra"]["disc"][k])]
    assert len(changed) == len(fresh)  # every discriminator weight moved
    assert state["extra"]["disc_opt"]["state"]  # its optimiser has moments to resume from
    assert (tmp_path / "run" / "curves.png").stat().st_size > 0
    tok = AudioTokenizer.from_pretrained(tmp_path / "run" / "codec")
    assert tok.encode(torch.from_numpy(clip())[None]).shape == (1, 9, 16)


def test_frozen_encoder_keeps_the_code_space_and_trains_the_decoder(corpus, tmp_path, raw_rows_codec, one_torch_thread):
    src = AudioTokenizer.from_pretrained(raw_rows_codec)
    before = {k: v.clone() for k, v in src.model.state_dict().items()}
    cfg = adv_cfg(steps=3, init_from=str(raw_rows_codec), freeze_encoder=True, lr=1e-3)
    last = train_codec(corpus, tmp_path / "run", cfg, progress=False)
    assert np.isfinite(last["loss"]) and np.isfinite(last["d_loss"])
    trained = AudioTokenizer.from_pretrained(tmp_path / "run" / "codec").model.state_dict()
    frozen = [k for k in before if k.startswith(("encoder.", "quantizer."))]
    assert frozen and all(torch.equal(before[k], trained[k]) for k in frozen)  # bit-identical after export
    decoder = [k for k in before if k.startswith("decoder.") and k.endswith("weight")]
    assert sum(not torch.equal(before[k], trained[k]) for k in decoder) == len(decoder)
    # the checkpoint too: frozen weights plain and unchanged, so `codec export` writes them as well
    state = torch.load(tmp_path / "run" / "checkpoint.pt", map_location="cpu", weights_only=False)
    assert all(torch.equal(before[k], state["module"][k]) for k in frozen)
    export_from_run(tmp_path / "run", tmp_path / "exported")
    exported = AudioTokenizer.from_pretrained(tmp_path / "exported")
    wav = torch.from_numpy(np.stack([clip(7), clip(8)]))
    codes = src.encode(wav)
    assert torch.equal(exported.encode(wav), codes)
    assert not torch.equal(exported.decode(codes), src.decode(codes))
    # the decoder trained on what the saved codec feeds it (codebook rows as stored)
    model = empty_codec("tiny", freeze_encoder=True)
    model.load_state_dict(state["module"])
    with torch.no_grad():
        recon, qp = reconstruct(model, wav, adv_cfg(init_from="x", freeze_encoder=True, quantizer_dropout=0.0), 0)
    assert torch.equal(torch.stack(qp.codes, dim=1), codes)
    assert torch.allclose(recon, exported.decode(codes), atol=1e-4)
    with pytest.raises(MaskvatError, match="init_from"):
        train_codec(corpus, tmp_path / "bad", adv_cfg(freeze_encoder=True), progress=False)


def test_init_from_loads_a_codec_or_a_run_and_refuses_another_architecture(corpus, tmp_path, source_codec,
                                                                          one_torch_thread):
    cfg = adv_cfg(steps=1, adversarial_start=0, init_from=str(source_codec), lr=1e-9, warmup=1)
    train_codec(corpus, tmp_path / "run", cfg, progress=False)
    state = torch.load(tmp_path / "run" / "checkpoint.pt", map_location="cpu", weights_only=False)
    assert [r.get("codebook", 0) > 0 for r in state["log"]] == [True]  # no bypass warm-up: codes from step 0
    src = AudioTokenizer.from_pretrained(source_codec)
    again = train_codec(corpus, tmp_path / "from_run", adv_cfg(steps=1, adversarial_start=0, lr=1e-9, warmup=1,
                                                              init_from=str(tmp_path / "run")), progress=False)
    assert np.isfinite(again["loss"])
    wav = torch.from_numpy(clip(9))[None]
    assert torch.equal(AudioTokenizer.from_pretrained(tmp_path / "from_run" / "codec").encode(wav), src.encode(wav))
    with pytest.raises(MaskvatError, match="preset"):
        train_codec(corpus, tmp_path / "lab", adv_cfg(preset="lab", init_from=str(source_codec)), progress=False)


def test_resume_with_the_adversarial_stage_gives_the_same_next_loss(corpus, tmp_path, one_torch_thread):
    cfg = adv_cfg(steps=5, adversarial_start=2)
    whole = train_codec(corpus, tmp_path / "whole", cfg, progress=False)
    train_codec(corpus, tmp_path / "split", cfg, progress=False, stop_after=3)
    resumed = train_codec(corpus, tmp_path / "split", cfg, progress=False)
    assert resumed["step"] == whole["step"] == 5
    for key in ("loss", "d_loss", "adv", "fm"):
        assert resumed[key] == pytest.approx(whole[key], rel=1e-5), key
    with pytest.raises(MaskvatError, match="disc_width"):
        train_codec(corpus, tmp_path / "split", adv_cfg(steps=5, adversarial_start=2, disc_width=0.5), progress=False)


def test_checkpoint_from_before_the_adversarial_options_resumes(corpus, tmp_path, one_torch_thread):
    cfg = CodecTrainConfig(preset="tiny", steps=3, batch_size=2, segment=4096, bypass_steps=1, kmeans_crops=4,
                           restart_every=100, warmup=1, checkpoint_every=1)
    train_codec(corpus, tmp_path / "run", cfg, progress=False, stop_after=2)
    path = tmp_path / "run" / "config.json"
    saved = json.loads(path.read_text())
    for key in ("adversarial_start", "lambda_adv", "lambda_fm", "disc_lr", "disc_width", "init_from", "freeze_encoder"):
        del saved[key]  # as written before these options existed
    path.write_text(json.dumps(saved))
    last = train_codec(corpus, tmp_path / "run", cfg, progress=False)
    assert last["step"] == 3 and "d_loss" not in last


def test_cli_trains_the_decoder_adversarially(tmp_path, source_codec, capsys, one_torch_thread):
    data = tmp_path / "data"
    data.mkdir()
    for i in range(2):
        sf.write(data / f"{i}.wav", clip(i, 44100), 44100)
    out = tmp_path / "run"
    args = ["codec", "train", "--data", str(data), "--out", str(out), "--preset", "tiny", "--steps", "2",
            "--batch", "2", "--segment", "4096", "--warmup-steps", "1"]
    assert main(args + ["--freeze-encoder"]) != 0
    assert "init_from" in capsys.readouterr().err
    assert main(args + ["--adversarial-start", "1", "--disc-width", str(W), "--init-from", str(source_codec),
                        "--freeze-encoder"]) == 0
    capsys.readouterr()
    saved = CodecTrainConfig.from_dict(torch.load(out / "checkpoint.pt", weights_only=False)["config"])
    assert (saved.adversarial_start, saved.disc_width, saved.freeze_encoder) == (1, W, True)
    assert saved.init_from == str(source_codec)
    assert "d_loss" in read_log(out / "log.csv")[-1]
