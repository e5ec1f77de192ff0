"""PANNs CNN14 (FD_PANNs, KL_PANNs) against its reference implementations, on shared random weights:
``panns_inference.models.Cnn14`` with torchlibrosa's front end (the published checkpoints' module
tree), torchaudio's resampler (av-benchmark's), and av-benchmark's KL formula."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from published_helpers import compact_cnn14_state
from reference_packages import panns_models, torchaudio_resample

from maskvat.errors import MaskvatError
from maskvat.evaluation.metrics import kl_softmax
from maskvat.evaluation.panns import SIXTEEN_K, THIRTY_TWO_K, Cnn14, PANNsEmbedder, load_cnn14
from maskvat.evaluation.sinc_resample import sinc_resample

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def reference_cnn14(variant, seed=0):
    """panns_inference's Cnn14 with seeded random weights, BatchNorm statistics included (its own
    initialisation leaves them at 0 / 1, which would hide a mix-up)."""
    torch.manual_seed(seed)
    model = panns_models().Cnn14(sample_rate=variant.sample_rate, window_size=variant.window, hop_size=variant.hop,
                                 mel_bins=64, fmin=variant.fmin, fmax=variant.fmax, classes_num=527)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
        model.bn0.running_mean.uniform_(-40.0, -20.0)  # log-mel dB
        model.bn0.running_var.uniform_(50.0, 200.0)
    return model.eval()


@pytest.fixture(scope="module")
def ref16():
    return reference_cnn14(SIXTEEN_K)


@pytest.fixture(scope="module")
def ref32():
    return reference_cnn14(THIRTY_TWO_K, seed=1)


def sound(seconds, rate, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    wav = 0.3 * np.sin(2 * np.pi * 440 * t) * (t % 0.25 < 0.1) + 0.05 * rng.standard_normal(len(t)) + 0.02
    return wav.astype(np.float32)


def reference_outputs(model, wav16: torch.Tensor):
    """(embedding, logits, probabilities) of the reference; logits read off fc_audioset."""
    seen = {}
    hook = model.fc_audioset.register_forward_hook(lambda m, i, o: seen.setdefault("logits", o))
    with torch.no_grad():
        out = model(wav16[None])
    hook.remove()
    return out["embedding"][0], seen["logits"][0], out["clipwise_output"][0]


def test_state_dict_is_the_published_layout_of_both_checkpoints(ref16, ref32):
    for variant, ref in ((SIXTEEN_K, ref16), (THIRTY_TWO_K, ref32)):
        ours = Cnn14(variant)
        assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == \
               [(k, tuple(v.shape)) for k, v in ref.state_dict().items()]
        # the front end's fixed weights are computed the same way (the checkpoint overwrites them anyway)
        for key in ("spectrogram_extractor.stft.conv_real.weight", "spectrogram_extractor.stft.conv_imag.weight",
                    "logmel_extractor.melW"):
            torch.testing.assert_close(ours.state_dict()[key], ref.state_dict()[key], rtol=0, atol=1e-6)


def test_outputs_equal_panns_inference_on_the_same_weights(ref16):
    ours = Cnn14(SIXTEEN_K)
    ours.load_state_dict(ref16.state_dict(), strict=True)
    ours.eval()
    wav = torch.from_numpy(sound(1.0, 16000))
    emb, logits, probs = reference_outputs(ref16, wav)
    assert emb.std() > 0.01 and logits.std() > 0.01  # the random network is not degenerate
    with torch.no_grad():
        torch.testing.assert_close(ours.log_mel(wav[None]),
                                   ref16.logmel_extractor(ref16.spectrogram_extractor(wav[None])), rtol=0, atol=1e-4)
        got_emb, got_logits = ours(wav[None])
    torch.testing.assert_close(got_emb[0], emb, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(got_logits[0], logits, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(torch.sigmoid(got_logits[0]), probs, rtol=1e-4, atol=1e-6)


def test_the_32k_checkpoint_layout_runs_the_same_as_the_reference(ref32):
    ref = ref32
    ours = Cnn14(THIRTY_TWO_K)
    ours.load_state_dict(ref.state_dict(), strict=True)
    wav = torch.from_numpy(sound(0.5, 32000, seed=1))
    emb, logits, _ = reference_outputs(ref, wav)
    with torch.no_grad():
        got_emb, got_logits = ours.eval()(wav[None])
    torch.testing.assert_close(got_emb[0], emb, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(got_logits[0], logits, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("orig, new, seconds", [(44100, 16000, 0.5), (44100, 32000, 0.5), (48000, 16000, 0.3),
                                                (22050, 32000, 0.3), (16000, 16000, 0.1), (44100, 16000, 0.0101)])
def test_resampling_equals_torchaudio(orig, new, seconds):
    ta =     wav = torch.from_numpy(sound(seconds, orig, seed=orig + new))
    want = torchaudio_resample(wav[None], orig, new)[0]
    got = sinc_resample(wav, orig, new)
    assert got.shape == want.shape
    torch.testing.assert_close(got, want, rtol=0, atol=1e-6)  # the same kernel and conv: equal in practice


def test_from_a_published_file_and_av_benchmarks_preprocessing(tmp_path):
    """A checkpoint saved as the published ones are (state dict under "model", beside other
    entries) loads strictly; a 44.1 kHz clip is scored as av-benchmark does: minus its mean,
    torchaudio's resampler to 16 kHz, the first 8 s (here a 0.6 s cap), the reference model."""
    state = compact_cnn14_state(seed=2)  # (a 25 MB file rather than 320 MB)
    ref16 = reference_cnn14(SIXTEEN_K)
    ref16.load_state_dict(state, strict=True)
    path = tmp_path / "Cnn14_16k_mAP=0.438.pth"
    torch.save({"iteration": 0, "model": state, "sampler": {"indexes": [1, 2]}}, path)
    emb = PANNsEmbedder.from_pretrained(path, seconds=0.6)
    assert emb.sample_rate == 16000 and emb.model.variant == SIXTEEN_K
    wav = sound(1.0, 44100, seed=3)
    out = emb.embed(wav, 44100)
    x = torch.from_numpy(wav)
    x16 = torchaudio_resample((x - x.mean())[None], 44100, 16000)[0][: int(16000 * 0.6)]
    want_emb, want_logits, want_probs = reference_outputs(ref16, x16)
    np.testing.assert_allclose(out.embedding, want_emb.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out.logits, want_logits.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out.probabilities, want_probs.numpy(), rtol=1e-4, atol=1e-6)
    assert out.embedding.shape == (2048,) and out.logits.shape == (527,)
    # a folder holding the one file loads the same
    assert PANNsEmbedder.from_pretrained(tmp_path).model.variant == SIXTEEN_K


