"""The sampler's pure pieces and the decoding loop on a tiny model."""

import pytest
import torch

from maskvat.model.config import model_config
from maskvat.model.maskvat import MaskVAT
from maskvat.sampling.sampler import SamplerSettings, sample_codes
from maskvat.sampling.schedule import schedule_table, still_masked
from maskvat.sampling.steps import (
    annealed_delta,
    confidence,
    guide,
    remask_lowest,
    sample_from_logits,
)

TINY = dict(d_model=32, n_layers=2, n_heads=4, enc_layers=1, n_levels=3, codebook_size=16, codec_hidden=8,
            max_frames=12, semantic_dim=6, sync_dim=5, audio_dim=4)


def test_schedule_is_per_item_monotone_and_ends_at_zero():
    total = torch.tensor([100, 7, 0, 1])
    table = schedule_table(total, 8)
    assert table.shape == (4, 8)
    assert (table[:, -1] == 0).all()
    assert (table[:, 1:] <= table[:, :-1]).all()
    assert (table[:, 0] <= total).all()
    # each item counts its own positions: item 1 follows its own cosine, not the batch's
    assert table[0, 0] == 98 and table[1, 0] == 6  # floor(100 cos(pi/16)), floor(7 cos(pi/16))
    assert still_masked(torch.tensor([1000]), 0, 32).item() == int(1000 * torch.cos(torch.tensor(torch.pi / 64)))


def test_guidance_formula_and_gamma_zero():
    lc, lu = torch.randn(2, 3, 4, 5), torch.randn(2, 3, 4, 5)
    assert torch.allclose(guide(lc, lu, 3.0), 4 * lc - 3 * lu)
    assert torch.equal(guide(lc, lu, 0.0), lc)


def test_sample_from_logits_follows_the_distribution():
    g = torch.Generator().manual_seed(0)
    logits = torch.log(torch.tensor([0.7, 0.2, 0.1])).expand(1, 1, 20000, 3)
    tokens, logp = sample_from_logits(logits, g)
    freq = torch.bincount(tokens.flatten(), minlength=3).float() / tokens.numel()
    assert torch.allclose(freq, torch.tensor([0.7, 0.2, 0.1]), atol=0.015)
    assert torch.allclose(logp[tokens == 0], torch.log(torch.tensor(0.7)))


def test_annealed_delta_and_confidence():
    assert annealed_delta(8.0, 0, 32) == pytest.approx(8 * 31 / 32)
    assert annealed_delta(8.0, 31, 32) == 0
    logp = torch.zeros(1, 1, 4)
    masked = torch.tensor([[[True, False, True, True]]])
    conf = confidence(logp, masked, 0.0)
    assert conf[0, 0, 1] == float("inf") and (conf[masked] == 0).all()


def test_remask_lowest_per_item():
    conf = torch.tensor([[[0.1, 0.5, float("inf"), 0.3]], [[0.9, 0.2, 0.4, 0.8]]])
    new = remask_lowest(conf, torch.tensor([2, 1]))
    assert new.tolist() == [[[True, False, False, True]], [[False, True, False, False]]]


def _model(seed=0):
    torch.manual_seed(seed)
    m = MaskVAT(model_config("lab-adaln-b", **TINY)).eval()
    for p in m.parameters():
        torch.nn.init.normal_(p, std=0.2)
    return m


def _feats(b=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, 4, 6, generator=g), torch.randn(b, 10, 5, generator=g)


def test_decoding_fills_every_position_and_is_reproducible(one_torch_thread):
    m = _model()
    sem, sync = _feats()
    cond, uncond = m.condition_pair(sem, sync, length=12)
    s = SamplerSettings(steps=6)
    a = sample_codes(m, cond, 12, s, torch.Generator().manual_seed(3), uncond=uncond)
    b = sample_codes(m, cond, 12, s, torch.Generator().manual_seed(3), uncond=uncond)
    assert a.shape == (2, 3, 12) and (a < 16).all() and (a >= 0).all()
    assert torch.equal(a, b)


def test_batch_of_two_equals_each_alone(one_torch_thread):
    m = _model()
    sem, sync = _feats()
    s = SamplerSettings(steps=5, diversity=0.0, temperature=1e-4)  # greedy: independent of RNG order
    cond, uncond = m.condition_pair(sem, sync, length=12)
    both = sample_codes(m, cond, 12, s, uncond=uncond)
    for i in range(2):
        c1, u1 = m.condition_pair(sem[i:i + 1], sync[i:i + 1], length=12)
        assert torch.equal(sample_codes(m, c1, 12, s, uncond=u1)[0], both[i])


