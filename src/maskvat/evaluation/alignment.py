"""Model-free alignment of a generated sound with its reference sound, for any real clips.

Both sounds go through the same onset detector, librosa's (``librosa.onset``: spectral flux of
a 128-band log-mel spectrogram, librosa's default peak picking), run at ``ONSET_RATE`` = 16 kHz
with a 1024-sample window and a 10 ms hop (``ONSET_HOP`` = 160 samples, 100 envelope frames/s),
with two changes: frames are padded by reflection, not zeros (a sound that starts loud does not
"start" with an onset at 40 ms, which every pair of sounds then matched for free), and a peak
counts only if its strength is at least ``MIN_ONSET_STRENGTH`` (2 dB of mean rise): librosa
normalises each envelope to its own maximum, so without a floor 8 s of steady noise, at any level,
gave about 100 "onsets" and matched any reference by chance.
From the two onset lists and the two onset-strength envelopes of one clip:

- onset precision / recall / F1 at +-50 ms and +-100 ms: one-to-one matching, closest pairs
  first (``maskvat.lab.score.match``); a clip with no reference onsets and no generated onsets
  has no figure; one without the other scores 0;
- ``onset_offset_ms``: the median |generated - reference| time of the onsets matched at +-100 ms;
- ``env_lag_ms``: |lag| of the peak of the cross-correlation of the two (mean-removed)
  onset-strength envelopes within +-``MAX_LAG_S``; a flat envelope (silence) has no figure.

Everything is computed on the clip's common span (the shorter of the two sounds): the
envelopes and onsets of each sound are computed once on the whole sound and cut to the span.

Chance controls (``controls``): the same generated sound against other clips' references
(``other_clip``: up to ``N_OTHER`` of them, the next clips in name order), and against its own
reference shifted circularly by 1/4, 1/2 and 3/4 of the span (``shifted``). A figure is only
worth reading as far as it beats both.
"""

from __future__ import annotations

from dataclasses import dataclass

import librosa
import numpy as np

from maskvat.dsp import best_lag
from maskvat.lab.score import match
from maskvat.media import resample

ONSET_RATE = 16000
ONSET_HOP = 160  # 10 ms: 100 envelope frames per second
ONSET_N_FFT = 1024
FRAME_S = ONSET_HOP / ONSET_RATE
TOLERANCES_MS = (50, 100)
# An onset must lift the log-mel spectrum by this much, in dB averaged over the 128 bands (librosa's
# onset strength, before its per-clip normalisation). Steady noise peaks at 1.38 at most (white, pink
# and brown noise at -70 to -20 dBFS: benchmarks/onset_floor.py noise); real stick hits at 5-30.
MIN_ONSET_STRENGTH = 2.0
MAX_LAG_S = 0.5
MIN_SPAN_S = 2.0  # the shifted control moves the reference by >= span / 4 >= MAX_LAG_S
N_OTHER = 8
SHIFT_FRACTIONS = (0.25, 0.5, 0.75)

# name -> True when higher is better
ALIGNMENT_METRICS = {
    **{f"onset_{k}_{t}": True for t in TOLERANCES_MS for k in ("f1", "p", "r")},
    "onset_offset_ms": False,
    "env_lag_ms": False,
}


@dataclass(frozen=True)
class OnsetTrack:
    """One sound's onset-strength envelope [F] (100 frames/s) and onset times [n] (s)."""

    envelope: np.ndarray
    onsets: np.ndarray

    def cut(self, span_s: float) -> "OnsetTrack":
        n = int(round(span_s / FRAME_S))
        return OnsetTrack(self.envelope[:n], self.onsets[self.onsets < span_s])

    def roll(self, shift_s: float, span_s: float) -> "OnsetTrack":
        """This (already cut) track shifted circularly by ``shift_s`` within ``span_s``."""
        frames = int(round(shift_s / FRAME_S))
        return OnsetTrack(np.roll(self.envelope, frames), np.sort((self.onsets + shift_s) % span_s))


