"""One step of guided, Gumbel-annealed parallel decoding, split into pure pieces
(VampNet's split: sampling from logits, then masking by confidence).

Shapes: logits [B, K, L, C]; tokens, mask [B, K, L].

Random draws take ``generator``: one ``torch.Generator``, or a list of them, one per group of
consecutive rows (an item's beams in a batch of items): each group then draws from its own
generator exactly what it would draw alone, so an item's sound does not depend on the items
sampled beside it (``maskvat generate`` on a folder gives each video the sound it gets alone).
"""

from __future__ import annotations

from typing import Sequence, Union

import torch

Generators = Union[torch.Generator, Sequence[torch.Generator], None]


def row_groups(generator: Generators, rows: int) -> list[tuple[torch.Generator | None, slice]]:
    """[(generator, rows it draws for)]: one group of all ``rows`` for a single generator (or
    None); for a list of n generators, n equal groups of consecutive rows (rows % n must be 0)."""
    if generator is None or isinstance(generator, torch.Generator):
        return [(generator, slice(0, rows))]
    n = len(generator)
    if n == 0 or rows % n:
        raise ValueError(f"{rows} rows cannot be split evenly among {n} generators")
    per = rows // n
    return [(g, slice(i * per, (i + 1) * per)) for i, g in enumerate(generator)]


def _device(generator: Generators, device=None):
    if generator is None:
        return device
    return generator.device if isinstance(generator, torch.Generator) else generator[0].device


def rand_rows(shape, generator: Generators = None, device=None) -> torch.Tensor:
    """U[0, 1) samples of ``shape`` (rows on dim 0), each row group from its generator, on the
    generators' device (``device`` without one)."""
    return _rows(torch.rand, shape, generator, device)


def randn_rows(shape, generator: Generators = None, device=None) -> torch.Tensor:
    """N(0, 1) samples of ``shape``, drawn as :func:`rand_rows` draws."""
    return _rows(torch.randn, shape, generator, device)


def _rows(draw, shape, generator: Generators, device) -> torch.Tensor:
    where = _device(generator, device)
    return torch.cat([draw((rows.stop - rows.start, *shape[1:]), generator=g, device=where)
                      for g, rows in row_groups(generator, shape[0])])


def multinomial_rows(probs: torch.Tensor, generator: Generators = None) -> torch.Tensor:
    """One draw per position: probs [B, ..., C] (each row sums to 1) -> indices [B, ...], each row
    group drawn from its generator."""
    out = []
    for g, rows in row_groups(generator, probs.shape[0]):
        part = probs[rows]
        out.append(torch.multinomial(part.reshape(-1, part.shape[-1]), 1, generator=g).view(part.shape[:-1]))
    return torch.cat(out)


def guide(cond_logits: torch.Tensor, uncond_logits: torch.Tensor, gamma: float) -> torch.Tensor:
    """Classifier-free guidance: l_g = (1 + gamma) l_c - gamma l_u."""
    return (1 + gamma) * cond_logits - gamma * uncond_logits


def sample_from_logits(logits: torch.Tensor, generator: Generators = None,
                       temperature: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Multinomial draw at every position: (tokens [B, K, L], log-probability of each draw [B, K, L])."""
    logp = torch.log_softmax(logits.float() / max(temperature, 1e-6), dim=-1)
    tokens = multinomial_rows(logp.exp(), generator)
    return tokens, logp.gather(-1, tokens[..., None])[..., 0]


def gumbel_noise(shape, generator: Generators = None, device=None) -> torch.Tensor:
    """Gumbel(0, 1) samples: -log(-log U)."""
    u = rand_rows(shape, generator, device).clamp_(1e-10, 1 - 1e-10)
    return (-torch.log(-torch.log(u))).to(device)


def annealed_delta(delta: float, step: int, n_steps: int) -> float:
    """delta_n = delta * (1 - (n + 1) / N): the Gumbel weight, falling to 0 at the last step."""
    return delta * (1 - (step + 1) / n_steps)


def confidence(logp: torch.Tensor, masked: torch.Tensor, delta_n: float,
               generator: Generators = None) -> torch.Tensor:
    """log p + delta_n * Gumbel at masked positions; +inf elsewhere (never re-masked)."""
    conf = logp + delta_n * gumbel_noise(logp.shape, generator, logp.device)
    return torch.where(masked, conf, torch.full_like(conf, float("inf")))


def remask_lowest(conf: torch.Tensor, n_masked: torch.Tensor) -> torch.Tensor:
    """New mask [B, K, L]: per item b, the n_masked[b] positions of lowest confidence."""
    b = conf.shape[0]
    flat = conf.reshape(b, -1)
    order = flat.argsort(dim=1)
    ranks = torch.empty_like(order)
    ranks.scatter_(1, order, torch.arange(flat.shape[1], device=conf.device).expand(b, -1).contiguous())
    return (ranks < n_masked.to(conf.device)[:, None]).view(conf.shape)