def test_gamma_zero_is_plain_conditional_sampling(one_torch_thread):
    m = _model()
    sem, sync = _feats()
    cond, uncond = m.condition_pair(sem, sync, length=12)
    s = SamplerSettings(steps=4, guidance=0.0)
    a = sample_codes(m, cond, 12, s, torch.Generator().manual_seed(1), uncond=uncond)
    b = sample_codes(m, cond, 12, s, torch.Generator().manual_seed(1))  # no unconditional pass at all
    assert torch.equal(a, b)


def test_fixed_tokens_stay_fixed(one_torch_thread):
    m = _model()
    sem, sync = _feats()
    cond, uncond = m.condition_pair(sem, sync, length=12)
    prompt = torch.randint(0, 16, (2, 3, 12), generator=torch.Generator().manual_seed(5))
    fixed = torch.zeros(2, 3, 12, dtype=torch.bool)
    fixed[:, :, :4] = True
    out = sample_codes(m, cond, 12, SamplerSettings(steps=4), torch.Generator().manual_seed(0), uncond=uncond,
                       prompt=prompt, prompt_mask=fixed)
    assert torch.equal(out[fixed], prompt[fixed])
    assert (out < 16).all()


class _Recorder(torch.nn.Module):
    """Wraps a model: records the codes each ``decode`` call gets."""

    def __init__(self, model):
        super().__init__()
        self.inner, self.config, self.seen = model, model.config, []

    def with_modulation(self, cond):
        return self.inner.with_modulation(cond)

    def decode(self, codes, cond):
        self.seen.append(codes.clone())
        return self.inner.decode(codes, cond)


@pytest.mark.parametrize("guide_prompt", [True, False])
def test_guidance_hides_the_prompt_from_the_unconditional_pass(guide_prompt, one_torch_thread):
    m = _Recorder(_model())
    sem, sync = _feats()
    cond, uncond = m.inner.condition_pair(sem, sync, length=12)
    prompt = torch.randint(0, 16, (2, 3, 12), generator=torch.Generator().manual_seed(5))
    fixed = torch.zeros(2, 3, 12, dtype=torch.bool)
    fixed[:, :, :4] = True
    settings = SamplerSettings(steps=3, guide_prompt=guide_prompt)
    out = sample_codes(m, cond, 12, settings, torch.Generator().manual_seed(0), uncond=uncond, prompt=prompt,
                       prompt_mask=fixed)
    assert torch.equal(out[fixed], prompt[fixed])  # the prompt is kept either way
    mask_id = m.config.mask_id
    for codes in m.seen:  # each call: the conditional half, then the unconditional half
        conditional, unconditional = codes[:2], codes[2:]
        assert torch.equal(conditional[fixed], prompt[fixed])
        if guide_prompt:  # the prompt counts as conditioning: the unconditional pass sees it masked
            assert (unconditional[fixed] == mask_id).all()
        else:
            assert torch.equal(unconditional[fixed], prompt[fixed])
        # what was sampled so far is seen by both passes
        assert torch.equal(conditional[~fixed], unconditional[~fixed])
    assert len(m.seen) == 3


def test_row_generators_draw_for_each_group_what_it_draws_alone():
    """A list of generators splits the rows into equal groups, each drawn as it would be alone:
    a video's draws do not depend on the videos batched beside it."""
    from maskvat.sampling.steps import multinomial_rows, rand_rows, randn_rows, row_groups

    probs = torch.softmax(torch.randn(4, 3, 5, 7, generator=torch.Generator().manual_seed(1)), -1)  # 2 items x 2 beams
    seeded = lambda: torch.Generator().manual_seed(9)  # noqa: E731
    together = multinomial_rows(probs, [seeded(), seeded()])
    assert together.shape == (4, 3, 5)
    for item in range(2):
        rows = slice(2 * item, 2 * item + 2)
        assert torch.equal(together[rows], multinomial_rows(probs[rows], seeded()))
    # one generator for all rows: the flat draw it always was
    flat = torch.multinomial(probs.reshape(-1, 7), 1, generator=seeded()).view(4, 3, 5)
    assert torch.equal(multinomial_rows(probs, seeded()), flat)
    for draw in (rand_rows, randn_rows):
        both = draw((4, 6), [seeded(), seeded()])
        assert torch.equal(both[:2], draw((2, 6), seeded())) and torch.equal(both[2:], both[:2])
    with pytest.raises(ValueError, match="5 rows cannot be split evenly among 2"):
        row_groups([seeded(), seeded()], 5)
