"""ImageBind (IB-score): the published state-dict layout of the vision and audio towers, the
fbank front end against torchaudio's ``kaldi.fbank`` (what ImageBind calls), the transformer
blocks against torch's ``nn.TransformerEncoderLayer`` and a naive attention with key/value bias
tokens, each tower against a functional re-computation from its state dict, the clip and crop
arithmetic, loading from a file, and the IB-score arithmetic on a tiny model. No reference
implementation of ImageBind is on a package registry (open_clip, whose blocks ImageBind's
follow, needs torchvision, which is not installed here): the whole model is checked against the
published layout only."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from published_helpers import randomised
from reference_packages import torchaudio_kaldi

from maskvat.encoders.fbank import kaldi_fbank
from maskvat.errors import MaskvatError
from maskvat.evaluation.imagebind import (MEAN, MIN_SECONDS, PUBLISHED, STD, Block, ImageBind, ImageBindConfig,
                                          ImageBindScorer, audio_clip_bounds, audio_clips, crop_offsets, ib_score,
                                          load_imagebind, video_clips)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = ImageBindConfig(vision_dim=32, vision_depth=2, vision_heads=2, image=28, audio_dim=24, audio_depth=2,
                       audio_heads=2, embed=16)


# ---- the published layout ------------------------------------------------------------------------
def published_layout() -> dict[str, tuple[int, ...]]:
    """Key -> shape of the vision and audio entries of ``imagebind_huge.pth``, transcribed from
    ImageBind's imagebind_model.py (``imagebind_huge``: vision 1280-d x 32 blocks, audio 768-d x
    12 blocks with bias_k / bias_v, out_embed_dim 1024), multimodal_preprocessors.py and
    transformer.py."""
    out: dict[str, tuple[int, ...]] = {}
    for m, d, depth, extra in (("vision", 1280, 32, False), ("audio", 768, 12, True)):
        ln = lambda p, d=d: {f"{p}.weight": (d,), f"{p}.bias": (d,)}  # noqa: E731
        for i in range(depth):
            b = f"modality_trunks.{m}.blocks.{i}"
            out |= {f"{b}.attn.in_proj_weight": (3 * d, d), f"{b}.attn.in_proj_bias": (3 * d,),
                    f"{b}.attn.out_proj.weight": (d, d), f"{b}.attn.out_proj.bias": (d,),
                    **ln(f"{b}.norm_1"), **ln(f"{b}.norm_2"), f"{b}.mlp.fc1.weight": (4 * d, d),
                    f"{b}.mlp.fc1.bias": (4 * d,), f"{b}.mlp.fc2.weight": (d, 4 * d), f"{b}.mlp.fc2.bias": (d,)}
            if extra:
                out |= {f"{b}.attn.bias_k": (1, 1, d), f"{b}.attn.bias_v": (1, 1, d)}
        out |= {f"modality_preprocessors.{m}.cls_token": (1, 1, d), **ln(f"modality_heads.{m}.0"),
                f"modality_heads.{m}.2.weight": (1024, d)}
    out |= {"modality_preprocessors.vision.rgbt_stem.proj.1.weight": (1280, 3, 2, 14, 14),
            "modality_preprocessors.vision.pos_embedding_helper.pos_embed": (1, 257, 1280),
            "modality_trunks.vision.pre_transformer_layer.0.weight": (1280,),
            "modality_trunks.vision.pre_transformer_layer.0.bias": (1280,),
            "modality_preprocessors.audio.rgbt_stem.proj.weight": (768, 1, 16, 16),
            "modality_preprocessors.audio.rgbt_stem.norm_layer.weight": (768,),
            "modality_preprocessors.audio.rgbt_stem.norm_layer.bias": (768,),
            "modality_preprocessors.audio.pos_embedding_helper.pos_embed": (1, 229, 768),
            "modality_postprocessors.audio.1.log_logit_scale": ()}
    return out


def test_state_dict_is_the_published_layout():
    with torch.device("meta"):
        model = ImageBind()
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == published_layout()
    assert PUBLISHED.vision_tokens == 256 and PUBLISHED.audio_grid == (12, 19)


# ---- the parts that have a reference on a registry --------------------------------------------------
def reference_fbank_clip(x: torch.Tensor) -> torch.Tensor:
    """ImageBind's ``waveform2melspec`` and ``Normalize(-4.268, 9.138)`` (imagebind/data.py), on
    torchaudio's own ``kaldi.fbank`` with the arguments ImageBind passes."""
    kaldi = torchaudio_kaldi()
    x = x - x.mean()
    fb = kaldi.fbank(x[None], htk_compat=True, sample_frequency=16000, use_energy=False, window_type="hanning",
                     num_mel_bins=128, dither=0.0, frame_length=25, frame_shift=10).T
    p = 204 - fb.shape[1]
    fb = F.pad(fb, (0, p)) if p > 0 else fb[:, :204]
    return ((fb - -4.268) / 9.138)[None]


