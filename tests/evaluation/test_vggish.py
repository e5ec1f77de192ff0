"""VGGish: the network's state-dict layout, the release's front end, loading local weights."""

import numpy as np
import pytest
import torch

from maskvat.errors import MaskvatError
from maskvat.evaluation.vggish import (
    VGGish,
    VGGishEmbedder,
    VGGishPostprocess,
    vggish_examples,
)

# The published PyTorch port's state dict (vggish-10086976.pth), written out from the
# architecture: conv 3x3 at Sequential indices 0, 3, 6, 8, 11, 13 (ReLU after each, max pool
# after 0, 3, 8, 13), then fully connected layers at 0, 2, 4 over the [6, 4, 512] features.
EXPECTED_STATE = {
    "features.0.weight": (64, 1, 3, 3),
    "features.0.bias": (64,),
    "features.3.weight": (128, 64, 3, 3),
    "features.3.bias": (128,),
    "features.6.weight": (256, 128, 3, 3),
    "features.6.bias": (256,),
    "features.8.weight": (256, 256, 3, 3),
    "features.8.bias": (256,),
    "features.11.weight": (512, 256, 3, 3),
    "features.11.bias": (512,),
    "features.13.weight": (512, 512, 3, 3),
    "features.13.bias": (512,),
    "embeddings.0.weight": (4096, 12288),
    "embeddings.0.bias": (4096,),
    "embeddings.2.weight": (4096, 4096),
    "embeddings.2.bias": (4096,),
    "embeddings.4.weight": (128, 4096),
    "embeddings.4.bias": (128,),
}
EXPECTED_PPROC = {"_pca_matrix": (128, 128), "_pca_means": (128, 1)}


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return VGGish().eval()


def tiny_state(keys=EXPECTED_STATE):
    """A state dict of the right shapes that costs nothing to save (one stored number each)."""
    return {k: torch.zeros(1).expand(shape) for k, shape in keys.items()}


