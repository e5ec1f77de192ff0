"""Autoregressive (V-AURA) sampling: the pure pieces, the KV cache, prompts, guidance, batches."""

import pytest
import torch

from maskvat.model.vaura import VAURA, vaura_config
from maskvat.sampling.autoregressive import filter_logits, leading_known, sample_autoregressive, sample_next
from maskvat.sampling.sampler import SamplerSettings

TINY = dict(d_model=32, n_layers=2, n_heads=4, visual_width=8, ffn_hidden=48, n_levels=3, codebook_size=16,
            codec_hidden=8, max_frames=12, semantic_dim=6, sync_dim=5, audio_dim=4)


def _model(pattern="delay") -> VAURA:
    torch.manual_seed(0)
    model = VAURA(vaura_config("lab-vaura", **{**TINY, "pattern": pattern})).eval()
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.1)
    return model


def _feats(b=2):
    g = torch.Generator().manual_seed(1)
    return torch.randn(b, 4, 6, generator=g), torch.randn(b, 13, 5, generator=g)


def test_filter_logits_top_k_and_nucleus():
    logits = torch.log(torch.tensor([[0.5, 0.05, 0.3, 0.15]]))
    kept = lambda x: torch.isfinite(x)[0].tolist()  # noqa: E731
    assert kept(filter_logits(logits, top_k=2)) == [True, False, True, False]
    assert kept(filter_logits(logits, top_p=0.75)) == [True, False, True, False]  # 0.5 + 0.3 reaches 0.75
    assert kept(filter_logits(logits, top_p=0.85)) == [True, False, True, True]
    assert kept(filter_logits(logits, top_p=0.4)) == [True, False, False, False]  # the top code always stays
    assert kept(filter_logits(logits)) == [True] * 4
    g = torch.Generator().manual_seed(0)
    draws = sample_next(logits.expand(2000, -1), g, top_k=2)
    assert set(draws.tolist()) == {0, 2} and 0.55 < (draws == 0).float().mean() < 0.70  # 0.5 / 0.8 = 0.625
    assert sample_next(logits, top_k=1).tolist() == [0]


def test_leading_known():
    known = torch.ones(2, 3, 6, dtype=torch.bool)
    known[1, 2, 4] = False
    assert leading_known(known) == 4
    known[0, 0, 0] = False
    assert leading_known(known) == 0


@pytest.mark.parametrize("pattern", ["delay", "parallel"])
def test_kv_cached_sampling_equals_a_full_recompute(pattern, one_torch_thread):
    m = _model(pattern)
    sem, sync = _feats()
    cond, uncond = m.condition_pair(sem, sync, length=12)
    s = SamplerSettings(guidance=3.0, top_k=8)
    cached = sample_autoregressive(m, cond, 12, s, torch.Generator().manual_seed(3), uncond=uncond)
    full = sample_autoregressive(m, cond, 12, s, torch.Generator().manual_seed(3), uncond=uncond, use_cache=False)
    assert cached.shape == (2, 3, 12) and (cached >= 0).all() and (cached < 16).all()
    assert torch.equal(cached, full)
    again = sample_autoregressive(m, cond, 12, s, torch.Generator().manual_seed(3), uncond=uncond)
    assert torch.equal(cached, again)
    other = sample_autoregressive(m, cond, 12, s, torch.Generator().manual_seed(4), uncond=uncond)
    assert not torch.equal(cached, other)


def test_batch_of_two_equals_each_alone(one_torch_thread):
    m = _model()
    sem, sync = _feats()
    s = SamplerSettings(top_k=1)  # greedy: independent of the order of random draws
    cond, uncond = m.condition_pair(sem, sync, length=12)
    both = sample_autoregressive(m, cond, 12, s, uncond=uncond)
    for i in range(2):
        c1, u1 = m.condition_pair(sem[i:i + 1], sync[i:i + 1], length=12)
        assert torch.equal(sample_autoregressive(m, c1, 12, s, uncond=u1)[0], both[i])


def test_gamma_zero_is_plain_conditional_sampling(one_torch_thread):
    m = _model()
    sem, sync = _feats()
    cond, uncond = m.condition_pair(sem, sync, length=12)
    s = SamplerSettings(guidance=0.0)
    a = sample_autoregressive(m, cond, 12, s, torch.Generator().manual_seed(1), uncond=uncond)
    b = sample_autoregressive(m, cond, 12, s, torch.Generator().manual_seed(1))  # no unconditional pass at all
    assert torch.equal(a, b)
    with pytest.raises(ValueError, match="uncond"):
        sample_autoregressive(m, cond, 12, SamplerSettings(guidance=1.0))


class _Recorder(torch.nn.Module):
    """Wraps a model: records how many steps each ``step`` call runs, and from where."""

    def __init__(self, model):
        super().__init__()
        self.inner, self.config, self.calls = model, model.config, []

    def step(self, inputs, visual, cache=None, start=0):
        self.calls.append((start, inputs.shape[-1], inputs.shape[0]))
        return self.inner.step(inputs, visual, cache, start)


@pytest.mark.parametrize("pattern", ["delay", "parallel"])
def test_a_prefix_prompt_is_kept_and_consumed_in_one_pass(pattern, one_torch_thread):
    m = _Recorder(_model(pattern))
    sem, sync = _feats()
    cond, uncond = m.inner.condition_pair(sem, sync, length=12)
    prompt = torch.randint(0, 16, (2, 3, 12), generator=torch.Generator().manual_seed(5))
    fixed = torch.zeros(2, 3, 12, dtype=torch.bool)
    fixed[:, :, :5] = True  # the previous window's overlap
    fixed[1, 1, 9] = True  # and one kept token further on (editing): forced in place of the draw
    out = sample_autoregressive(m, cond, 12, SamplerSettings(), torch.Generator().manual_seed(0), uncond=uncond,
                                prompt=prompt, prompt_mask=fixed)
    assert torch.equal(out[fixed], prompt[fixed]) and (out < 16).all()
    steps = m.config.steps(12)
    assert m.calls[0] == (0, 5 + 1, 4)  # BOS + the 5 prompt steps at once, both guidance passes in one batch
    assert m.calls[1:] == [(s, 1, 4) for s in range(6, steps)]  # then one new step per call
    plain = sample_autoregressive(m.inner, cond, 12, SamplerSettings(), torch.Generator().manual_seed(0),
                                  uncond=uncond)
    assert not torch.equal(plain[:, :, :5], prompt[:, :, :5])  # (the prompt is not what it samples anyway)


def test_a_wholly_fixed_codegram_comes_back_without_a_model_call(one_torch_thread):
    m = _Recorder(_model())
    sem, sync = _feats()
    cond, _ = m.inner.condition_pair(sem, sync, length=12)
    prompt = torch.randint(0, 16, (2, 3, 12), generator=torch.Generator().manual_seed(5))
    out = sample_autoregressive(m, cond, 12, SamplerSettings(guidance=0), prompt=prompt,
                                prompt_mask=torch.ones_like(prompt, dtype=torch.bool))
    assert torch.equal(out, prompt) and m.calls == []
