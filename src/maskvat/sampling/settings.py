"""The sampler's settings (paper 3.2.3 and 4.1), kept apart from the sampler: plain data, no
torch, so that the command line checks them in its first second, before the model's imports."""

from __future__ import annotations

from dataclasses import dataclass

from maskvat.errors import MaskvatError

MAX_STEPS = 1024


@dataclass(frozen=True)
class SamplerSettings:
    """Paper defaults: N = 32 steps, guidance gamma = 3, Gumbel diversity delta = 8.

    steps: decoding iterations N, 1 to MAX_STEPS; guidance: classifier-free guidance gamma
    (logits (1 + gamma) l_c - gamma l_u), >= 0; diversity: the Gumbel noise delta on the
    confidences, annealed to 0 over the steps, >= 0; temperature: of the token draw, > 0.
    top_k / top_p (V-AURA) and solver (VTA-LDM) apply to those generators only.
    Raises MaskvatError (one line, naming the option) for a value out of range."""

    steps: int = 32
    guidance: float = 3.0
    diversity: float = 8.0
    temperature: float = 1.0
    guide_prompt: bool = True  # guidance treats prompt tokens as conditioning (hidden from the unconditional pass)
    # autoregressive models only (V-AURA, ``maskvat.sampling.autoregressive``); None: the model's own default
    top_k: int | None = None  # keep the k most likely codes of each draw (0: all)
    top_p: float | None = None  # nucleus: the smallest set of codes holding this much probability (0: off)
    # flow models only (VTA-LDM, ``maskvat.sampling.flow``): "euler" or "heun"; None: the model's own default
    solver: str | None = None

    def __post_init__(self):
        if not 1 <= self.steps <= MAX_STEPS:
            raise MaskvatError(f"steps must be between 1 and {MAX_STEPS}, not {self.steps}")
        for name in ("guidance", "diversity"):
            if not getattr(self, name) >= 0:  # also NaN
                raise MaskvatError(f"{name} must be 0 or more, not {getattr(self, name)}")
        if not self.temperature > 0:
            raise MaskvatError(f"temperature must be more than 0, not {self.temperature}")
        if self.top_k is not None and self.top_k < 0:
            raise MaskvatError(f"top_k must be 0 or more, not {self.top_k}")
        if self.top_p is not None and not 0 <= self.top_p <= 1:  # also NaN
            raise MaskvatError(f"top_p must be between 0 and 1, not {self.top_p}")
        if self.solver not in (None, "euler", "heun"):
            raise MaskvatError(f"solver must be 'euler' or 'heun', not {self.solver!r}")

    def read_by(self, kind: str) -> dict:
        """The settings a generator family reads (``FAMILY_READS``; ``kind`` is a model folder's
        "kind": "maskvat", "vaura" or "vtaldm"), as {name: value}: what a run of that family used.
        guidance is read by all three; an unknown kind is taken as MaskVAT."""
        _, reads = FAMILY_READS.get(kind, FAMILY_READS["maskvat"])
        return {"guidance": self.guidance, **{key: getattr(self, key) for key in reads}}


# The sampler settings each generator family reads besides guidance: (its name, the fields). MaskVAT
# (``maskvat.sampling.sampler``) unmasks in N steps with Gumbel-noised confidences; V-AURA
# (``sampling.autoregressive``) draws every frame; VTA-LDM (``sampling.flow``) integrates an ODE.
FAMILY_READS = {"maskvat": ("MaskVAT", ("steps", "diversity", "temperature")),
                "vaura": ("V-AURA", ("temperature", "top_k", "top_p")),
                "vtaldm": ("VTA-LDM", ("steps", "solver"))}
