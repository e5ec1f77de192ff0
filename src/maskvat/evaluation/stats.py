"""Bootstrap intervals over clips, as the papers' tables report them (``scipy.stats.bootstrap``:
clips drawn with replacement, percentile interval, seeded).

    lo, hi = bootstrap_mean([0.8, 0.7, 0.9, ...])              # 95 % interval of the mean over clips

A clip without a figure (NaN) is left out; fewer than 2 clips give (NaN, NaN).

Set-level Frechet distances (FDD, FDM, FAD, FD PANNs) get no interval: a draw with replacement
repeats clips, and fewer distinct frames inflate an FD (on 16 clips x 50 frames of 128 dims the
95 % interval came out 43.7-67.7 around a point estimate of 33.5): such an interval would not
even hold the figure it qualifies. Set-level figures are ranked without one.
"""

from __future__ import annotations

import numpy as np
import scipy.stats

REPS = 1000  # draws for the mean of a per-clip figure
LEVEL = 0.95


def bootstrap_mean(values, *, reps: int = REPS, seed: int = 0, level: float = LEVEL) -> tuple[float, float]:
    """(lo, hi) percentile interval of the mean of ``values`` [N] over clips."""
    x = np.asarray(values, np.float64)
    x = x[np.isfinite(x)]
    if len(x) < 2:
        return float("nan"), float("nan")
    if np.ptp(x) == 0:  # every clip alike: no spread to draw from
        return float(x[0]), float(x[0])
    res = scipy.stats.bootstrap((x,), np.mean, n_resamples=reps, confidence_level=level, method="percentile",
                                rng=np.random.default_rng(seed))
    return float(res.confidence_interval.low), float(res.confidence_interval.high)
