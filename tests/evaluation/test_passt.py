"""PaSST (FD_PaSST, KL_PaSST) against its reference implementation, ``hear21passt`` (the network
``av-benchmark`` builds with ``get_basic_model(mode="all")`` and its ``AugmentMelSTFT`` front end),
on shared random weights; and av-benchmark's preprocessing (torchaudio's resampler, 10 s window)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from reference_packages import passt_modules, torchaudio_resample

from maskvat.errors import MaskvatError
from maskvat.evaluation.passt import WINDOW_SAMPLES, MelSTFT, PaSST, PaSSTEmbedder, load_passt

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def reference():
    """(hear21passt's PaSST with random weights, its mel front end in eval mode)."""
    passt, preprocess = passt_modules()
    torch.manual_seed(0)
    # passt_s_swa_p16_128_ap476 as get_model(arch=..., input_tdim=998, fstride=10, tstride=10) builds it
    net = passt.PaSST(img_size=(128, 998), patch_size=16, stride=(10, 10), in_chans=1, num_classes=527,
                      embed_dim=768, depth=12, num_heads=12, distilled=True)
    with torch.no_grad():  # its own init zeroes the heads and leaves LayerNorms at 1 / 0
        for name, p in net.named_parameters():
            if "norm" in name or name.startswith("head.0"):
                p.copy_((1.0 if name.endswith("weight") else 0.0) + 0.1 * torch.randn_like(p))
            else:
                p.normal_(0.0, 0.05)
    mel = preprocess.AugmentMelSTFT(n_mels=128, sr=32000, win_length=800, hopsize=320, n_fft=1024, freqm=48,
                                    timem=192, htk=False, fmin=0.0, fmax=None, norm=1, fmin_aug_range=10,
                                    fmax_aug_range=2000)
    passt.first_RUN = False  # (its debugging prints)
    return net.eval(), mel.eval()


def sound(seconds, rate, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * 700 * t) * (t % 0.2 < 0.08) + 0.05 * rng.standard_normal(len(t)) + 0.01
            ).astype(np.float32)


def tiny_state(net, **override):
    """``net``'s state dict as zero tensors that save in a few bytes each, with ``override``."""
    return {k: override.get(k.replace(".", "_"), torch.zeros(()).expand(v.shape)) for k, v in net.state_dict().items()}


def test_state_dict_is_the_published_layout(reference):
    net, _ = reference
    assert [(k, tuple(v.shape)) for k, v in PaSST().state_dict().items()] == \
           [(k, tuple(v.shape)) for k, v in net.state_dict().items()]


def test_front_end_equals_augment_mel_stft(reference):
    _, mel = reference
    wav = torch.from_numpy(sound(1.3, 32000))[None]
    with torch.no_grad():
        want = mel(wav)
        got = MelSTFT()(wav)
    assert got.shape == want.shape == (1, 128, 1 + (wav.shape[1] - 1) // 320)
    torch.testing.assert_close(got, want, rtol=0, atol=2e-5)


def test_network_equals_hear21passt_on_the_same_weights(reference):
    net, mel = reference
    ours = PaSST()
    ours.load_state_dict(net.state_dict(), strict=True)
    with torch.no_grad():
        spec = mel(torch.from_numpy(sound(1.0, 32000, seed=1))[None])[:, None]  # 100 frames: 9 patch columns
        want_logits, want_features = net(spec)
        logits, features = ours.eval()(spec)
    assert want_logits.std() > 0.01 and want_features.std() > 0.01
    torch.testing.assert_close(features, want_features, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(logits, want_logits, rtol=1e-4, atol=1e-5)


def test_preprocessing_is_av_benchmarks(tmp_path, reference):
    """Minus the mean, torchaudio's resampler to 32 kHz, the first 8 s, zero-padded to 10 s; and a
    longer clip with no cut is cut to the model's 10 s."""
    net, _ = reference
    torch.save(tiny_state(net), tmp_path / "passt-s-f128-p16-s10-ap.476-swa.pt")
    emb = PaSSTEmbedder.from_pretrained(tmp_path, seconds=0.5)  # a folder holding the one file
    wav = sound(1.0, 44100, seed=2)
    x = torch.from_numpy(wav)
    want = torchaudio_resample((x - x.mean())[None], 44100, 32000)[0][:16000]
    got = emb.prepare(wav, 44100)
    assert got.shape == (WINDOW_SAMPLES,)
    torch.testing.assert_close(got[:16000], want, rtol=0, atol=2e-6)
    assert not got[16000:].any()
    emb.seconds = None
    assert emb.prepare(sound(10.5, 32000), 32000).shape == (WINDOW_SAMPLES,)


def test_checkpoint_forms_and_bad_sources(tmp_path, reference):
    net, _ = reference
    patches = net.patch_embed.proj.weight.detach()
    flat = tiny_state(net, patch_embed_proj_weight=patches.reshape(768, -1))
    torch.save({"model": flat}, tmp_path / "old.pt")  # the authors' older layout: a flat patch projection
    torch.testing.assert_close(load_passt(tmp_path / "old.pt").patch_embed.proj.weight, patches)
    with pytest.raises(MaskvatError, match=r"missing\.pt: no such file \(PaSST checkpoint\)"):
        load_passt(tmp_path / "missing.pt")
    torch.save({"model": {"fc1.weight": torch.zeros(2)}}, tmp_path / "cnn14.pth")
    with pytest.raises(MaskvatError, match="not a PaSST checkpoint"):
        load_passt(tmp_path / "cnn14.pth")
    del flat["head_dist.bias"]
    torch.save(flat, tmp_path / "partial.pt")
    with pytest.raises(MaskvatError, match=r"partial\.pt: not PaSST weights \(missing head_dist\.bias\)"):
        load_passt(tmp_path / "partial.pt")