def test_fbank_front_end_equals_torchaudio_kaldi_fbank():
    rng = np.random.default_rng(0)
    t = np.arange(int(8.0 * 16000)) / 16000
    wav = torch.tensor(0.3 * np.sin(2 * np.pi * (300 + 400 * t) * t) + 0.05 * rng.standard_normal(len(t)) + 0.1,
                       dtype=torch.float32)  # a chirp, noise and a DC offset
    ours = audio_clips(wav)
    assert ours.shape == (3, 1, 128, 204)
    for i, (a, b) in enumerate([(0, 32000), (32000, 64000), (64000, 96000)]):  # 0-2, 2-4, 4-6 s of 8 s
        ref = reference_fbank_clip(wav[a:b])
        assert ref.shape == (1, 128, 204)
        torch.testing.assert_close(ref[:, :, 198:], torch.full((1, 128, 6), 4.268 / 9.138))  # 198 frames, padded
        torch.testing.assert_close(ours[i], ref, rtol=0, atol=2e-4)
    # the hanning window is what differs from Kaldi's default (povey)
    x = wav[:32000] - wav[:32000].mean()
    assert (kaldi_fbank(x, num_mel_bins=128) - kaldi_fbank(x, num_mel_bins=128, window="hanning")).abs().max() > 1e-2
    with pytest.raises(MaskvatError, match="fbank window 'hamming'"):
        kaldi_fbank(x, window="hamming")


