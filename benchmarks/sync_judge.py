"""Score a trained sync judge on a lab split (the issue's targets: exact >= 0.90, within one
class >= 0.98, mean |predicted offset| on true pairs <= one grid step).

    python benchmarks/sync_judge.py --judge RUN/sync_judge --split LAB/test [--per-class 100]

1. Windows: ``per-class`` windows for each of the 21 offset classes (fixed seed).
2. True pairs, whole clips: each clip with its own audio, windows every 0.8 s; the mean
   |predicted offset| per clip, averaged (the SS metric on ground truth).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from maskvat.encoders.judge import predict_offsets
from maskvat.encoders.lab_data import load_lab_split
from maskvat.encoders.train_sync import evaluate, fixed_windows, load_judge
from maskvat.media import read_audio


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--judge", required=True)
    ap.add_argument("--split", required=True)
    ap.add_argument("--per-class", type=int, default=100)
    args = ap.parse_args()
    judge = load_judge(args.judge)
    split = Path(args.split)
    clips = load_lab_split(split, size=judge.cfg.size)
    result = evaluate(judge, fixed_windows(clips, judge.grid, args.per_class * judge.grid.n_classes, seed=4321))
    videos = [split / c["video"] for c in json.loads((split / "manifest.json").read_text())["clips"]]
    ss = [np.abs(predict_offsets(judge, frames, read_audio(v))).mean() for frames, v in zip(clips.frames, videos)]
    result.update({"clips": len(ss), "ss_true_pairs_mean_abs_offset_s": float(np.mean(ss)),
                   "grid_step_s": judge.grid.step_s, "n_classes": judge.grid.n_classes})
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
