"""Anchors: sounds whose standing is known, scored by every metric, to catch a metric lying.

``anchor_sounds(references)`` makes, from the references' own sound, one "system" per anchor:

- ``truth``: the reference itself (every metric's best);
- ``truth +200 ms`` / ``truth -200 ms``: the reference late / early by 200 ms, shifted circularly
  (what falls off one end comes in at the other: the same sound, no silence added, so that only
  the timing differs): an alignment metric must score it worse than the truth;
- ``truth cut to 75%``: the first 75 % only (scored on the common span it must tie the truth);
- ``truth at 16 kHz``: resampled to 16 kHz and back (an 8 kHz band): how much a metric punishes
  bandwidth alone (reported, not judged: see the README for which metrics compare across rates);
- ``other clip's truth``: clip i gets clip i+1's reference (name order): right kind of sound,
  wrong clip;
- ``silence`` and ``white noise`` (seeded, at the reference's RMS level).

``verdicts(rows)`` checks each metric: the truth must beat silence, noise and another clip's
truth (set-level metrics compare sets, and the other clips' sounds are the same set: for them that
row is not judged), and, for alignment metrics, both 200 ms shifts. A metric failing any check is
flagged and its figures are not printed as scores.
"""

from __future__ import annotations

import numpy as np

from maskvat.media import resample

SHIFT_S = 0.2
CUT = 0.75
ANCHORS = ("truth", "truth +200 ms", "truth -200 ms", "truth cut to 75%", "truth at 16 kHz",
           "other clip's truth", "silence", "white noise")
MUST_BEAT = ("silence", "white noise", "other clip's truth")
ALIGNMENT_MUST_BEAT = ("truth +200 ms", "truth -200 ms")


def anchor_sounds(references: dict[str, np.ndarray], sample_rate: int, seed: int = 0) -> dict[str, dict[str, np.ndarray]]:
    """{anchor name: {stem: wav [T]}} from {stem: reference wav [T]} (see the module doc)."""
    stems = sorted(references)
    shift = int(round(SHIFT_S * sample_rate))
    out: dict[str, dict[str, np.ndarray]] = {a: {} for a in ANCHORS}
    for i, stem in enumerate(stems):
        wav = np.asarray(references[stem], np.float32)
        n = len(wav)
        out["truth"][stem] = wav
        out["truth +200 ms"][stem] = np.roll(wav, shift)
        out["truth -200 ms"][stem] = np.roll(wav, -shift)
        out["truth cut to 75%"][stem] = wav[: int(CUT * n)]
        out["truth at 16 kHz"][stem] = resample(resample(wav, sample_rate, 16000), 16000, sample_rate)[:n]
        out["other clip's truth"][stem] = np.asarray(references[stems[(i + 1) % len(stems)]], np.float32)
        out["silence"][stem] = np.zeros(n, np.float32)
        rms = float(np.sqrt(np.mean(wav.astype(np.float64) ** 2))) or 0.1
        out["white noise"][stem] = (rms * np.random.default_rng((seed, i)).standard_normal(n)).astype(np.float32)
    if len(stems) < 2:
        del out["other clip's truth"]
    return out


def verdicts(rows: dict[str, dict], metrics: dict) -> dict[str, dict]:
    """{metric: {"ok": bool, "failed": [anchor names the truth did not beat]}} for each metric the
    truth row has; ``metrics``: evaluate.METRICS (direction and kind of each)."""
    truth = rows["truth"]
    out = {}
    for name, spec in metrics.items():
        if name not in truth:
            continue
        t = truth[name]
        must = [a for a in MUST_BEAT if not (spec.kind == "set" and a == "other clip's truth")]
        if spec.kind == "alignment":
            must += list(ALIGNMENT_MUST_BEAT)
        failed = []
        for a in must:
            if a not in rows:
                continue
            v = rows[a].get(name, float("nan"))
            if not np.isfinite(t):
                failed.append(a)
            elif np.isfinite(v) and not (t > v if spec.higher else t < v):
                failed.append(a)
        out[name] = {"ok": not failed, "failed": failed}
    return out
