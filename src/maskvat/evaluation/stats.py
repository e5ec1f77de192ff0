"""Bootstrap intervals over clips (seeded), as the papers' tables report them.

    lo, hi = bootstrap_mean([0.8, 0.7, 0.9, ...])            # 95 % interval of the mean over clips
    lo, hi = bootstrap_sets(gen_feats, ref_feats, frechet_distance, reps=100)   # a set-level score

Clips are drawn with replacement (percentile interval, ``reps`` draws, ``numpy`` generator
seeded with ``seed``); NaN values (a clip without that figure) are left out of each draw's mean.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

REPS = 1000
SET_REPS = 100


def bootstrap_mean(values, *, reps: int = REPS, seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """(lo, hi) percentile interval of the mean of ``values`` [N] over clips; NaNs if < 2 values."""
    x = np.asarray(values, np.float64)
    x = x[np.isfinite(x)]
    if len(x) < 2:
        return float("nan"), float("nan")
    idx = np.random.default_rng(seed).integers(0, len(x), size=(reps, len(x)))
    means = x[idx].mean(axis=1)
    a = (1 - level) / 2
    return float(np.quantile(means, a)), float(np.quantile(means, 1 - a))


def bootstrap_sets(generated: list[np.ndarray], reference: list[np.ndarray], score: Callable, *,
                   reps: int = SET_REPS, seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """(lo, hi) of ``score(concat(generated[i]), concat(reference[i]))`` over clip draws i (each
    clip's [n_i, D] features of both sides drawn together); NaNs if fewer than 2 clips."""
    n = len(generated)
    if n < 2:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    vals = []
    for _ in range(reps):
        idx = rng.integers(0, n, size=n)
        try:
            vals.append(score(np.concatenate([generated[i] for i in idx]), np.concatenate([reference[i] for i in idx])))
        except ValueError:  # a draw with too few embeddings
            continue
    if len(vals) < 2:
        return float("nan"), float("nan")
    a = (1 - level) / 2
    return float(np.quantile(vals, a)), float(np.quantile(vals, 1 - a))
