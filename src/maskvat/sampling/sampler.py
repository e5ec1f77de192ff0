"""Iterative parallel decoding of a codegram (paper 3.2.3, Fig. 2).

    codes = sample_codes(model, cond, length=L, settings=SamplerSettings(), generator=g)

Every step runs the conditional and the unconditional pass as one batch, guides the
logits, draws every masked position from its multinomial, and re-masks the lowest
confidences (log p + annealed Gumbel) so that the number still masked follows the cosine
schedule, counted per item. ``prompt``/``prompt_mask`` fix tokens (continuation across
long-video windows): they are never re-masked and not counted by the schedule.

Guidance with a prompt: by default the prompt counts as conditioning, so the
unconditional pass sees neither the video nor the prompt tokens (they are masked for it).
When it sees the prompt (``guide_prompt=False``), the unconditional model is surer than
the conditional one of how the prompt goes on in the frames just after it, and
(1 + gamma) l_c - gamma l_u turns that into a burst of unlikely tokens there: a thump
where each long-video window's new content begins (BENCHMARKS.md, "Seams").
"""

from __future__ import annotations

import torch
from tqdm import tqdm

from maskvat.model.maskvat import Conditioning, MaskVAT
from maskvat.sampling.schedule import still_masked
from maskvat.sampling.settings import SamplerSettings  # noqa: F401 - re-exported: its historical home
from maskvat.sampling.steps import (
    Generators,
    annealed_delta,
    confidence,
    guide,
    remask_lowest,
    sample_from_logits,
)


@torch.no_grad()
def sample_codes(model: MaskVAT, cond: Conditioning, length: int, settings: SamplerSettings = SamplerSettings(),
                 generator: Generators = None, *, uncond: Conditioning | None = None,
                 prompt: torch.Tensor | None = None, prompt_mask: torch.Tensor | None = None,
                 progress: bool = False, desc: str = "sampling") -> torch.Tensor:
    """Generate codes [B, K, L] for conditioning ``cond`` (batch B, already projected).

    uncond: the [NULL] conditioning of the same batch (``MaskVAT.condition_pair``), needed
    when guidance > 0. prompt: [B, K, L] codes, used where prompt_mask [B, K, L] is True;
    with ``settings.guide_prompt`` the unconditional pass sees them masked. progress: a bar of
    the steps, labelled ``desc`` (e.g. "window 3 of 20").
    """
    cfg = model.config
    b, k = cond.drop.shape[0], cfg.n_levels
    device = cond.drop.device
    codes = torch.full((b, k, length), cfg.mask_id, dtype=torch.long, device=device)
    if prompt is not None:
        fixed = prompt_mask.to(device)
        codes = torch.where(fixed, prompt.to(device), codes)
    masked = codes == cfg.mask_id
    total = masked.sum(dim=(1, 2))
    guided = settings.guidance > 0
    if guided and uncond is None:
        raise ValueError("guidance > 0 needs the unconditional conditioning (uncond)")
    both = model.with_modulation(Conditioning.cat(cond, uncond) if guided else cond)  # fixed for all steps
    # prompt positions the unconditional pass sees masked (None: it sees every token)
    hidden = fixed if prompt is not None and settings.guide_prompt and fixed.any() else None
    for n in tqdm(range(settings.steps), desc=desc, unit="step", disable=not progress, leave=False):
        if not masked.any():
            break
        if guided:
            plain = codes.masked_fill(hidden, cfg.mask_id) if hidden is not None else codes
        logits = model.decode(torch.cat([codes, plain]) if guided else codes, both)
        if guided:
            logits = guide(logits[:b], logits[b:], settings.guidance)
        tokens, logp = sample_from_logits(logits, generator, settings.temperature)
        conf = confidence(logp, masked, annealed_delta(settings.diversity, n, settings.steps), generator)
        new_masked = remask_lowest(conf, still_masked(total, n, settings.steps)) & masked
        codes = torch.where(masked & ~new_masked, tokens, codes)
        masked = new_masked
    return codes

