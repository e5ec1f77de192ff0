"""One step of guided, Gumbel-annealed parallel decoding, split into pure pieces
(VampNet's split: sampling from logits, then masking by confidence).

Shapes: logits [B, K, L, C]; tokens, mask [B, K, L].
"""

from __future__ import annotations

import torch


def guide(cond_logits: torch.Tensor, uncond_logits: torch.Tensor, gamma: float) -> torch.Tensor:
    """Classifier-free guidance: l_g = (1 + gamma) l_c - gamma l_u."""
    return (1 + gamma) * cond_logits - gamma * uncond_logits


def sample_from_logits(logits: torch.Tensor, generator: torch.Generator | None = None,
                       temperature: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Multinomial draw at every position: (tokens [B, K, L], log-probability of each draw [B, K, L])."""
    logp = torch.log_softmax(logits.float() / max(temperature, 1e-6), dim=-1)
    flat = logp.reshape(-1, logp.shape[-1]).exp()
    tokens = torch.multinomial(flat, 1, generator=generator).view(logp.shape[:-1])
    return tokens, logp.gather(-1, tokens[..., None])[..., 0]


def gumbel_noise(shape, generator: torch.Generator | None = None, device=None) -> torch.Tensor:
    """Gumbel(0, 1) samples: -log(-log U)."""
    where = generator.device if generator is not None else device
    u = torch.rand(shape, generator=generator, device=where).clamp_(1e-10, 1 - 1e-10)
    return (-torch.log(-torch.log(u))).to(device)


def annealed_delta(delta: float, step: int, n_steps: int) -> float:
    """delta_n = delta * (1 - (n + 1) / N): the Gumbel weight, falling to 0 at the last step."""
    return delta * (1 - (step + 1) / n_steps)


def confidence(logp: torch.Tensor, masked: torch.Tensor, delta_n: float,
               generator: torch.Generator | None = None) -> torch.Tensor:
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
