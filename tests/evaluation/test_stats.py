"""Bootstrap intervals over clips (scipy.stats.bootstrap)."""

import numpy as np

from maskvat.evaluation.stats import bootstrap_mean


def test_bootstrap_interval_holds_the_mean_and_narrows_with_more_clips():
    rng = np.random.default_rng(0)
    few, many = rng.normal(0.5, 0.2, 10), rng.normal(0.5, 0.2, 400)
    lo, hi = bootstrap_mean(few)
    assert lo < few.mean() < hi
    lo2, hi2 = bootstrap_mean(many)
    assert lo2 < many.mean() < hi2 and (hi2 - lo2) < (hi - lo) / 3  # ~ 1 / sqrt(n)
    assert bootstrap_mean(few, seed=1) != (lo, hi) and bootstrap_mean(few) == (lo, hi)  # seeded


def test_bootstrap_leaves_out_clips_without_a_figure():
    x = np.array([0.1, np.nan, 0.3, 0.2, np.nan])
    assert bootstrap_mean(x) == bootstrap_mean(x[np.isfinite(x)])
    assert all(np.isnan(bootstrap_mean([0.4, np.nan])))  # one clip: no interval
    assert bootstrap_mean([0.7, 0.7, 0.7]) == (0.7, 0.7)