def test_kl_is_av_benchmarks_kl_softmax():
    rng = np.random.default_rng(0)
    gen, ref = rng.normal(0, 3, (5, 527)).astype(np.float32), rng.normal(0, 3, (5, 527)).astype(np.float32)
    g, r = torch.from_numpy(gen), torch.from_numpy(ref)
    # av_bench/metrics.py compute_kl, "kl_softmax": KL(gt || generated), mean over clips
    want = F.kl_div(F.log_softmax(g, dim=1), F.log_softmax(r, dim=1), reduction="sum", log_target=True) / len(g)
    per_clip = kl_softmax(gen, ref)
    assert per_clip.shape == (5,) and (per_clip > 0).all()
    assert per_clip.mean() == pytest.approx(float(want), rel=1e-5)
    assert kl_softmax(ref[0], ref[0]) == pytest.approx(0.0, abs=1e-12)


def test_bad_sources_are_one_line_errors(tmp_path):
    with pytest.raises(MaskvatError, match=r"nowhere/Cnn14\.pth: no such file \(PANNs CNN14 checkpoint\)"):
        load_cnn14(tmp_path / "nowhere" / "Cnn14.pth")
    with pytest.raises(MaskvatError, match="expected one PANNs CNN14 checkpoint .* found 0"):
        load_cnn14(tmp_path)
    torch.save({"model": {"fc1.weight": torch.zeros(2, 2)}}, tmp_path / "other.pth")
    with pytest.raises(MaskvatError, match="not a PANNs CNN14 checkpoint"):
        load_cnn14(tmp_path / "other.pth")
    state = {k: torch.zeros(()).expand(v.shape) for k, v in Cnn14(SIXTEEN_K).state_dict().items()}  # small to save
    state["fc_audioset.weight"] = torch.zeros(10, 2048)
    del state["fc1.bias"]
    torch.save({"model": state}, tmp_path / "other.pth")
    with pytest.raises(MaskvatError, match=r"other\.pth: not PANNs CNN14 weights \(missing fc1\.bias; wrong shape "
                                           r"fc_audioset\.weight \(10, 2048\)"):
        load_cnn14(tmp_path / "other.pth")
    (tmp_path / "notes.pt").write_text("not a torch file")
    with pytest.raises(MaskvatError, match="found 2"):
        load_cnn14(tmp_path)
    with pytest.raises(MaskvatError, match="not a PyTorch checkpoint"):
        load_cnn14(tmp_path / "notes.pt")