def test_vision_block_equals_torch_transformer_encoder_layer():
    """ImageBind's block without bias tokens is torch's pre-norm encoder layer (GELU, eps 1e-6)."""
    block = randomised(Block(32, 4, bias_kv=False), seed=1)
    ref = torch.nn.TransformerEncoderLayer(32, 4, dim_feedforward=128, dropout=0.0, activation="gelu",
                                           layer_norm_eps=1e-6, batch_first=True, norm_first=True).eval()
    names = {"attn.": "self_attn.", "mlp.fc1.": "linear1.", "mlp.fc2.": "linear2.", "norm_1.": "norm1.",
             "norm_2.": "norm2."}
    state = {}
    for k, v in block.state_dict().items():
        prefix = next(p for p in names if k.startswith(p))
        state[names[prefix] + k[len(prefix):]] = v
    ref.load_state_dict(state, strict=True)
    x = torch.randn(3, 11, 32, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        torch.testing.assert_close(block(x), ref(x), rtol=1e-5, atol=1e-5)


def naive_attention(attn: torch.nn.MultiheadAttention, x: torch.Tensor) -> torch.Tensor:
    """Multi-head self-attention written out: in-projection, the learned key / value bias tokens
    appended after it (``add_bias_kv``), softmax(q k^T / sqrt(d_head)) v, out-projection."""
    b, n, d = x.shape
    h = attn.num_heads
    q, k, v = (x @ attn.in_proj_weight.T + attn.in_proj_bias).chunk(3, dim=-1)
    if attn.bias_k is not None:
        k = torch.cat((k, attn.bias_k.view(1, 1, d).expand(b, 1, d)), dim=1)
        v = torch.cat((v, attn.bias_v.view(1, 1, d).expand(b, 1, d)), dim=1)
    split = lambda t: t.reshape(b, -1, h, d // h).transpose(1, 2)  # noqa: E731
    w = torch.softmax(split(q) @ split(k).transpose(-1, -2) / math.sqrt(d // h), dim=-1)
    return (w @ split(v)).transpose(1, 2).reshape(b, n, d) @ attn.out_proj.weight.T + attn.out_proj.bias


@pytest.mark.parametrize("bias_kv", [True, False])
def test_attention_equals_a_naive_re_computation(bias_kv):
    block = randomised(Block(24, 3, bias_kv=bias_kv), seed=3)
    x = torch.randn(2, 9, 24, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        torch.testing.assert_close(block.attn(x, x, x, need_weights=False)[0], naive_attention(block.attn, x),
                                   rtol=1e-5, atol=1e-5)
        h = block.norm_1(x)
        y = x + naive_attention(block.attn, h)
        expected = y + F.linear(F.gelu(F.linear(block.norm_2(y), block.mlp.fc1.weight, block.mlp.fc1.bias)),
                                block.mlp.fc2.weight, block.mlp.fc2.bias)
        torch.testing.assert_close(block(x), expected, rtol=1e-5, atol=1e-5)


def functional_tower(model: ImageBind, modality: str, x: torch.Tensor) -> torch.Tensor:
    """A tower written out from its state dict (multimodal_preprocessors.py, transformer.py,
    imagebind_model.py's heads and postprocessors), the blocks as naive attention + MLP."""
    s = {k: v for k, v in model.state_dict().items()}
    pre, trunk, hd = f"modality_preprocessors.{modality}", f"modality_trunks.{modality}", f"modality_heads.{modality}"
    if modality == "vision":
        tokens = F.conv3d(x, s[f"{pre}.rgbt_stem.proj.1.weight"], stride=(2, 14, 14)).flatten(2).transpose(1, 2)
    else:
        tokens = F.conv2d(x, s[f"{pre}.rgbt_stem.proj.weight"], stride=10).flatten(2).transpose(1, 2)
        tokens = F.layer_norm(tokens, tokens.shape[-1:], s[f"{pre}.rgbt_stem.norm_layer.weight"],
                              s[f"{pre}.rgbt_stem.norm_layer.bias"], eps=1e-5)
    d = tokens.shape[-1]
    x = torch.cat((s[f"{pre}.cls_token"].expand(len(x), 1, d), tokens), 1) + s[f"{pre}.pos_embedding_helper.pos_embed"]
    if modality == "vision":
        x = F.layer_norm(x, (d,), s[f"{trunk}.pre_transformer_layer.0.weight"],
                         s[f"{trunk}.pre_transformer_layer.0.bias"], eps=1e-6)
    for block in model.modality_trunks[modality].blocks:
        x = x + naive_attention(block.attn, F.layer_norm(x, (d,), block.norm_1.weight, block.norm_1.bias, eps=1e-6))
        hdn = F.layer_norm(x, (d,), block.norm_2.weight, block.norm_2.bias, eps=1e-6)
        x = x + F.linear(F.gelu(F.linear(hdn, block.mlp.fc1.weight, block.mlp.fc1.bias)), block.mlp.fc2.weight,
                         block.mlp.fc2.bias)
    x = F.layer_norm(x, (d,), s[f"{hd}.0.weight"], s[f"{hd}.0.bias"], eps=1e-6)[:, 0] @ s[f"{hd}.2.weight"].T
    x = x / x.norm(dim=-1, keepdim=True)
    return x * 20.0 if modality == "audio" else x


def test_towers_equal_a_functional_re_computation():
    model = randomised(ImageBind(TINY), seed=5)
    g = torch.Generator().manual_seed(6)
    clips, spec = torch.randn(4, 3, 2, 28, 28, generator=g), torch.randn(3, 1, 128, 204, generator=g)
    with torch.no_grad():
        v, a = model.vision(clips), model.audio(spec)
        assert v.shape == (4, 16) and a.shape == (3, 16)
        torch.testing.assert_close(v.norm(dim=-1), torch.ones(4))
        torch.testing.assert_close(a.norm(dim=-1), torch.full((3,), 20.0))  # audio's fixed logit scale
        torch.testing.assert_close(v, functional_tower(model, "vision", clips), rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(a, functional_tower(model, "audio", spec), rtol=1e-4, atol=1e-4)
    with pytest.raises(MaskvatError, match="vision tower needs clips"):
        model.vision(torch.zeros(1, 3, 28, 28))


# ---- clip arithmetic ---------------------------------------------------------------------------------
def test_audio_clip_and_crop_arithmetic():
    """pytorchvideo's ConstantClipsPerVideoSampler(2, 3): starts k x max(D - 2, 0) / 3;
    ImageBind's uniform_crop offsets."""
    assert audio_clip_bounds(128000) == [(0, 32000), (32000, 64000), (64000, 96000)]  # 8 s: 0-2, 2-4, 4-6 s
    assert audio_clip_bounds(80000) == [(0, 32000), (16000, 48000), (32000, 64000)]  # 5 s: steps of 1 s
    assert audio_clip_bounds(20000) == [(0, 32000)] * 3  # under 2 s: the whole sound three times
    n = 116800  # 7.3 s: steps of 5.3 / 3 s, truncated to samples
    assert [a for a, _ in audio_clip_bounds(n)] == [0, int((7.3 - 2) / 3 * 16000), int(2 * (7.3 - 2) / 3 * 16000)]
    assert crop_offsets(224, 398, 224) == [(0, 0), (0, 87), (0, 174)]  # landscape: left, centre (ceil), right
    assert crop_offsets(300, 224, 224) == [(0, 0), (38, 0), (76, 0)]  # portrait: top, centre, bottom
    assert crop_offsets(224, 224, 224) == [(0, 0)] * 3
    assert MIN_SECONDS == 4.0


def test_video_clips_are_three_crops_of_consecutive_frame_pairs():
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 256, (4, 28, 40, 3), dtype=np.uint8)  # already at short side 28: no resize
    clips = video_clips(frames, TINY)
    assert clips.shape == (9, 3, 2, 28, 28)
    x = (torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255 - torch.tensor(MEAN).view(1, 3, 1, 1)) \
        / torch.tensor(STD).view(1, 3, 1, 1)
    expected = [x[i:i + 2, :, :, left:left + 28].transpose(0, 1) for i in range(3) for left in (0, 6, 12)]
    torch.testing.assert_close(clips, torch.stack(expected))
    big = video_clips(rng.integers(0, 256, (2, 56, 80, 3), dtype=np.uint8), TINY)  # resized to 28 x 40
    assert big.shape == (3, 3, 2, 28, 28)
    with pytest.raises(MaskvatError, match="at least 2 frames"):
        video_clips(frames[:1], TINY)


# ---- loading ----------------------------------------------------------------------------------------
def test_loaded_from_a_file_gives_the_same_embeddings_and_other_modalities_are_ignored(tmp_path):
    model = randomised(ImageBind(TINY), seed=8)
    state = dict(model.state_dict())
    state |= {"modality_trunks.text.blocks.0.attn.in_proj_weight": torch.zeros(6, 2),
              "modality_postprocessors.text.1.log_logit_scale": torch.tensor(2.0),
              "modality_preprocessors.depth.cls_token": torch.zeros(1, 1, 4)}
    torch.save(state, tmp_path / "imagebind_huge.pth")  # the published form: a bare state dict of every modality
    loaded = load_imagebind(tmp_path, config=TINY)  # a folder holding one file
    assert not loaded.training
    g = torch.Generator().manual_seed(9)
    clips, spec = torch.randn(2, 3, 2, 28, 28, generator=g), torch.randn(3, 1, 128, 204, generator=g)
    with torch.no_grad():
        torch.testing.assert_close(loaded.vision(clips), model.vision(clips))
        torch.testing.assert_close(loaded.audio(spec), model.audio(spec))
    with pytest.raises(MaskvatError, match="no such file"):
        load_imagebind(tmp_path / "missing.pth", config=TINY)
    torch.save({"model": {"fc1.weight": torch.zeros(3)}}, tmp_path / "other.pt")
    with pytest.raises(MaskvatError, match="not an ImageBind checkpoint"):
        load_imagebind(tmp_path / "other.pt", config=TINY)
    del state["modality_heads.audio.2.weight"]
    torch.save(state, tmp_path / "cut.pth")
    with pytest.raises(MaskvatError, match="missing modality_heads.audio.2.weight"):
        load_imagebind(tmp_path / "cut.pth", config=TINY)
    state["modality_heads.audio.2.weight"] = torch.zeros(16, 5)
    torch.save(state, tmp_path / "wide.pth")
    with pytest.raises(MaskvatError, match=r"wrong shape modality_heads.audio.2.weight \(16, 5\)"):
        load_imagebind(tmp_path / "wide.pth", config=TINY)


# ---- IB-score -----------------------------------------------------------------------------------------
def test_ib_score_is_the_cosine_of_the_mean_embeddings():
    """The picture's embedding is the mean of its 9 clips' unit embeddings (3 crops x 3 pairs of
    4 frames), the sound's the mean of its 3 clips' (first 8 s at 16 kHz); the score their cosine."""
    model = randomised(ImageBind(TINY), seed=10)
    scorer = ImageBindScorer(model, seconds=8.0)
    rng = np.random.default_rng(2)
    frames = rng.integers(0, 256, (4, 28, 40, 3), dtype=np.uint8)
    wav = (0.1 * rng.standard_normal(10 * 16000)).astype(np.float32)  # 10 s at 16 kHz: only 8 s read
    video = scorer.video_embedding(frames)
    with torch.no_grad():
        expected_video = model.vision(video_clips(frames, TINY)).mean(0)
        expected_audio = model.audio(audio_clips(torch.from_numpy(wav[:128000]), TINY)).mean(0)
    torch.testing.assert_close(video, expected_video)
    torch.testing.assert_close(scorer.audio_embedding(wav, 16000), expected_audio)
    score = scorer.score(video, wav, 16000)
    assert score == pytest.approx(float(expected_video @ expected_audio / expected_video.norm() / expected_audio.norm()),
                                  abs=1e-6)
    assert -1.0 <= score <= 1.0 and ib_score(video, 3 * video) == pytest.approx(1.0)
    assert scorer.frame_count(8.0) == 4 and scorer.frame_count(12.0) == 4 and scorer.frame_count(5.9) == 2
    assert scorer.frame_start(0.0) == pytest.approx(1.0, abs=1e-3)  # ffmpeg's fps filter: the frame before 1 s