def onset_track(wav: np.ndarray, sample_rate: int) -> OnsetTrack:
    """wav [T] at ``sample_rate`` -> its OnsetTrack (resampled to 16 kHz with soxr)."""
    y = resample(np.asarray(wav, np.float32), sample_rate, ONSET_RATE)
    if len(y) < ONSET_N_FFT:
        y = np.pad(y, (0, ONSET_N_FFT - len(y)))
    env = librosa.onset.onset_strength(y=y, sr=ONSET_RATE, hop_length=ONSET_HOP, n_fft=ONSET_N_FFT,
                                       pad_mode="reflect")
    frames = librosa.onset.onset_detect(onset_envelope=env, sr=ONSET_RATE, hop_length=ONSET_HOP, units="frames")
    frames = frames[env[frames] >= MIN_ONSET_STRENGTH]
    n = int(np.ceil(len(wav) / sample_rate / FRAME_S))
    return OnsetTrack(np.asarray(env[:n], np.float64), np.asarray(frames, np.float64) * FRAME_S)


def onset_scores(reference: np.ndarray, generated: np.ndarray) -> dict[str, float]:
    """P/R/F1 at each tolerance and the median |offset| (ms) of the +-100 ms matches, of two onset
    lists (s); NaN where undefined (no onsets on either side; no match for the offset)."""
    out: dict[str, float] = {}
    for tol in TOLERANCES_MS:
        if not len(reference) and not len(generated):
            out.update({f"onset_{k}_{tol}": float("nan") for k in ("f1", "p", "r")})
            continue
        pairs = match(reference, generated, tol / 1000.0)
        tp = len(pairs)
        p = tp / len(generated) if len(generated) else 0.0
        r = tp / len(reference) if len(reference) else 0.0
        out[f"onset_p_{tol}"], out[f"onset_r_{tol}"] = p, r
        out[f"onset_f1_{tol}"] = 2 * p * r / (p + r) if p + r else 0.0
        if tol == max(TOLERANCES_MS):
            offsets = [abs(generated[j] - reference[i]) * 1000.0 for i, j in pairs]
            out["onset_offset_ms"] = float(np.median(offsets)) if offsets else float("nan")
    return out


def envelope_lag_ms(reference: np.ndarray, generated: np.ndarray, max_lag_s: float = MAX_LAG_S) -> float:
    """|lag| (ms) maximising the cross-correlation of two envelopes [F] (same length), within
    +-``max_lag_s``; NaN when either envelope is flat."""
    n = min(len(reference), len(generated))
    a, b = generated[:n] - generated[:n].mean(), reference[:n] - reference[:n].mean()
    if n < 2 or a.std() < 1e-9 or b.std() < 1e-9:
        return float("nan")
    return abs(best_lag(a, b, int(round(max_lag_s / FRAME_S)))) * FRAME_S * 1000.0


def pair_alignment(reference: OnsetTrack, generated: OnsetTrack, span_s: float) -> dict[str, float]:
    """Every alignment figure of one pair, both tracks cut to ``span_s``."""
    ref, gen = reference.cut(span_s), generated.cut(span_s)
    return {**onset_scores(ref.onsets, gen.onsets), "env_lag_ms": envelope_lag_ms(ref.envelope, gen.envelope)}


def controls(references: list[OnsetTrack], generated: OnsetTrack, index: int, span_s: float,
             ref_seconds: list[float], gen_seconds: float) -> dict[str, dict[str, float]]:
    """The chance controls of clip ``index`` (generated track against the others' references and
    against its own reference shifted): {"other_clip": figures, "shifted": figures}, each figure
    the mean over the control's draws that define it (NaN if none does)."""
    others = [(index + k) % len(references) for k in range(1, min(len(references), N_OTHER + 1))]
    other = [pair_alignment(references[j], generated, min(ref_seconds[j], gen_seconds)) for j in others]
    ref = references[index].cut(span_s)
    shifted = [pair_alignment(ref.roll(f * span_s, span_s), generated, span_s) for f in SHIFT_FRACTIONS]
    return {"other_clip": _mean_dicts(other), "shifted": _mean_dicts(shifted)}


def _mean_dicts(rows: list[dict[str, float]]) -> dict[str, float]:
    out = {}
    for k in ALIGNMENT_METRICS:
        vals = [r[k] for r in rows if k in r and np.isfinite(r[k])]
        out[k] = float(np.mean(vals)) if vals else float("nan")
    return out
