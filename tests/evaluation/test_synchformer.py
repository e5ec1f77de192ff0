"""Synchformer (DeSync): the published state-dict layout, the audio tower against transformers'
ASTModel and the front end against torchaudio's MelSpectrogram (the registry packages that have
a reference), divided space-time attention against a naive masked re-computation, loading from
a file, and av-benchmark's window arithmetic on a tiny config. No reference implementation of
the whole Synchformer is on a package registry: the whole model is checked against the
published layout only."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from published_helpers import randomised
from reference_packages import torchaudio_mel_spectrogram

from maskvat.errors import MaskvatError
from maskvat.evaluation.desync import (MIN_SECONDS, Desync, DesyncScorer, MelSegments, segment_count, video_segments,
                                       windows)
from maskvat.evaluation.synchformer import (PUBLISHED, ASTModel, DividedAttention, Synchformer, SynchformerConfig,
                                            load_synchformer, offset_grid)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = SynchformerConfig(dim=32, heads=2, video_depth=1, audio_depth=1, image=32, sync_depth=1, sync_heads=2)


# ---- the published layout ------------------------------------------------------------------------
def published_layout() -> dict[str, tuple[int, ...]]:
    """Key -> shape of the published ``synchformer_state_dict.pth``, transcribed from the reference
    module structure (Synchformer's sync_model.py, motionformer.py / vit_helper.py, ast.py /
    modeling_ast.py, transformer.py; sizes from configs/sync.yaml and divided_224_16x4.yaml)."""
    d, h4, qkv = 768, 3072, 2304
    ln = lambda p: {f"{p}.weight": (d,), f"{p}.bias": (d,)}  # noqa: E731
    lin = lambda p, o, i: {f"{p}.weight": (o, i), f"{p}.bias": (o,)}  # noqa: E731

    def pooling(p):  # BaseEncoderLayer: torch's TransformerEncoderLayer + cls_token
        return {f"{p}.cls_token": (1, 1, d), f"{p}.self_attn.in_proj_weight": (qkv, d),
                f"{p}.self_attn.in_proj_bias": (qkv,), **lin(f"{p}.self_attn.out_proj", d, d),
                **lin(f"{p}.linear1", h4, d), **lin(f"{p}.linear2", d, h4), **ln(f"{p}.norm1"), **ln(f"{p}.norm2")}

    v = "vfeat_extractor"
    out = {f"{v}.cls_token": (1, 1, d), f"{v}.pos_embed": (1, 197, d), f"{v}.temp_embed": (1, 8, d),
           f"{v}.patch_embed.proj.weight": (d, 3, 16, 16), f"{v}.patch_embed.proj.bias": (d,),
           f"{v}.patch_embed_3d.proj.weight": (d, 3, 2, 16, 16), f"{v}.patch_embed_3d.proj.bias": (d,),
           **ln(f"{v}.norm"), **pooling(f"{v}.spatial_attn_agg")}
    for i in range(12):
        b = f"{v}.blocks.{i}"
        out |= {**ln(f"{b}.norm1"), **ln(f"{b}.norm2"), **ln(f"{b}.norm3"), **lin(f"{b}.attn.qkv", qkv, d),
                **lin(f"{b}.attn.proj", d, d), **lin(f"{b}.timeattn.qkv", qkv, d), **lin(f"{b}.timeattn.proj", d, d),
                **lin(f"{b}.mlp.fc1", h4, d), **lin(f"{b}.mlp.fc2", d, h4)}
    a = "afeat_extractor.ast"
    out |= {f"{a}.embeddings.cls_token": (1, 1, d), f"{a}.embeddings.distillation_token": (1, 1, d),
            f"{a}.embeddings.position_embeddings": (1, 74, d),
            f"{a}.embeddings.patch_embeddings.projection.weight": (d, 1, 16, 16),
            f"{a}.embeddings.patch_embeddings.projection.bias": (d,), **ln(f"{a}.layernorm"),
            **pooling("afeat_extractor.freq_attn_agg")}
    for i in range(12):
        b = f"{a}.encoder.layer.{i}"
        out |= {**lin(f"{b}.attention.attention.query", d, d), **lin(f"{b}.attention.attention.key", d, d),
                **lin(f"{b}.attention.attention.value", d, d), **lin(f"{b}.attention.output.dense", d, d),
                **lin(f"{b}.intermediate.dense", h4, d), **lin(f"{b}.output.dense", d, h4),
                **ln(f"{b}.layernorm_before"), **ln(f"{b}.layernorm_after")}
    t = "transformer"
    out |= {**lin("vproj", d, d), **lin("aproj", d, d), f"{t}.OFF_tok": (1, 1, d), f"{t}.MOD_tok": (1, 1, d),
            **ln(f"{t}.vis_in_lnorm"), **ln(f"{t}.aud_in_lnorm"), f"{t}.pos_emb_cfg.pos_emb": (1, 198, d),
            **ln(f"{t}.ln_f"), **lin(f"{t}.off_head", 21, d)}
    for i in range(3):
        b = f"{t}.blocks.{i}"
        out |= {**ln(f"{b}.ln1"), **ln(f"{b}.ln2"), **lin(f"{b}.attn.key", d, d), **lin(f"{b}.attn.query", d, d),
                **lin(f"{b}.attn.value", d, d), **lin(f"{b}.attn.proj", d, d), **lin(f"{b}.mlp.0", h4, d),
                **lin(f"{b}.mlp.2", d, h4)}
    return out


def test_state_dict_is_the_published_layout():
    with torch.device("meta"):
        model = Synchformer()
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == published_layout()
    assert PUBLISHED.sequence == 198 and PUBLISHED.audio_grid == (12, 6) and PUBLISHED.video_tokens == 8


def test_offset_grid_and_segment_arithmetic():
    grid = offset_grid()
    assert len(grid) == 21 and grid[0] == -2.0 and grid[10] == 0.0 and grid[-1] == 2.0
    np.testing.assert_allclose(np.diff(grid), 0.2, atol=1e-6)
    # 8 s: 200 frames at 25 fps and 128000 samples at 16 kHz give 24 segments of 0.64 s every 0.32 s
    assert segment_count(200, 16, 8) == segment_count(128000, 10240, 5120) == 24
    assert segment_count(15, 16, 8) == 0 and segment_count(16, 16, 8) == 1
    assert windows(24) == [(0, 14), (10, 24)]  # av-benchmark's [:, :14] and [:, -14:]
    assert windows(14) == [(0, 14), (0, 14)] and windows(13) == []
    assert MIN_SECONDS == pytest.approx(4.8)
    assert segment_count(120, 16, 8) == segment_count(76800, 10240, 5120) == 14  # 4.8 s: one window


# ---- the parts that have a reference on a registry --------------------------------------------------
def test_front_end_equals_torchaudio_mel_spectrogram():
    """av-benchmark: MelSpectrogram(16000, win 400, hop 160, n_fft 1024, 128 mels) of each segment,
    log(x + 1e-6), zero-padded to 66 frames, (x + 4.2677393) / (2 x 4.5689974)."""
    reference = torchaudio_mel_spectrogram(sample_rate=16000, win_length=400, hop_length=160, n_fft=1024, n_mels=128)
    rng = np.random.default_rng(0)
    t = np.arange(25000) / 16000
    wav = torch.tensor(0.3 * np.sin(2 * np.pi * 440 * t) * (t % 0.25 < 0.1) + 0.05 * rng.standard_normal(len(t)),
                       dtype=torch.float32)
    ours = MelSegments()
    segments = wav.unfold(0, 10240, 5120)  # 3 segments
    with torch.no_grad():
        expected_power = reference(segments)
        np.testing.assert_allclose(ours.power_mel(segments).numpy(), expected_power.numpy(), rtol=1e-4,
                                   atol=1e-5 * float(expected_power.max()))
        expected = (torch.nn.functional.pad((expected_power + 1e-6).log(), (0, 1)) + 4.2677393) / (2 * 4.5689974)
        got = ours(wav)
    assert got.shape == (3, 66, 128)
    np.testing.assert_allclose(got.numpy(), expected.transpose(1, 2).numpy(), atol=2e-4)
    with pytest.raises(MaskvatError, match="at least 0.64 s"):
        ours(wav[:10000])


def test_audio_tower_equals_transformers_ast_on_the_same_weights():
    """Our AST (transformers v4 names, the checkpoint's) against transformers' own ASTModel (v5
    names), random weights shared through a key map."""
    from transformers import ASTConfig
    from transformers import ASTModel as HFASTModel

    c = SynchformerConfig(dim=64, heads=4, audio_depth=2)
    ours = randomised(ASTModel(c))
    hf = HFASTModel(ASTConfig(hidden_size=64, num_attention_heads=4, num_hidden_layers=2, intermediate_size=256,
                              max_length=66, num_mel_bins=128)).eval()
    names = {"attention.attention.query": "attention.q_proj", "attention.attention.key": "attention.k_proj",
             "attention.attention.value": "attention.v_proj", "attention.output.dense": "attention.o_proj",
             "intermediate.dense": "mlp.fc1", "output.dense": "mlp.fc2"}

    def hf_key(k: str) -> str:
        if not k.startswith("encoder.layer."):
            return k
        i, rest = k[len("encoder.layer."):].split(".", 1)
        for old, new in names.items():
            if rest.startswith(old + "."):
                rest = new + rest[len(old):]
        return f"layers.{i}.{rest}"

    state = {hf_key(k): v for k, v in ours.state_dict().items()}
    assert set(state) == set(hf.state_dict())
    hf.load_state_dict(state, strict=True)
    spec = torch.randn(3, 66, 128, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = hf(input_values=spec).last_hidden_state
        got = ours(spec)
    assert got.shape == (3, 74, 64)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


def test_divided_attention_equals_a_naive_masked_attention():
    """Time groups (a patch's frames) and space groups (a frame's patches), each with the CLS
    token, which itself attends to everything: one full attention per head with a mask."""
    frames, patches, dim, heads = 3, 4, 16, 2
    attn = randomised(DividedAttention(dim, heads), seed=3)
    x = torch.randn(2, 1 + frames * patches, dim, generator=torch.Generator().manual_seed(4))
    n = x.shape[1]
    frame = torch.tensor([-1] + [i // patches for i in range(frames * patches)])
    patch = torch.tensor([-1] + [i % patches for i in range(frames * patches)])
    for over, same in (("time", patch), ("space", frame)):
        allowed = torch.zeros(n, n, dtype=torch.bool)
        for i in range(n):
            for j in range(n):
                allowed[i, j] = i == 0 or j == 0 or bool(same[i] == same[j])
        qkv = attn.qkv(x).view(2, n, 3, heads, dim // heads)
        q, k, v = (qkv[:, :, i].transpose(1, 2) for i in range(3))  # [B, h, n, dh]
        scores = (q @ k.transpose(-1, -2)) / (dim // heads) ** 0.5
        weights = scores.masked_fill(~allowed, float("-inf")).softmax(-1)
        expected = attn.proj((weights @ v).transpose(1, 2).reshape(2, n, dim))
        torch.testing.assert_close(attn(x, frames, over), expected, rtol=1e-5, atol=1e-6)


# ---- loading ----------------------------------------------------------------------------------------
def test_loaded_from_a_file_gives_the_same_outputs(tmp_path):
    model = randomised(Synchformer(TINY))
    torch.save({"model": model.state_dict(), "epoch": 3}, tmp_path / "24-01-04T16-39-21.pt")  # the authors' form
    loaded = load_synchformer(tmp_path, config=TINY)  # a folder holding one file
    g = torch.Generator().manual_seed(5)
    video = torch.randn(14, 16, 3, 32, 32, generator=g)
    spec = torch.randn(14, 66, 128, generator=g)
    with torch.no_grad():
        for m in (model, loaded):
            v, a = m.video_features(video), m.audio_features(spec)
            assert v.shape == (14, 8, 32) and a.shape == (14, 6, 32)
        torch.testing.assert_close(loaded.video_features(video), model.video_features(video))
        torch.testing.assert_close(loaded.offset_logits(loaded.video_features(video)[None],
                                                        loaded.audio_features(spec)[None]),
                                   model.offset_logits(model.video_features(video)[None],
                                                       model.audio_features(spec)[None]))
    # a longer positional embedding is cut to the model's, as Synchformer's load_state_dict does
    state = dict(model.state_dict())
    key = "transformer.pos_emb_cfg.pos_emb"
    state[key] = torch.cat((state[key], torch.ones(1, 5, TINY.dim)), dim=1)
    torch.save(state, tmp_path / "longer.pth")
    torch.testing.assert_close(load_synchformer(tmp_path / "longer.pth", config=TINY).state_dict()[key],
                               model.state_dict()[key])


def test_published_layout_file_loads_and_foreign_files_are_refused(tmp_path):
    zeros = {k: torch.zeros(()).expand(shape) for k, shape in published_layout().items()}  # saves in a few bytes
    torch.save(zeros, tmp_path / "synchformer_state_dict.pth")  # av-benchmark's form: a bare state dict
    model = load_synchformer(tmp_path / "synchformer_state_dict.pth")
    assert not model.training and model.config == PUBLISHED
    with pytest.raises(MaskvatError, match="no such file"):
        load_synchformer(tmp_path / "missing.pth")
    torch.save({"model": {"fc1.weight": torch.zeros(3)}}, tmp_path / "other.pt")
    with pytest.raises(MaskvatError, match="not a Synchformer checkpoint"):
        load_synchformer(tmp_path / "other.pt")
    del zeros["transformer.off_head.bias"]
    torch.save(zeros, tmp_path / "cut.pth")
    with pytest.raises(MaskvatError, match="missing transformer.off_head.bias"):
        load_synchformer(tmp_path / "cut.pth")


# ---- DeSync ---------------------------------------------------------------------------------------------
class WindowProbe(torch.nn.Module):
    """Stands in for Synchformer in ``DesyncScorer.compare``: the class it predicts for a window
    is the index of the window's first video segment (features carry their segment index)."""

    config = TINY

    def offset_logits(self, video, audio):
        first = video[:, 0, 0, 0].long()
        assert bool((audio[:, 0, 0, 0].long() == first).all())  # the same segments of both streams
        return torch.nn.functional.one_hot(first, TINY.classes).float()


def test_desync_windows_are_the_first_and_last_14_segments():
    scorer = DesyncScorer(WindowProbe())
    feats = lambda s, t: torch.arange(s, dtype=torch.float32).view(s, 1, 1).expand(s, t, 4)  # noqa: E731
    grid = offset_grid(TINY)
    d = scorer.compare(feats(24, 8), feats(24, 6))  # 8 s: windows from segments 0 and 10
    assert d.offsets == [float(grid[0]), float(grid[10])] and d.seconds == pytest.approx(1.0)
    assert d.windows == [(0.0, pytest.approx(4.8)), (pytest.approx(3.2), pytest.approx(8.0))]
    d = scorer.compare(feats(24, 8), feats(20, 6))  # audio shorter: 20 common segments, windows from 0 and 6
    assert d.offsets == [float(grid[0]), float(grid[6])] and d.seconds == pytest.approx((2.0 + 0.8) / 2)
    assert d.windows[1] == (pytest.approx(1.92), pytest.approx(6.72))
    assert scorer.compare(feats(13, 8), feats(24, 6)) is None


def test_desync_end_to_end_on_a_tiny_model():
    """Frames and sound through the tiny model: 8 s gives two windows, 6 s two overlapping ones,
    4 s none; the figure is the mean |offset| of the predicted classes."""
    model = randomised(Synchformer(TINY), seed=7)
    scorer = DesyncScorer(model, seconds=8.0)
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (250, 40, 48, 3), dtype=np.uint8)  # 10 s at 25 fps
    wav = (0.1 * rng.standard_normal(10 * 44100)).astype(np.float32)
    video = scorer.video_features(frames)  # only the first 8 s: 24 segments
    assert video.shape == (24, 8, 32)
    assert scorer.audio_features(wav, 44100).shape == (24, 6, 32)
    d = scorer.score(video, wav, 44100)
    assert isinstance(d, Desync) and len(d.offsets) == 2 and d.windows[1] == (pytest.approx(3.2), pytest.approx(8.0))
    assert d.seconds == pytest.approx(np.mean(np.abs(d.offsets))) and set(d.offsets) <= set(offset_grid(TINY).tolist())
    six = scorer.score(scorer.video_features(frames[:150]), wav[: 6 * 44100], 44100)  # 17 segments
    assert six.windows == [(0.0, pytest.approx(4.8)), (pytest.approx(0.96), pytest.approx(5.76))]
    assert scorer.score(scorer.video_features(frames[:100]), wav[: 4 * 44100], 44100) is None
    assert video_segments(frames[:40], size=TINY.image).shape == (4, 16, 3, 32, 32)
