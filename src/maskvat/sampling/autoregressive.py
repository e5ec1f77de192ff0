"""Autoregressive sampling of a codegram, step by step with a KV cache (V-AURA; the reference's
``VAURAModel.generate`` / ``_sample_next_token``, which recomputes the whole prefix at every step:
"no caching is implemented"; ours caches).

    codes = sample_autoregressive(model, cond, length=L, settings=SamplerSettings(), generator=g,
                                  uncond=uncond, prompt=prompt, prompt_mask=fixed)

Each sequence step (L + K - 1 of them with the delay pattern, ``maskvat.model.vaura``) runs the
conditional and the [NULL] pass as one batch of 2B rows over one new position, guides the
logits as MaskVAT does, l_g = (1 + gamma) l_c - gamma l_u (V-AURA's cfg_scale s is 1 + gamma:
its generation configs' s = 6 is gamma = 5), filters them (temperature, then top-k or nucleus;
V-AURA: top-k 128) and draws each level's code.

Fixed tokens (``prompt`` where ``prompt_mask``): the leading sequence steps whose tokens are all
fixed (a long video's window overlap: the previous window's tokens) are consumed in one pass, as
the prefix context; a fixed token later on is forced in place of the draw (editing). Both passes
of guidance see the fixed tokens (for an autoregressive model they are the history; V-AURA's
unconditional pass sees the same sequence), unlike MaskVAT's ``guide_prompt``.

``settings.steps`` and ``settings.diversity`` are MaskVAT's and not read here: every step is one
new sequence position.
"""

from __future__ import annotations

import torch
from tqdm import tqdm

from maskvat.errors import MaskvatError
from maskvat.model.vaura import VAURA, VisualCondition, from_sequence, to_sequence
from maskvat.sampling.sampler import SamplerSettings
from maskvat.sampling.steps import Generators, guide, multinomial_rows


# ---- pure pieces ---------------------------------------------------------------------------------
def filter_logits(logits: torch.Tensor, top_k: int = 0, top_p: float = 0.0) -> torch.Tensor:
    """logits [..., C] with -inf outside the ``top_k`` most likely codes (0: no cut) and outside the
    nucleus: the smallest set of most likely codes whose probability reaches ``top_p`` (0 or 1:
    no cut). The most likely code always stays."""
    if top_k and top_k < logits.shape[-1]:
        kth = logits.topk(top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if 0 < top_p < 1:
        order = logits.argsort(dim=-1, descending=True)
        probs = torch.softmax(logits.gather(-1, order), dim=-1)
        before = probs.cumsum(-1) - probs  # probability of the codes ranked above each one
        drop = torch.zeros_like(before, dtype=torch.bool).scatter(-1, order, before >= top_p)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def sample_next(logits: torch.Tensor, generator: Generators = None, temperature: float = 1.0,
                top_k: int = 0, top_p: float = 0.0) -> torch.Tensor:
    """One code per row: logits [..., C] -> codes [...], drawn from softmax(filtered logits / T)."""
    logits = filter_logits(logits.float() / max(temperature, 1e-6), top_k, top_p)
    return multinomial_rows(torch.softmax(logits, dim=-1), generator)


def choose(logits: torch.Tensor, known: torch.Tensor, fixed: torch.Tensor, settings: SamplerSettings,
           top_k: int, top_p: float, generator: Generators = None,
           uncond_logits: torch.Tensor | None = None) -> torch.Tensor:
    """The column of one sequence step: logits [B, K, C] (and the [NULL] pass's, guided when
    given), known [B, K] bool, fixed [B, K] codes -> codes [B, K] (the fixed code where known)."""
    if uncond_logits is not None:
        logits = guide(logits, uncond_logits, settings.guidance)
    drawn = sample_next(logits, generator, settings.temperature, top_k, top_p)
    return torch.where(known, fixed, drawn)


def leading_known(known: torch.Tensor) -> int:
    """How many leading sequence steps have every token known, in every item: known [B, K, S] -> P."""
    column = known.all(dim=(0, 1))
    return int(column.long().cumprod(0).sum())


# ---- the loop ------------------------------------------------------------------------------------
@torch.no_grad()
def sample_autoregressive(model: VAURA, cond: VisualCondition, length: int,
                          settings: SamplerSettings = SamplerSettings(), generator: Generators = None, *,
                          uncond: VisualCondition | None = None, prompt: torch.Tensor | None = None,
                          prompt_mask: torch.Tensor | None = None, use_cache: bool = True, progress: bool = False,
                          desc: str = "sampling") -> torch.Tensor:
    """Generate codes [B, K, length] for ``cond`` (``VAURA.condition``/``condition_pair`` at this
    length). uncond: the [NULL] condition, needed when guidance > 0. prompt [B, K, L] codes, kept
    where prompt_mask [B, K, L] is True. use_cache False recomputes the whole prefix at every step
    (what the reference does; for tests and timing: same logits to float rounding)."""
    cfg = model.config
    b, k = cond.visual.shape[0], cfg.n_levels
    device = cond.visual.device
    offsets, steps = cfg.offsets, cfg.steps(length)
    if cond.visual.shape[1] < steps:
        raise MaskvatError(f"the condition covers {cond.visual.shape[1]} steps; {length} frames need {steps}")
    guided = settings.guidance > 0
    if guided and uncond is None:
        raise ValueError("guidance > 0 needs the unconditional condition (uncond)")
    top_k = cfg.top_k if settings.top_k is None else settings.top_k
    top_p = cfg.top_p if settings.top_p is None else settings.top_p
    fixed_mask = torch.zeros(b, k, length, dtype=torch.bool, device=device)
    base = torch.zeros(b, k, length, dtype=torch.long, device=device)
    if prompt is not None:
        fixed_mask = prompt_mask.to(device).bool()
        base = torch.where(fixed_mask, prompt.to(device), base)
    # the sequence: padding (known) where a level has no frame, the fixed codes where given
    seq = to_sequence(base, offsets, cfg.pad_id)
    known = to_sequence(fixed_mask, offsets, True)
    visual = torch.cat([cond.visual, uncond.visual]) if guided else cond.visual

    def run(fed: torch.Tensor, start: int, cache):
        """The last step's logits ([B, K, C] each pass) for the columns ``fed`` from ``start``."""
        rows = torch.cat([fed, fed]) if guided else fed
        logits, cache = model.step(rows, visual[:, start:start + fed.shape[-1]], cache, start)
        last = logits[:, :, -1]
        return (last[:b], last[b:] if guided else None), cache

    bos = torch.full((b, k, 1), cfg.pad_id, dtype=torch.long, device=device)
    first = leading_known(known)
    if first >= steps:
        return from_sequence(seq, offsets, length)
    # the prefix (steps 0 ... first - 1, all known) and the first unknown step, in one pass
    (cond_logits, uncond_logits), cache = run(torch.cat([bos, seq[:, :, :first]], dim=2), 0, None)
    for s in tqdm(range(first, steps), desc=desc, unit="step", disable=not progress, leave=False):
        column = choose(cond_logits, known[:, :, s], seq[:, :, s], settings, top_k, top_p, generator, uncond_logits)
        seq[:, :, s] = column
        if s + 1 == steps:
            break
        if use_cache:
            (cond_logits, uncond_logits), cache = run(column[:, :, None], s + 1, cache)
        else:
            (cond_logits, uncond_logits), _ = run(torch.cat([bos, seq[:, :, :s + 1]], dim=2), 0, None)
    return from_sequence(seq, offsets, length)
