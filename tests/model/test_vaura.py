"""V-AURA model: shapes, the codebook pattern, causality, the KV cache, [NULL], save/load, configs."""

import json

import pytest
import torch

from maskvat.errors import MaskvatError
from maskvat.model.config import model_config
from maskvat.model.generators import load_generator
from maskvat.model.maskvat import MaskVAT
from maskvat.model.vaura import VAURA, VAURAConfig, from_sequence, to_sequence, vaura_config

TINY = dict(d_model=32, n_layers=2, n_heads=4, visual_width=8, ffn_hidden=48, n_levels=3, codebook_size=16,
            codec_hidden=8, max_frames=12, semantic_dim=6, sync_dim=5, audio_dim=4)


def tiny(pattern="delay", std=0.1, **kw) -> VAURA:
    torch.manual_seed(0)
    model = VAURA(vaura_config("lab-vaura", **{**TINY, "pattern": pattern, **kw})).eval()
    for p in model.parameters():  # larger than the init, so that every input visibly reaches the logits
        torch.nn.init.normal_(p, std=std)
    return model


def inputs(b=2, length=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randint(0, 16, (b, 3, length), generator=g), torch.randn(b, 4, 6, generator=g),
            torch.randn(b, 13, 5, generator=g))


@pytest.mark.parametrize("pattern", ["delay", "parallel"])
def test_shapes(pattern, one_torch_thread):
    model = tiny(pattern)
    codes, sem, sync = inputs()
    assert model(codes, sem, sync).shape == (2, 3, 12, 16)
    extra = 2 if pattern == "delay" else 0
    assert model.condition(sem, sync, length=12).visual.shape == (2, 12 + extra, 8)
    logits, seq = model.sequence_logits(codes, model.condition(sem, sync, length=12))
    assert logits.shape == (2, 3, 12 + extra, 16) and seq.shape == (2, 3, 12 + extra)


def test_delay_pattern_layout_and_inverse():
    codes = torch.arange(2 * 3 * 5).view(2, 3, 5)
    seq = to_sequence(codes, [0, 1, 2], pad=99)
    assert seq.shape == (2, 3, 7)
    for k in range(3):
        assert seq[:, k, k:k + 5].tolist() == codes[:, k].tolist()  # level k of frame t at step t + k
        assert (seq[:, k, :k] == 99).all() and (seq[:, k, k + 5:] == 99).all()
    assert torch.equal(from_sequence(seq, [0, 1, 2], 5), codes)
    assert torch.equal(to_sequence(codes, [0, 0, 0], pad=99), codes)  # parallel: the codegram as it is


@pytest.mark.parametrize("pattern", ["delay", "parallel"])
def test_a_later_token_never_changes_an_earlier_logit(pattern, one_torch_thread):
    """Logit (level k, frame t) sits at step t + off_k and sees only tokens at earlier steps:
    changing frame u (all levels) leaves every logit with t + off_k <= u as it was."""
    model = tiny(pattern)
    off = model.config.offsets
    codes, sem, sync = inputs()
    base = model(codes, sem, sync)
    for u in (0, 4, 11):
        other = codes.clone()
        other[:, :, u] = (other[:, :, u] + 5) % 16
        out = model(other, sem, sync)
        for k in range(3):
            for t in range(12):
                same = torch.allclose(out[:, k, t], base[:, k, t], rtol=0, atol=1e-6)
                if t + off[k] <= u:
                    assert same, (u, k, t)
        if u < 11:  # ... and the change does reach the next step (the test is not vacuous)
            assert not torch.allclose(out[:, 0, u + 1], base[:, 0, u + 1])


def test_the_picture_of_a_later_step_never_changes_an_earlier_logit(one_torch_thread):
    model = tiny()
    codes, sem, sync = inputs()
    cond = model.condition(sem, sync, length=12)
    fed = torch.cat([torch.full_like(codes[:, :, :1], 16), to_sequence(codes, model.config.offsets, 16)[:, :, :-1]], 2)
    base, _ = model.step(fed, cond.visual)
    visual = cond.visual.clone()
    visual[:, 7:] += 1.0
    out, _ = model.step(fed, visual)
    torch.testing.assert_close(out[:, :, :7], base[:, :, :7], rtol=0, atol=1e-6)
    assert not torch.allclose(out[:, :, 7], base[:, :, 7])


