"""Score a trained sync judge on a lab split (the issue's targets: exact >= 0.90, within one
class >= 0.98, mean |predicted offset| on true pairs <= one grid step).

    python benchmarks/sync_judge.py --judge RUN/sync_judge --split LAB/test [--per-class 100] [--limit N]

1. Windows: ``per-class`` windows for each of the 21 offset classes (fixed seed), scored
   overall and split two ways: by whether the video window holds at least one true onset,
   and by whether some event (an onset, or a steady sound's stop) lies inside both the video
   window and the shifted audio window. Without such a shared cue only a range of offsets
   fits: a fan seen starting while the audio window, shifted past the start, hums
   throughout, agrees with every offset that puts the start before the audio window.
   Also by clip content: clips whose only sounds are steady ones (fans, taps), clips
   with no event at all, and the rest.
   And by what the truth allows (``maskvat.lab.offset_bound``): windows where only the true
   offset fits every source's per-frame state (hit frames, fan speed, tap flow, to within
   ``--level-tol``), and windows where several do. The ``ceiling`` is the within-one (and
   exact) accuracy of a judge that picks the best offsets among those that fit: what the
   states leave to be had on this split.
2. True pairs, whole clips: each clip with its own audio, windows every 0.8 s; the mean
   |predicted offset| per clip, averaged (the SS metric on ground truth).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from maskvat.encoders.judge import predict_offsets
from maskvat.data.lab_clips import load_lab_split
from maskvat.train.sync_judge import (
    evaluate,
    fixed_windows,
    load_judge,
    predict_classes,
)
from maskvat.lab.offset_bound import best_within_one, consistent_offsets, source_states
from maskvat.lab.truth import load_truth
from maskvat.media import read_audio


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--judge", required=True)
    ap.add_argument("--split", required=True)
    ap.add_argument("--per-class", type=int, default=100)
    ap.add_argument("--limit", type=int, default=None, help="the first N clips of the split (default: all)")
    ap.add_argument("--level-tol", type=float, default=0.0,
                    help="fan speed / tap flow differences (0..1) too small to tell offsets apart (default 0)")
    args = ap.parse_args()
    judge = load_judge(args.judge)
    split = Path(args.split)
    meta = json.loads((split / "manifest.json").read_text())["clips"][: args.limit]
    clips = load_lab_split(split, size=judge.cfg.size, limit=args.limit)
    video, mel, cls, idx, start = fixed_windows(clips, judge.grid, args.per_class * judge.grid.n_classes, seed=4321,
                                                return_index=True)
    result = {"all_windows": evaluate(judge, (video, mel, cls))}
    truths = [load_truth(split / c["truth"]) for c in meta]
    onsets = [[e.frame for e in t.onsets()] for t in truths]
    events = [[e.frame for e in t.events] for t in truths]
    w, grid = judge.grid.window_frames, judge.grid
    pred, cls = predict_classes(judge, video, mel).numpy(), cls.numpy()
    shift = grid.shift_frames(cls)  # audio window starts this many frames later
    has = np.array([any(s <= f < s + w for f in onsets[i]) for i, s in zip(idx, start)])
    shared = np.array([any(s <= f < s + w and s + d <= f < s + d + w for f in events[i])
                       for i, s, d in zip(idx, start, shift)])
    steady_only = np.array([bool(truths[i].onsets()) and all(e.family == "continuous" for e in truths[i].onsets())
                            for i in idx])
    silent = np.array([not truths[i].events for i in idx])
    states = [source_states(t, clips.frames.shape[1]) for t in truths]
    fits = np.stack([consistent_offsets(*states[i], s, d, w, grid.half, grid.step_frames, args.level_tol)
                     for i, s, d in zip(idx, start, shift)])
    determined = fits.sum(1) == 1
    result["ceiling"] = {"level_tol": args.level_tol, "exact": float(np.mean(1 / fits.sum(1))),
                         "acc_within_1": float(np.mean([best_within_one(f) for f in fits]))}
    for name, sel in (("windows_with_onsets", has), ("windows_without_onsets", ~has),
                      ("windows_with_a_shared_cue", shared), ("windows_without_a_shared_cue", ~shared),
                      ("windows_in_steady_sound_clips", steady_only), ("windows_in_clips_without_events", silent),
                      ("windows_in_other_clips", ~steady_only & ~silent),
                      ("windows_the_truth_determines", determined), ("windows_the_truth_leaves_open", ~determined),
                      ("steady_sound_windows_the_truth_determines", steady_only & determined),
                      ("other_windows_the_truth_determines", ~steady_only & determined)):
        result[name] = {"n": int(sel.sum()), "share": float(sel.mean()), "acc": float((pred == cls)[sel].mean()),
                        "acc_within_1": float((np.abs(pred - cls) <= 1)[sel].mean())}
    ss = [np.abs(predict_offsets(judge, f, read_audio(split / c["video"]))).mean() for f, c in zip(clips.frames, meta)]
    result.update({"clips": len(ss), "ss_true_pairs_mean_abs_offset_s": float(np.mean(ss)),
                   "grid_step_s": judge.grid.step_s, "n_classes": judge.grid.n_classes})
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
