"""BEATs: the published checkpoint layout loads; shapes, rate and the front end's numbers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from maskvat.encoders.registry import load_encoder
from maskvat.encoders.beats import (
    FBANK_MEAN,
    FBANK_STD,
    BEATs,
    BEATsAudioEncoder,
    BEATsConfig,
)
from maskvat.errors import MaskvatError

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# The cfg stored in BEATs_iter3_plus_AS2M.pt: every field of the reference's BEATsConfig.
PUBLISHED_CFG = {
    "input_patch_size": 16, "embed_dim": 512, "conv_bias": False, "encoder_layers": 12, "encoder_embed_dim": 768,
    "encoder_ffn_embed_dim": 3072, "encoder_attention_heads": 12, "activation_fn": "gelu",
    "layer_wise_gradient_decay_ratio": 0.6, "layer_norm_first": False, "deep_norm": True, "dropout": 0.0,
    "attention_dropout": 0.0, "activation_dropout": 0.0, "encoder_layerdrop": 0.05, "dropout_input": 0.0,
    "conv_pos": 128, "conv_pos_groups": 16, "relative_position_embedding": True, "num_buckets": 320,
    "max_distance": 800, "gru_rel_pos": True, "finetuned_model": True, "predictor_dropout": 0.0,
    "predictor_class": 527,
}
# A reduced config of the same structure (all the same kinds of parts), for speed.
SMALL_CFG = {**PUBLISHED_CFG, "embed_dim": 32, "encoder_layers": 2, "encoder_embed_dim": 48,
             "encoder_ffn_embed_dim": 64, "encoder_attention_heads": 4, "conv_pos": 16, "conv_pos_groups": 4,
             "num_buckets": 32, "max_distance": 64, "predictor_class": 5}


def reference_state_shapes(cfg: dict) -> dict[str, tuple]:
    """Key -> shape of the reference's BEATs state dict (unilm beats/BEATs.py, backbone.py), written
    from its module tree: BEATs(post_extract_proj, patch_embedding, encoder, layer_norm, predictor);
    TransformerEncoder(pos_conv = Sequential(weight_norm(Conv1d, dim=2), SamePad, GELU), layers,
    layer_norm); each layer's self_attn holds the shared relative_attention_bias."""
    d, e, p, h = cfg["encoder_embed_dim"], cfg["embed_dim"], cfg["input_patch_size"], cfg["encoder_attention_heads"]
    ffn, k, g = cfg["encoder_ffn_embed_dim"], cfg["conv_pos"], cfg["conv_pos_groups"]
    shapes = {"post_extract_proj.weight": (d, e), "post_extract_proj.bias": (d,),
              "patch_embedding.weight": (e, 1, p, p),
              "encoder.pos_conv.0.bias": (d,), "encoder.pos_conv.0.weight_g": (1, 1, k),
              "encoder.pos_conv.0.weight_v": (d, d // g, k),
              "encoder.layer_norm.weight": (d,), "encoder.layer_norm.bias": (d,),
              "layer_norm.weight": (e,), "layer_norm.bias": (e,),
              "predictor.weight": (cfg["predictor_class"], d), "predictor.bias": (cfg["predictor_class"],)}
    for i in range(cfg["encoder_layers"]):
        a = f"encoder.layers.{i}."
        shapes[a + "self_attn.relative_attention_bias.weight"] = (cfg["num_buckets"], h)
        for proj in ("k_proj", "v_proj", "q_proj", "out_proj"):
            shapes[f"{a}self_attn.{proj}.weight"], shapes[f"{a}self_attn.{proj}.bias"] = (d, d), (d,)
        shapes[a + "self_attn.grep_linear.weight"], shapes[a + "self_attn.grep_linear.bias"] = (8, d // h), (8,)
        shapes[a + "self_attn.grep_a"] = (1, h, 1, 1)
        for ln in ("self_attn_layer_norm", "final_layer_norm"):
            shapes[f"{a}{ln}.weight"], shapes[f"{a}{ln}.bias"] = (d,), (d,)
        shapes[a + "fc1.weight"], shapes[a + "fc1.bias"] = (ffn, d), (ffn,)
        shapes[a + "fc2.weight"], shapes[a + "fc2.bias"] = (d, ffn), (d,)
    return shapes


def _state(cfg: dict, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random tensors in the reference layout (the shared bias identical under every layer)."""
    g = torch.Generator().manual_seed(seed)
    state = {k: torch.randn(s, generator=g) * 0.05 for k, s in reference_state_shapes(cfg).items()}
    state["encoder.pos_conv.0.weight_g"] = state["encoder.pos_conv.0.weight_g"].abs() + 1.0
    for i in range(1, cfg["encoder_layers"]):
        state[f"encoder.layers.{i}.self_attn.relative_attention_bias.weight"] = \
            state["encoder.layers.0.self_attn.relative_attention_bias.weight"]
    return state


@pytest.fixture(scope="module")
def small_ckpt(tmp_path_factory):
    path = tmp_path_factory.mktemp("beats") / "BEATs_small.pt"
    torch.save({"cfg": SMALL_CFG, "model": _state(SMALL_CFG)}, path)
    return path


def test_full_size_network_has_the_published_keys_and_shapes():
    ours = {k: tuple(v.shape) for k, v in BEATs(BEATsConfig.from_dict(PUBLISHED_CFG)).state_dict().items()}
    expected = reference_state_shapes(PUBLISHED_CFG)
    assert len(expected) == 252
    assert ours == expected


def test_checkpoint_loads_strictly_through_the_registry(small_ckpt):
    encoder = load_encoder("beats", str(small_ckpt))
    assert isinstance(encoder, BEATsAudioEncoder)
    c = encoder.config
    assert (c.name, c.modality, c.dim, c.rate, c.sample_rate) == ("beats", "audio", 48, 6.25, 44100)
    loaded = encoder.network.state_dict()
    for k, v in _state(SMALL_CFG).items():  # every tensor of the file landed under its own name
        torch.testing.assert_close(loaded[k], v, rtol=0, atol=0)
    assert set(loaded) == set(reference_state_shapes(SMALL_CFG))


def test_shapes_rate_and_the_time_axis(small_ckpt):
    encoder = load_encoder("beats", str(small_ckpt))
    rng = np.random.default_rng(0)
    wav = (0.1 * rng.standard_normal((2, 44100 * 2))).astype(np.float32)
    feats = encoder.encode_audio(wav)
    # 2 s at 44.1 kHz -> 32000 samples at 16 kHz -> 198 fbank frames -> 12 time patches (6.25/s)
    assert feats.shape == (2, 12, 48)
    assert encoder.encode_audio(wav[:, :44100]).shape == (2, 6, 48)
    grid = encoder.patch_grid(wav)
    assert grid.shape == (2, 12, 8, 48)  # 8 frequency patches of 16 of the 128 mel bins
    torch.testing.assert_close(grid.mean(dim=2), feats)
    torch.testing.assert_close(encoder.encode_audio(wav[1:]), feats[1:], atol=1e-4, rtol=1e-4)
    with pytest.raises(MaskvatError, match="at least"):
        encoder.encode_audio(wav[:, :4000])


def test_patches_are_flattened_time_major(small_ckpt):
    """Patch n = 8 t + f: a patch of energy at time patch 1, mel patch 2 lands at index 10."""
    net = load_encoder("beats", str(small_ckpt)).network
    fbank = torch.zeros(1, 48, 128)
    fbank[0, 16:32, 32:48] = 1.0
    x = net.embed_patches(fbank)[0]  # [24, E]
    assert x.shape == (24, 32)
    other = torch.cat([x[:10], x[11:]])
    assert (x[10] - other[0]).abs().max() > 1e-3
    torch.testing.assert_close(other, other[:1].expand_as(other))


def test_front_end_equals_kaldi_fbank_with_the_reference_normalisation():
    knf = pytest.importorskip("kaldi_native_fbank", reason="kaldi-native-fbank (the [test] extra) is not installed")
    assert (FBANK_MEAN, FBANK_STD) == (15.41663, 6.55582)
    t = torch.arange(16000) / 16000
    wav = 0.25 * torch.sin(2 * torch.pi * 1000 * t) + 0.05 * torch.sin(2 * torch.pi * 150 * t)
    opts = knf.FbankOptions()
    opts.frame_opts.dither = 0.0
    opts.mel_opts.num_bins = 128
    fb = knf.OnlineFbank(opts)
    fb.accept_waveform(16000, (wav * 2 ** 15).tolist())
    fb.input_finished()
    ref = torch.tensor(np.stack([fb.get_frame(i) for i in range(fb.num_frames_ready)]))
    ours = BEATs.preprocess(wav[None])[0]
    err = (ours - (ref - 15.41663) / (2 * 6.55582)).abs()
    assert ours.shape == (98, 128)
    assert err.median() < 1e-5 and err.max() < 5e-3  # the largest in near-silent bands: float32 in the reference


def test_bad_checkpoints_are_refused(tmp_path, small_ckpt):
    with pytest.raises(MaskvatError, match="BEATs checkpoint .* such as BEATs_iter3_plus_AS2M.pt"):
        load_encoder("beats")
    ckpt = torch.load(small_ckpt, weights_only=True)
    cases = {
        "junk.pt": b"junk",
        "nocfg.pt": {"model": ckpt["model"]},
        "renamed.pt": {"cfg": ckpt["cfg"], "model": {("x" + k if k.startswith("patch") else k): v
                                                      for k, v in ckpt["model"].items()}},
        "other.pt": {"cfg": {**ckpt["cfg"], "encoder_layers": 3}, "model": ckpt["model"]},
    }
    for name, content in cases.items():
        path = tmp_path / name
        path.write_bytes(content) if isinstance(content, bytes) else torch.save(content, path)
    for name, problem in [("junk.pt", "not a PyTorch checkpoint"), ("nocfg.pt", "not a BEATs checkpoint"),
                          ("renamed.pt", "does not fit"), ("other.pt", "does not fit"), ("none.pt", "no such file")]:
        with pytest.raises(MaskvatError, match=problem):
            load_encoder("beats", str(tmp_path / name))


def test_shared_bias_listed_once_still_loads(tmp_path):
    state = _state(SMALL_CFG)
    del state["encoder.layers.1.self_attn.relative_attention_bias.weight"]
    torch.save({"cfg": SMALL_CFG, "model": state}, tmp_path / "once.pt")
    net = load_encoder("beats", str(tmp_path / "once.pt")).network
    assert net.encoder.layers[1].self_attn.relative_attention_bias is net.encoder.layers[0].self_attn.relative_attention_bias
