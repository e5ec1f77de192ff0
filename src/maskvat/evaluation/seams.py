"""Seams where the windows of a long generation join: the sound's level around each boundary
against the same measure elsewhere in the clip, and onsets there that the truth does not have.

    db, times = short_time_level(wav, 44100)                   # 50 ms RMS every 10 ms, dB re full scale
    seams = seam_levels(wav, 44100, boundaries=[3.0, 4.0])     # dB above a typical stretch elsewhere

A boundary's *peak* is the highest short-time level within +-``half`` seconds of it; the
*reference* is the median peak of the stretches of the same length (2 * ``half``) that
tile the rest of the clip, clear of every boundary, of the first ``half`` seconds (the
start, reported on its own) and of the last. A seam shows as a peak well above the
reference; on a still picture, whose sound should not change, a join should read 0 dB.
Pure functions (numpy); used by ``benchmarks/seams.py`` and the seam regression test.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from maskvat.lab.score import match

FLOOR_DB = -120.0


def short_time_level(wav: np.ndarray, sample_rate: int, window: float = 0.05,
                     hop: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """(level [N] in dB re full scale, floored at -120 dB; times [N] s): the RMS of ``window``
    seconds centred on t = n * ``hop`` (the signal zero-padded at both ends). wav: [T]."""
    wav = np.asarray(wav, dtype=np.float64).reshape(-1)
    n, h = max(1, int(round(window * sample_rate))), max(1, int(round(hop * sample_rate)))
    power = np.concatenate([[0.0], np.cumsum(np.pad(wav, (n // 2, n - n // 2)) ** 2)])
    starts = np.arange(0, len(wav), h)
    rms = np.sqrt(np.maximum(power[starts + n] - power[starts], 0.0) / n)
    db = np.maximum(20 * np.log10(np.maximum(rms, 1e-12)), FLOOR_DB)
    return db, starts / sample_rate


@dataclass
class SeamLevels:
    """Levels in dB. joins: (boundary time s, its peak minus the reference); start: the same
    for the first ``half`` seconds; reference: the median peak elsewhere; median_level: the
    median short-time level outside every boundary zone (the issue's "the rest"); elsewhere:
    each other stretch's peak minus the reference (how often the clip rises that much
    anyway, away from any boundary)."""

    joins: list[tuple[float, float]]
    start: float
    reference: float
    median_level: float
    elsewhere: list[float]

    @property
    def worst_join(self) -> float:
        return max((d for _, d in self.joins), default=float("nan"))


def seam_levels(wav: np.ndarray, sample_rate: int, boundaries, *, half: float = 0.15, window: float = 0.05,
                hop: float = 0.01) -> SeamLevels:
    """Peak short-time level around each of ``boundaries`` (s) and in [0, half] against the
    median peak of the other stretches of 2 * ``half`` s. ValueError if no stretch is left
    to compare with (a clip too short for its boundaries)."""
    db, t = short_time_level(wav, sample_rate, window, hop)
    dur = len(np.asarray(wav).reshape(-1)) / sample_rate
    bounds = [float(b) for b in boundaries]
    busy = (t <= half) | (t >= dur - half)
    for b in bounds:
        busy |= np.abs(t - b) <= half
    width = 2 * half
    peaks = []
    for a in np.arange(half, dur - half - width + 1e-9, width):
        inside = (t >= a) & (t < a + width)
        if inside.any() and not (busy & inside).any():
            peaks.append(db[inside].max())
    if not peaks:
        raise ValueError(f"a {dur:.2f} s clip leaves no stretch clear of its boundaries to compare with")
    ref = float(np.median(peaks))
    joins = [(b, float(db[np.abs(t - b) <= half].max()) - ref) for b in bounds]
    return SeamLevels(joins, float(db[t <= half].max()) - ref, ref, float(np.median(db[~busy])),
                      [float(p) - ref for p in peaks])


def onsets_near(onsets, truth_times, boundaries, duration: float, *, half: float = 0.15,
                tol: float = 0.05) -> dict:
    """Detected onsets (s) that match no true onset within ``tol`` (one-to-one, as the lab
    scorer matches), counted within +-``half`` s of a boundary and elsewhere, with the
    seconds each covers: {"near": n, "near_s": s, "elsewhere": n, "elsewhere_s": s}."""
    onsets = np.asarray(onsets, dtype=float)
    matched = {j for _, j in match(np.asarray(truth_times, dtype=float), onsets, tol)}
    false = np.array([d for j, d in enumerate(onsets) if j not in matched])
    grid = np.arange(0.0, duration, 0.001)
    near_grid = np.zeros(len(grid), dtype=bool)
    near_false = np.zeros(len(false), dtype=bool)
    for b in boundaries:
        near_grid |= np.abs(grid - b) <= half
        near_false |= np.abs(false - b) <= half
    near_s = float(near_grid.mean() * duration)
    return {"near": int(near_false.sum()), "near_s": near_s, "elsewhere": int((~near_false).sum()),
            "elsewhere_s": duration - near_s}
