"""Few-step ODE sampling of a flow-matching generator's latent (``maskvat.model.vtaldm``).

    latent = sample_latent(model, cond, length=L, settings=SamplerSettings(steps=16), generator=g,
                           uncond=uncond)                     # [B, H, L], codec units
    codes = codec.nearest_codes(latent)                       # then the codec's decoder

The learned velocity field v(x, t) carries Gaussian noise at t = 0 to the latent at t = 1;
sampling integrates dx/dt = v from 0 to 1 on ``settings.steps`` equal steps with Euler (one
network pass per step) or Heun (two: the trapezoid rule with an Euler predictor, second order;
Karras et al. 2022 use it for diffusion ODEs). Both passes of classifier-free guidance run as one
batch, combined as the other generators combine logits: v_g = (1 + gamma) v_c - gamma v_u
(``maskvat.sampling.steps.guide``; VTA-LDM's scale s is 1 + gamma).

Fixed frames (``prompt_latent`` where ``keep``: a long video's window overlap, an edit's kept
sound): after every step those frames are put back on their own straight path,
x_t = (1 - t) x_0 + t x_known, with the same noise x_0 as the rest (replacement inpainting), so
at t = 1 they are the known latent and the generated frames beside them were integrated
knowing them. ``settings.diversity``, ``top_k`` / ``top_p`` and ``guide_prompt`` are the token
samplers' and not read here.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise

import torch
from tqdm import tqdm

from maskvat.errors import MaskvatError
from maskvat.model.vtaldm import SOLVERS, VTALDM, VisualMemory
from maskvat.sampling.sampler import SamplerSettings
from maskvat.sampling.steps import Generators, guide, randn_rows


# ---- pure pieces ---------------------------------------------------------------------------------
def time_grid(steps: int) -> list[float]:
    """steps + 1 equally spaced flow times from 0 (noise) to 1 (data)."""
    if steps < 1:
        raise MaskvatError(f"an ODE needs at least one step, not {steps}")
    return [i / steps for i in range(steps + 1)]


def integrate(velocity: Callable[[torch.Tensor, float], torch.Tensor], x0: torch.Tensor, times: list[float],
              solver: str = "heun", after_step: Callable[[torch.Tensor, float], torch.Tensor] | None = None,
              progress: bool = False, desc: str = "sampling") -> torch.Tensor:
    """Integrate dx/dt = velocity(x, t) from times[0] to times[-1], starting at x0.

    Euler: x += h v(x, t). Heun: x += h/2 (v(x, t) + v(x + h v(x, t), t + h)). Euler is exact for a
    velocity constant in t, Heun for one linear in t (the trapezoid rule). ``after_step(x, t)``
    (optional) may change x after each step (fixed frames)."""
    if solver not in SOLVERS:
        raise MaskvatError(f"unknown ODE solver {solver!r} (choose from {', '.join(SOLVERS)})")
    x = x0
    pairs = list(pairwise(times))
    for t0, t1 in tqdm(pairs, desc=desc, unit="step", disable=not progress, leave=False):
        h = t1 - t0
        k1 = velocity(x, t0)
        if solver == "euler":
            x = x + h * k1
        else:
            k2 = velocity(x + h * k1, t1)
            x = x + 0.5 * h * (k1 + k2)
        if after_step is not None:
            x = after_step(x, t1)
    return x


def guided_velocity(model: VTALDM, memory: VisualMemory, gamma: float) -> Callable[[torch.Tensor, float], torch.Tensor]:
    """v(x, t) of ``model`` under ``memory``; with gamma > 0, ``memory`` holds the conditional
    rows then the [NULL] rows (2B) and v = (1 + gamma) v_c - gamma v_u, both in one pass."""

    def velocity(x: torch.Tensor, t: float) -> torch.Tensor:
        b = x.shape[0]
        if gamma > 0:
            both = model.velocity(torch.cat([x, x]), torch.full((2 * b,), t, device=x.device), memory)
            return guide(both[:b].float(), both[b:].float(), gamma)
        return model.velocity(x, torch.full((b,), t, device=x.device), memory).float()

    return velocity


# ---- the sampler -------------------------------------------------------------------------------------
@torch.no_grad()
def sample_latent(model: VTALDM, cond: VisualMemory, length: int, settings: SamplerSettings = SamplerSettings(),
                  generator: Generators = None, *, uncond: VisualMemory | None = None,
                  prompt_latent: torch.Tensor | None = None, keep: torch.Tensor | None = None,
                  noise: torch.Tensor | None = None, progress: bool = False, desc: str = "sampling") -> torch.Tensor:
    """Generate latents [B, H, L] (codec units) for the visual memory ``cond`` (batch B).

    uncond: the [NULL] memory of the same batch (``VTALDM.condition_pair``), needed when
    guidance > 0. prompt_latent: [B, H, L] codec units, kept where keep [B, L] is True.
    noise: the starting point x_0 [B, L, H] (default: drawn from ``generator``). The solver is
    ``settings.solver`` or the model's (``config.solver``); ``settings.steps`` steps."""
    cfg = model.config
    b, device = cond.drop.shape[0], cond.drop.device
    guided = settings.guidance > 0
    if guided and uncond is None:
        raise ValueError("guidance > 0 needs the unconditional memory (uncond)")
    if noise is None:
        noise = randn_rows((b, length, cfg.codec_hidden), generator, device)
    x0 = noise.to(device, torch.float32)
    memory = VisualMemory.cat(cond, uncond) if guided else cond
    after = None
    if prompt_latent is not None and keep is not None and keep.any():
        known = model.normalise(prompt_latent.to(device)).float()
        fixed = keep.to(device)[:, :, None]

        def after(x: torch.Tensor, t: float) -> torch.Tensor:
            return torch.where(fixed, (1 - t) * x0 + t * known, x)

    x1 = integrate(guided_velocity(model, memory, settings.guidance), x0, time_grid(settings.steps),
                   settings.solver or cfg.solver, after, progress, desc)
    return model.denormalise(x1.to(model.latent_std.dtype)).float()
