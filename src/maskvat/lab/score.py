"""Scoring audio against a clip's true events: precision, recall, F1 and timing error.

Rules (documented, the same for every audio scored, the ground truth's own included):
- Counted truth events are hits and the *starts* of continuous sounds (their ends are not
  onsets). Distractors have no events, so any sound they "make" is a false positive.
- Truth onsets less than ``MERGE_S`` apart (the detector's minimum gap) are merged into one
  onset at the earliest time: no onset detector separates two simultaneous hits.
- Matching is one-to-one within +-``tol`` (50 ms), closest pairs first.
- Per family: recall over the merged onsets that family takes part in; an unmatched
  detection is charged to the family of the nearest truth onset (``none`` if the clip has none).
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

import numpy as np

from maskvat.errors import MaskvatError
from maskvat.lab.onsets import MIN_GAP_S, detect_onsets
from maskvat.lab.truth import Event, load_truth
from maskvat.media import read_audio
from maskvat.media.formats import AUDIO_SUFFIXES as SOUND_SUFFIXES
from maskvat.media.formats import VIDEO_SUFFIXES

TOLERANCE_S = 0.05
MERGE_S = MIN_GAP_S
# Where a clip's sound is looked for, in this order: sound files first, then muxed videos.
AUDIO_SUFFIXES = (".wav", ".flac", *sorted((SOUND_SUFFIXES | VIDEO_SUFFIXES) - {".wav", ".flac"}))


def merge_onsets(events: list[Event], merge_s: float = MERGE_S) -> list[tuple[float, set[str]]]:
    """[(time, families)] of onset events, those within ``merge_s`` of a group's first merged."""
    groups: list[tuple[float, set[str]]] = []
    for e in sorted((e for e in events if e.kind == "onset"), key=lambda e: e.time):
        if groups and e.time - groups[-1][0] < merge_s:
            groups[-1][1].add(e.family)
        else:
            groups.append((e.time, {e.family}))
    return groups


def match(truth_times: np.ndarray, detected: np.ndarray, tol: float = TOLERANCE_S) -> list[tuple[int, int]]:
    """One-to-one (truth index, detection index) pairs within ``tol``, closest first."""
    pairs = [(abs(d - t), i, j) for i, t in enumerate(truth_times) for j, d in enumerate(detected) if abs(d - t) <= tol]
    used_t, used_d, out = set(), set(), []
    for _, i, j in sorted(pairs):
        if i not in used_t and j not in used_d:
            used_t.add(i)
            used_d.add(j)
            out.append((i, j))
    return out


class Tally:
    """Counts and offsets, overall and per family, summed over clips (micro average)."""

    def __init__(self):
        self.counts = defaultdict(lambda: {"tp": 0, "fp": 0, "fn": 0})
        self.offsets_ms = defaultdict(list)

    def add_clip(self, events: list[Event], onsets: np.ndarray, tol: float = TOLERANCE_S) -> None:
        groups = merge_onsets(events)
        times = np.array([g[0] for g in groups])
        pairs = match(times, np.asarray(onsets), tol)
        matched_t = {i for i, _ in pairs}
        matched_d = {j for _, j in pairs}
        for i, j in pairs:
            offset = (onsets[j] - times[i]) * 1000.0
            for fam in ("all", *groups[i][1]):
                self.counts[fam]["tp"] += 1
                self.offsets_ms[fam].append(offset)
        for i, (_, fams) in enumerate(groups):
            if i not in matched_t:
                for fam in ("all", *fams):
                    self.counts[fam]["fn"] += 1
        for j, d in enumerate(onsets):
            if j not in matched_d:
                fam = sorted(groups[int(np.argmin(np.abs(times - d)))][1])[0] if len(groups) else "none"
                self.counts["all"]["fp"] += 1
                self.counts[fam]["fp"] += 1

    def summary(self) -> dict:
        return {fam: _stats(c, self.offsets_ms[fam]) for fam, c in sorted(self.counts.items(), key=lambda kv: kv[0] != "all")}


def _stats(c: dict, offsets: list[float]) -> dict:
    tp, fp, fn = c["tp"], c["fp"], c["fn"]
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    a = np.abs(offsets)
    return {
        "n_truth": tp + fn, "n_detected": tp + fp, "tp": tp, "fp": fp, "fn": fn,
        "precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0,
        "median_abs_offset_ms": float(np.median(a)) if len(a) else None,
        "mean_abs_offset_ms": float(np.mean(a)) if len(a) else None,
        "median_offset_ms": float(np.median(offsets)) if len(offsets) else None,
    }


def score_onsets(events: list[Event], onsets: np.ndarray, tol: float = TOLERANCE_S) -> dict:
    """Scores of one clip's detected ``onsets`` (seconds) against its true ``events``."""
    tally = Tally()
    tally.add_clip(events, np.asarray(onsets, dtype=float), tol)
    return tally.summary()


def find_audio(audio_dir: Path, clip_id: str) -> Path | None:
    for suffix in AUDIO_SUFFIXES:
        path = audio_dir / f"{clip_id}{suffix}"
        if path.is_file():
            return path
    return None


def score_dirs(truth_dir: str | os.PathLike, audio_dir: str | os.PathLike, tol: float = TOLERANCE_S,
               progress: bool = False) -> dict:
    """Score every clip of ``truth_dir`` (its *.json) against the same-stem audio in ``audio_dir``."""
    from tqdm import tqdm

    truth_dir, audio_dir = Path(truth_dir), Path(audio_dir)
    for d, what in ((truth_dir, "truth"), (audio_dir, "audio")):
        if not d.is_dir():
            raise MaskvatError(f"{d}: no such {what} folder")
    truths = sorted(p for p in truth_dir.glob("*.json") if p.name != "manifest.json")
    if not truths:
        raise MaskvatError(f"{truth_dir}: no lab truth files (*.json) found")
    tally, missing = Tally(), []
    for path in tqdm(truths, desc="score", unit="clip", disable=not progress):
        truth = load_truth(path)
        audio = find_audio(audio_dir, truth.clip_id)
        if audio is None:
            missing.append(truth.clip_id)
            continue
        wav = read_audio(audio, sample_rate=truth.sample_rate)
        tally.add_clip(truth.events, detect_onsets(wav, truth.sample_rate), tol)
    return {"n_clips": len(truths) - len(missing), "missing_audio": missing, "tolerance_ms": tol * 1000,
            "families": tally.summary()}
