"""Sampling cost of the three paradigms at the lab size: MaskVAT (parallel masked decoding,
N steps, CFG) against V-AURA (autoregressive, every sequence step, CFG, KV cache) and VTA-LDM
(flow matching over the codec latent: a few Euler/Heun ODE steps, CFG, then the search for the
nearest codes with the shipped lab codec's tables).

    python benchmarks/paradigm_speed.py --seconds 4 --threads 2
    python benchmarks/paradigm_speed.py --seconds 10 --threads 2 --json out.json

The generators are built from the configs' model names (configs/lab-adaln-b.json,
configs/lab-vaura.json, configs/lab-vtaldm.json) with RANDOM weights: the cost of a forward pass does not depend on the
weights, and the tokens drawn only change which codes are looked up. What is timed is the
generator's sampling of one window of ``--seconds`` of codegram (86.13 frames a second), from
projected features to codes: not the feature encoders and not the codec decoder, which the two
share. Reported per paradigm: network calls (one call = the conditional and the [NULL] pass as
one batch of 2), wall seconds (time.perf_counter) and CPU seconds of this process
(time.process_time, all threads), and both scaled linearly to 10 s of sound (an estimate: V-AURA's
attention grows with the prefix, so its scaled figure is a lower bound past the window measured).
The machine may be shared: run it alone for figures to quote.

``maskvat_clip``, ``vaura_clip`` and ``vtaldm_clip`` (one window of each paradigm, on any device
and dtype) are also what ``benchmarks/paper_gpu.py`` times at the paper sizes on a GPU (its
"paradigms" section).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch

from maskvat.codec.tokenizer import AudioTokenizer
from maskvat.model.config import model_config
from maskvat.model.maskvat import MaskVAT
from maskvat.model.vaura import VAURA
from maskvat.model.vtaldm import VTALDM
from maskvat.sampling.autoregressive import sample_autoregressive
from maskvat.sampling.flow import sample_latent
from maskvat.sampling.sampler import SamplerSettings, sample_codes

REPO = Path(__file__).resolve().parents[1]


def config_model(name: str):
    cfg = json.loads((REPO / "configs" / name).read_text())
    return model_config(cfg["model"], **cfg.get("model_overrides", {}))


def features(cfg, seconds: float, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    sem = torch.randn(1, max(1, round(seconds * cfg.semantic_fps)), cfg.semantic_dim, generator=g)
    syn = torch.randn(1, max(1, round(seconds * cfg.sync_fps)), cfg.sync_dim, generator=g)
    return sem, syn


class Counter:
    """Counts calls of one method of a model (wrapped in place)."""

    def __init__(self, model, method: str):
        self.n, real = 0, getattr(model, method)

        def counted(*a, **k):
            self.n += 1
            return real(*a, **k)

        setattr(model, method, counted)


def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


# ---- one clip of each paradigm, shared with paper_gpu.py (its "paradigms" section) ----------------
# Each builds a zero-argument function that samples one window from the features (on their device
# and in the model's dtype), so that a caller can count the network calls and time it as it likes.
def _generator(ref: torch.Tensor, seed: int) -> torch.Generator:
    return torch.Generator(device=ref.device).manual_seed(seed)


def maskvat_clip(model: MaskVAT, sem, syn, length: int, settings: SamplerSettings, seed: int = 0):
    """Parallel masked decoding: ``settings.steps`` decoder calls (conditional + [NULL] rows in one)."""

    @torch.no_grad()
    def go():
        cond, uncond = model.condition_pair(sem, syn, length=length)
        return sample_codes(model, cond, length, settings, _generator(sem, seed), uncond=uncond)

    return go


def vaura_clip(model: VAURA, sem, syn, length: int, settings: SamplerSettings, seed: int = 0):
    """Autoregressive with a KV cache: one ``step`` call per sequence step, ``config.steps(length)``
    (L plus the delay pattern's K - 1 extra steps)."""

    @torch.no_grad()
    def go():
        cond, uncond = model.condition_pair(sem, syn, length=length)
        return sample_autoregressive(model, cond, length, settings, _generator(sem, seed), uncond=uncond)

    return go


def vtaldm_clip(model: VTALDM, sem, syn, length: int, settings: SamplerSettings, seed: int = 0, codec=None):
    """Flow matching: ``settings.steps`` ODE steps, one ``velocity`` call each (Euler) or two (Heun);
    returns the latent [B, H, L], or with ``codec`` (an ``AudioTokenizer``) the nearest codes."""

    @torch.no_grad()
    def go():
        cond, uncond = model.condition_pair(sem, syn, length=length)
        latent = sample_latent(model, cond, length, settings, _generator(sem, seed), uncond=uncond)
        return latent if codec is None else codec.nearest_codes(latent)

    return go


def run_maskvat(seconds: float, steps: int, guidance: float, seed: int) -> dict:
    cfg = config_model("lab-adaln-b.json")
    torch.manual_seed(seed)
    model = MaskVAT(cfg).eval()
    length = math.ceil(seconds * 44100 / 512)
    sem, syn = features(cfg, seconds, seed)
    counter = Counter(model, "decode")
    codes, wall, cpu = timed(maskvat_clip(model, sem, syn, length, SamplerSettings(steps=steps, guidance=guidance),
                                          seed))
    assert codes.shape[-1] == length and (codes < cfg.codebook_size).all()
    return {"model": "MaskVAT lab-adaln-b", "parameters": model.num_parameters(), "frames": length,
            "network_calls": counter.n, "wall_s": wall, "cpu_s": cpu, "settings": f"N = {steps}, CFG gamma {guidance}"}


def run_vaura(seconds: float, guidance: float, top_k: int, seed: int) -> dict:
    cfg = config_model("lab-vaura.json")
    torch.manual_seed(seed)
    model = VAURA(cfg).eval()
    length = math.ceil(seconds * 44100 / 512)
    sem, syn = features(cfg, seconds, seed)
    counter = Counter(model, "step")
    codes, wall, cpu = timed(vaura_clip(model, sem, syn, length, SamplerSettings(guidance=guidance, top_k=top_k),
                                        seed))
    assert codes.shape[-1] == length and (codes < cfg.codebook_size).all()
    return {"model": "V-AURA lab-vaura", "parameters": model.num_parameters(), "frames": length,
            "network_calls": counter.n, "wall_s": wall, "cpu_s": cpu,
            "settings": f"{cfg.pattern} pattern, {cfg.steps(length)} steps, KV cache, CFG gamma {guidance}, top-k {top_k}"}


def run_vtaldm(seconds: float, steps: int, solver: str, guidance: float, seed: int) -> dict:
    cfg = config_model("lab-vtaldm.json")
    torch.manual_seed(seed)
    model = VTALDM(cfg).eval()
    codec = AudioTokenizer.from_pretrained(cfg.codec)
    length = math.ceil(seconds * 44100 / 512)
    sem, syn = features(cfg, seconds, seed)
    counter = Counter(model, "velocity")
    settings = SamplerSettings(steps=steps, guidance=guidance, solver=solver)
    codes, wall, cpu = timed(vtaldm_clip(model, sem, syn, length, settings, seed, codec=codec))
    assert codes.shape[-1] == length and (codes < cfg.codebook_size).all()
    return {"model": "VTA-LDM lab-vtaldm", "parameters": model.num_parameters(), "frames": length,
            "network_calls": counter.n, "wall_s": wall, "cpu_s": cpu,
            "settings": f"{solver}, {steps} steps, CFG gamma {guidance}, nearest-codes search included"}


def main(argv=None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=10.0, help="window of sound sampled (s)")
    p.add_argument("--threads", type=int, default=2, help="torch threads")
    p.add_argument("--steps", type=int, default=32, help="MaskVAT decoding steps N")
    p.add_argument("--guidance", type=float, default=3.0, help="CFG gamma for both")
    p.add_argument("--top-k", type=int, default=128, help="V-AURA's top-k")
    p.add_argument("--flow-steps", type=int, default=16, help="VTA-LDM's ODE steps")
    p.add_argument("--solver", choices=("euler", "heun"), default="heun", help="VTA-LDM's ODE solver")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None, help="also write the rows here")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    run_maskvat(0.1, 2, args.guidance, args.seed)  # warm-up (first-call costs), not reported
    run_vaura(0.1, args.guidance, args.top_k, args.seed)
    run_vtaldm(0.1, 1, args.solver, args.guidance, args.seed)
    rows = [run_maskvat(args.seconds, args.steps, args.guidance, args.seed),
            run_vaura(args.seconds, args.guidance, args.top_k, args.seed),
            run_vtaldm(args.seconds, args.flow_steps, args.solver, args.guidance, args.seed)]
    scale = 10.0 / args.seconds
    print(f"random weights; one window of {args.seconds:g} s; {args.threads} torch threads; generator only "
          "(no encoders, no codec decode)")
    print(f"{'model':22} {'params':>8} {'frames':>6} {'calls':>6} {'wall s':>8} {'CPU s':>8} "
          f"{'wall s/10 s':>12} {'CPU s/10 s':>11}  settings")
    for r in rows:
        r["wall_s_per_10s_scaled"], r["cpu_s_per_10s_scaled"] = r["wall_s"] * scale, r["cpu_s"] * scale
        print(f"{r['model']:22} {r['parameters'] / 1e6:7.2f}M {r['frames']:6d} {r['network_calls']:6d} "
              f"{r['wall_s']:8.2f} {r['cpu_s']:8.2f} {r['wall_s_per_10s_scaled']:12.2f} "
              f"{r['cpu_s_per_10s_scaled']:11.2f}  {r['settings']}")
    m = rows[0]
    for name, r in (("V-AURA", rows[1]), ("VTA-LDM", rows[2])):
        print(f"{name} / MaskVAT: {r['network_calls'] / m['network_calls']:.1f}x the calls, "
              f"{r['wall_s'] / m['wall_s']:.1f}x the wall time, {r['cpu_s'] / m['cpu_s']:.1f}x the CPU time")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return rows


if __name__ == "__main__":
    main()
