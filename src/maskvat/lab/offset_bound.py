"""Which A/V offsets a lab clip's truth allows for a (video window, shifted audio window) pair.

A sync judge sees a video window and an audio window that starts ``shift`` frames later. Where
a fan hums at one speed through both windows, every offset fits the pair equally well; where
its speed glides, or something is hit, only the true one does. This module asks the truth:
an offset fits when, over the frames the two windows would share under it, every source's
per-frame state agrees (the frames its hits land on; a fan's speed or a tap's flow, to within
``tol``). From the offsets that fit, ``best_within_one`` gives the within-one-class accuracy
of a judge that picks the best span of three classes among them, each fitting offset being
equally likely: an estimate of the ceiling on that window. It reads states, not sound, so a
judge can beat it where a hit's ringing tail or a ball's approach carries the offset.
"""

from __future__ import annotations

import numpy as np

from maskvat.lab.truth import ClipTruth


def source_states(truth: ClipTruth, n_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """(levels [S_c, n_frames] float: each fan's speed or tap's flow per frame, 0 when off;
    hits [S, n_frames] bool: the frames where each other source's events land)."""
    levels = [np.asarray(s["level_per_frame"], float)[:n_frames] for s in truth.sources if s["family"] == "continuous"]
    hits = np.zeros((len(truth.sources), n_frames), bool)
    for e in truth.events:
        if truth.sources[e.source]["family"] != "continuous" and e.frame < n_frames:
            hits[e.source, e.frame] = True
    return np.stack(levels) if levels else np.zeros((0, n_frames)), hits


def consistent_offsets(levels: np.ndarray, hits: np.ndarray, start: int, shift: int, window: int,
                       half: int, step: int, tol: float = 0.0) -> np.ndarray:
    """Offset classes [2 * half + 1] bool that fit the pair: the video window is frames
    [start, start + window), the audio window starts ``shift`` frames later.

    Class k claims the audio window starts (k - half) * step frames after the video window, so
    video frame u would sound at audio frame u - claimed + shift. The true class always fits.
    """
    n = hits.shape[1]
    if not (0 <= start + min(shift, 0) and start + max(shift, 0) + window <= n):
        raise ValueError(f"windows [{start}, +{window}) shifted by {shift} leave the clip's {n} frames")
    fits = np.zeros(2 * half + 1, bool)
    for k in range(2 * half + 1):
        claimed = (k - half) * step
        u = np.arange(max(start, start + claimed), min(start + window, start + claimed + window))
        heard = u - claimed + shift
        fits[k] = (not len(levels) or np.abs(levels[:, u] - levels[:, heard]).max(initial=0.0) <= tol) and bool(
            (hits[:, u] == hits[:, heard]).all())
    return fits


def best_within_one(fits: np.ndarray) -> float:
    """The chance a judge is within one class of the truth when it picks the best span of three
    classes among the fitting ones [K] bool, each equally likely to be the truth."""
    n = int(fits.sum())
    if n == 0:
        raise ValueError("no offset fits: the true one always does")
    return float(np.convolve(fits.astype(int), np.ones(3, int), mode="same").max() / n)
