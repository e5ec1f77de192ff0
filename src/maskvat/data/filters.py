"""The paper's clip filters (4.0.1) as pure functions: where clips fall, and which to drop.

Defaults: clips of 10 s, none shorter than 10 s, video at 15 fps or more, audio not silent
(RMS above -60 dBFS). Each refusal is a short reason string that the cache logs.
"""

from __future__ import annotations

import math

import numpy as np


def plan_clips(available: tuple[float, float], clip_seconds: float, min_seconds: float,
               max_clips: int = 0) -> list[tuple[float, float]]:
    """(start, duration) of the clips cut from the time span ``available`` = (t0, t1):
    consecutive, non-overlapping ``clip_seconds`` windows from t0; a remainder of at least
    ``min_seconds`` becomes one shorter last clip. ``max_clips`` > 0 keeps the first ones."""
    t0, t1 = available
    span = t1 - t0
    n_full = int(math.floor(span / clip_seconds + 1e-9))
    plan = [(t0 + i * clip_seconds, clip_seconds) for i in range(n_full)]
    rest = span - n_full * clip_seconds
    if rest >= min_seconds - 1e-9 and rest > 1e-6:
        plan.append((t0 + n_full * clip_seconds, rest))
    return plan[:max_clips] if max_clips > 0 else plan


def too_low_fps(fps: float, min_fps: float) -> str | None:
    return f"video at {fps:.2f} fps, under {min_fps:g} fps" if fps < min_fps else None


def silence(wav: np.ndarray, floor_dbfs: float) -> str | None:
    """A reason if the RMS level of ``wav`` is below ``floor_dbfs`` (dB re full scale)."""
    rms = float(np.sqrt(np.mean(np.square(wav, dtype=np.float64)))) if len(wav) else 0.0
    level = 20 * math.log10(rms) if rms > 0 else -math.inf
    return f"silent audio ({level:.1f} dBFS RMS, floor {floor_dbfs:g})" if level < floor_dbfs else None
