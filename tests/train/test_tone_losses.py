"""The codec's loss against added lines (maskvat.train.codec_losses.tone_distance), on
synthetic signals, and its place in the codec trainer."""

import numpy as np
import pytest
import torch

from maskvat.train.codec_losses import tone_distance

SR = 44100


def test_tone_distance_costs_an_added_line_not_noise_or_a_broad_colouring():
    gen = torch.Generator().manual_seed(0)
    target = 0.05 * torch.randn(8, 8192, generator=gen)
    other = 0.05 * torch.randn(8, 8192, generator=gen)  # the same spectrum, another waveform
    t = torch.arange(8192) / SR
    assert tone_distance(target, target).item() == 0.0
    base = tone_distance(other, target).item()
    assert base < 0.3  # random scatter of the batch-averaged spectra, barely over the 3 dB margin
    # louder or quieter everywhere: no line, and no reward for shrinking the output (a frame-periodic
    # loss tried with it did reward that: the decoder it trained lost 6 dB; BENCHMARKS.md)
    for gain in (3.0, 0.3):
        assert tone_distance(gain * other, target).item() == pytest.approx(base, abs=1e-3)
    lowpassed = torch.nn.functional.avg_pool1d(other[:, None], 3, 1, 1)[:, 0]
    assert tone_distance(lowpassed, target).item() < base + 0.05  # a broad colouring costs (about) nothing
    for freq in (939.0, 947.46, 5512.5):  # a line anywhere, locked to the frames or not (-43 dBFS under -26 dBFS noise)
        assert tone_distance(other + 0.01 * torch.sin(2 * np.pi * freq * t), target).item() > base + 1.0
    x = (other + 0.005 * torch.sin(2 * np.pi * 939.0 * t)).requires_grad_(True)
    tone_distance(x, target).backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    silent = torch.zeros(2, 8192, requires_grad=True)
    loss = tone_distance(silent, torch.zeros(2, 8192))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(silent.grad).all()


def test_the_trainer_adds_the_term_only_when_weighted(one_torch_thread):
    from maskvat.train.codec import CodecTrainConfig, generator_loss, new_codec, reconstruct

    model = new_codec("tiny", seed=0)
    wav = 0.1 * torch.randn(2, 8192, generator=torch.Generator().manual_seed(0))
    base = dict(preset="tiny", segment=8192, bypass_steps=0)
    recon, qp = reconstruct(model, wav, CodecTrainConfig(**base), step=5)
    off, off_terms = generator_loss(recon, wav, qp, CodecTrainConfig(**base), step=5)
    assert "tone" not in off_terms
    on, on_terms = generator_loss(recon, wav, qp, CodecTrainConfig(**base, lambda_tone=0.5), step=5)
    assert on_terms["tone"] == pytest.approx(tone_distance(recon, wav).item(), rel=1e-5) and on_terms["tone"] > 0
    assert on.item() == pytest.approx(off.item() + 0.5 * on_terms["tone"], rel=1e-5)
    on.backward()  # the term reaches the decoder
    assert all(torch.isfinite(p.grad).all() for p in model.decoder.parameters() if p.grad is not None)


def test_bad_weights_and_too_short_crops_are_refused():
    from maskvat.errors import MaskvatError
    from maskvat.train.codec import CodecTrainConfig, check_config

    with pytest.raises(MaskvatError, match="lambda_tone"):
        check_config(CodecTrainConfig(preset="tiny", lambda_tone=-1.0))
    with pytest.raises(MaskvatError, match="4096"):
        check_config(CodecTrainConfig(preset="tiny", segment=2048, lambda_tone=0.1))
    check_config(CodecTrainConfig(preset="tiny", segment=4096, lambda_tone=0.1))


def test_cli_flags_reach_the_config_and_the_log(tmp_path, capsys, one_torch_thread):
    import soundfile as sf
    from audio_helpers import impact_clip

    from maskvat.cli.main import main
    from maskvat.train.codec import CodecTrainConfig
    from maskvat.train.runlog import read_log

    data = tmp_path / "data"
    data.mkdir()
    for i in range(2):
        sf.write(data / f"{i}.wav", impact_clip(i, 44100), 44100)
    out = tmp_path / "run"
    assert main(["codec", "train", "--data", str(data), "--out", str(out), "--preset", "tiny", "--steps", "2",
                 "--batch", "2", "--segment", "4096", "--warmup-steps", "1", "--bypass-steps", "1",
                 "--lambda-tone", "0.1"]) == 0
    capsys.readouterr()
    saved = CodecTrainConfig.from_dict(torch.load(out / "checkpoint.pt", weights_only=False)["config"])
    assert saved.lambda_tone == 0.1
    row = read_log(out / "log.csv")[-1]
    assert np.isfinite(row["tone"]) and row["tone"] >= 0