def tone(seconds, rate, hz=1000.0):
    t = np.arange(int(round(seconds * rate))) / rate
    return (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def test_state_dict_matches_the_published_layout(model):
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == EXPECTED_STATE
    assert list(model.state_dict()) == list(EXPECTED_STATE)  # same order as the port's file
    assert {k: tuple(v.shape) for k, v in VGGishPostprocess().state_dict().items()} == EXPECTED_PPROC


def test_flatten_is_channels_last():
    c, h, w = 512, 6, 4
    feats = (torch.arange(c)[:, None, None] * 1000 + torch.arange(h)[:, None] * 10 + torch.arange(w)).float()[None]
    flat = VGGish.flatten(feats)[0]
    assert flat.shape == (c * h * w,)
    assert flat[1] == 1000  # channel varies fastest
    assert flat[c] == 1  # then width
    assert flat[c * w] == 10  # then height


def test_front_end_shape_at_another_rate():
    ex = vggish_examples(tone(2.0, 44100), 44100)
    # 32000 samples at 16 kHz -> 198 frames of 10 ms -> 2 whole examples of 96 frames
    assert ex.shape == (2, 1, 96, 64) and ex.dtype == torch.float32
    silence = vggish_examples(np.zeros(16000 * 3, np.float32), 16000)
    assert silence.shape == (3, 1, 96, 64)
    assert torch.allclose(silence, torch.full_like(silence, np.log(0.01)))  # log(mel + 0.01)


def test_a_1khz_tone_lands_in_the_band_holding_1khz():
    mel = lambda f: 1127.0 * np.log(1 + np.asarray(f) / 700.0)  # noqa: E731 (HTK)
    edges = np.linspace(mel(125.0), mel(7500.0), 66)  # band i: edges i..i+2, peak at i+1
    holding = {i for i in range(64) if edges[i] < mel(1000.0) < edges[i + 2]}
    band = int(np.argmin(np.abs(edges[1:-1] - mel(1000.0))))  # the nearest peak: band 19
    assert len(holding) == 2 and band in holding
    for rate in (16000, 22050):
        spectrum = vggish_examples(tone(1.5, rate), rate).mean(dim=(0, 1, 2)).numpy()
        assert set(np.argsort(spectrum)[-2:]) == holding
        if rate == 16000:
            assert int(np.argmax(spectrum)) == band
        assert spectrum[band] > spectrum[band - 3] + 3 and spectrum[band] > spectrum[band + 3] + 3
        assert spectrum[-1] < np.log(0.01) + 1  # nothing near 7.5 kHz


def test_too_short_audio_is_an_error():
    with pytest.raises(MaskvatError, match="too short"):
        vggish_examples(np.zeros(int(0.96 * 44100), np.float32), 44100)
    assert len(vggish_examples(np.zeros(15600, np.float32), 16000)) == 1  # 0.975 s is just enough


def test_embedding_shape(model):
    out = VGGishEmbedder(model).embed(tone(3.0, 16000), 16000)
    assert out.shape == (3, 128) and out.dtype == np.float32
    assert np.isfinite(out).all() and (out >= 0).all()  # the port's final ReLU


def test_saved_weights_round_trip(model, tmp_path):
    wav = np.random.default_rng(0).standard_normal(16000 * 2).astype(np.float32) * 0.1
    before = VGGishEmbedder(model).embed(wav, 16000)
    torch.save(model.state_dict(), tmp_path / "vggish-test.pth")
    for where in (tmp_path / "vggish-test.pth", tmp_path):  # the file, or its folder
        after = VGGishEmbedder.from_pretrained(where).embed(wav, 16000)
        assert after.shape == (2, 128)
        np.testing.assert_array_equal(after, before)
    assert np.abs(before).max() > 0  # not a degenerate all-zero comparison


def test_postprocess_applies_pca_and_quantisation(model, tmp_path):
    state = dict(model.state_dict())
    state["pproc._pca_matrix"] = 3 * torch.eye(128)
    state["pproc._pca_means"] = torch.full((128, 1), 0.5)
    torch.save(state, tmp_path / "with_pca.pth")
    wav = tone(1.0, 16000, hz=440.0)
    raw = VGGishEmbedder(model).embed(wav, 16000)
    post = VGGishEmbedder.from_pretrained(tmp_path / "with_pca.pth", postprocess=True).embed(wav, 16000)
    expected = np.floor((np.clip(3 * (raw - 0.5), -2, 2) + 2) * 255 / 4)
    np.testing.assert_allclose(post, expected, atol=1e-3)
    assert post.min() >= 0 and post.max() <= 255
    # without the flag, the same file gives the raw embeddings
    np.testing.assert_array_equal(VGGishEmbedder.from_pretrained(tmp_path / "with_pca.pth").embed(wav, 16000), raw)


def test_postprocess_without_pca_parameters_is_an_error(tmp_path):
    torch.save(tiny_state(), tmp_path / "plain.pth")
    with pytest.raises(MaskvatError, match=r"plain\.pth.*no PCA parameters"):
        VGGishEmbedder.from_pretrained(tmp_path / "plain.pth", postprocess=True)
    assert VGGishEmbedder.from_pretrained(tmp_path / "plain.pth").pproc is None


def test_wrong_keys_name_the_file_and_the_keys(tmp_path):
    state = tiny_state()
    state["features.0.weights"] = state.pop("features.0.weight")
    torch.save(state, tmp_path / "renamed.pth")
    with pytest.raises(MaskvatError, match=r"renamed\.pth") as err:
        VGGishEmbedder.from_pretrained(tmp_path / "renamed.pth")
    assert "missing features.0.weight" in str(err.value) and "unexpected features.0.weights" in str(err.value)

    shapes = dict(EXPECTED_STATE, **{"embeddings.4.weight": (64, 4096)})
    torch.save(tiny_state(shapes), tmp_path / "narrow.pth")
    with pytest.raises(MaskvatError, match=r"narrow\.pth.*embeddings\.4\.weight"):
        VGGishEmbedder.from_pretrained(tmp_path / "narrow.pth")


def test_missing_weights_are_an_error(tmp_path):
    with pytest.raises(MaskvatError, match=r"nowhere\.pth"):
        VGGishEmbedder.from_pretrained(tmp_path / "nowhere.pth")
    with pytest.raises(MaskvatError, match="no .pth or .pt file"):
        VGGishEmbedder.from_pretrained(tmp_path)