@pytest.mark.parametrize("pattern", ["delay", "parallel"])
def test_kv_cache_gives_the_logits_of_a_full_recompute(pattern, one_torch_thread):
    """Steps fed in pieces (a prefix, single steps, a piece of several after a cached prefix) give
    the logits of the whole sequence fed at once."""
    model = tiny(pattern)
    codes, sem, sync = inputs()
    cond = model.condition(sem, sync, length=12)
    seq = to_sequence(codes, model.config.offsets, 16)
    fed = torch.cat([torch.full_like(seq[:, :, :1], 16), seq[:, :, :-1]], 2)
    full, _ = model.step(fed, cond.visual)
    pieces, cache, at = [], None, 0
    for n in (5, 1, 1, 3, 1, fed.shape[-1] - 11):
        logits, cache = model.step(fed[:, :, at:at + n], cond.visual[:, at:at + n], cache, at)
        pieces.append(logits)
        at += n
    assert at == fed.shape[-1]
    torch.testing.assert_close(torch.cat(pieces, dim=2), full, rtol=1e-5, atol=1e-5)


def test_batch_equals_items_alone(one_torch_thread):
    model = tiny()
    codes, sem, sync = inputs()
    both = model(codes, sem, sync)
    for i in range(2):
        torch.testing.assert_close(model(codes[i:i + 1], sem[i:i + 1], sync[i:i + 1])[0], both[i], rtol=1e-5, atol=1e-5)


def test_dropped_items_use_the_null_condition(one_torch_thread):
    model = tiny()
    codes, sem, sync = inputs()
    drop = torch.tensor([True, False])
    a, b = model(codes, sem, sync, drop), model(codes, sem * 3 + 1, sync * 3 + 1, drop)
    torch.testing.assert_close(a[0], b[0], rtol=0, atol=0)
    assert not torch.allclose(a[1], b[1])


def test_save_and_load_roundtrip_by_kind(tmp_path, one_torch_thread):
    model = tiny()
    model.save_pretrained(tmp_path / "v", half=False, extra={"steps": 3})
    assert json.loads((tmp_path / "v" / "config.json").read_text())["kind"] == "vaura"
    back = load_generator(tmp_path / "v")
    assert isinstance(back, VAURA) and back.config == model.config
    codes, sem, sync = inputs()
    assert torch.equal(back(codes, sem, sync), model(codes, sem, sync))
    torch.manual_seed(0)
    MaskVAT(model_config("debug-adaln-b")).save_pretrained(tmp_path / "m")
    assert isinstance(load_generator(tmp_path / "m"), MaskVAT)  # the same loader, by the folder's kind
    with pytest.raises(MaskvatError, match="not a V-AURA model"):
        VAURA.from_pretrained(tmp_path / "m")
    # a training run's folder (config.json of the run, its model in model/): the error names model/
    model.save_pretrained(tmp_path / "run" / "model")
    (tmp_path / "run" / "config.json").write_text(json.dumps({"model": "debug-vaura", "steps": 3}))
    with pytest.raises(MaskvatError, match=r"a training run's folder, not a model folder: pass its model, .*run[/\\]model"):
        load_generator(tmp_path / "run")


def test_configs():
    assert isinstance(model_config("lab-vaura"), VAURAConfig)  # one registry of names for trainers
    assert model_config("lab-vaura", n_layers=2).n_layers == 2
    assert model_config("paper-vaura").max_frames == 862
    with pytest.raises(MaskvatError, match="pattern"):
        VAURAConfig(pattern="zigzag")
    with pytest.raises(MaskvatError, match="visual stream"):
        VAURAConfig(use_semantic=False, use_sync=False)
    with pytest.raises(MaskvatError, match="unknown model config"):
        model_config("huge")


def test_lab_size_matches_lab_adaln_b_in_parameters():
    """configs/lab-vaura.json against configs/lab-adaln-b.json: the same budget of weights (within 5%)."""
    a = MaskVAT(model_config("lab-adaln-b")).num_parameters()
    v = VAURA(vaura_config("lab-vaura")).num_parameters()
    assert abs(v - a) / a < 0.05, (v, a)


def test_every_parameter_gets_a_gradient(one_torch_thread):
    """DDP without find_unused_parameters: one step touches every weight, dropped items or not."""
    from maskvat.model.vaura import next_token_loss

    model = tiny().train()
    codes, sem, sync = inputs()
    for drop in ([False, False], [True, True]):
        model.zero_grad(set_to_none=True)
        loss, _ = next_token_loss(model, codes, torch.tensor(drop), sem, sync)
        loss.backward()
        assert [n for n, p in model.named_parameters() if p.grad is None] == []
