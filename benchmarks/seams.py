"""Seams where long-video windows join: the level around every window boundary against the rest.

    maskvat lab build runs/lab13 --split test --n 3 --seed 7 --duration 13 --bank procedural
    python benchmarks/seams.py --lab-long runs/lab13/test --real GH1.mp4 GH2.mp4 --real-start 5 \\
        [--seeds 0 1] [--steps 32] [--kinds still lab real] [--variant all|none|...] [--still-lead-in 1] [--json OUT.json]

Generates sound with the shipped model (default settings unless --steps) for
- a still picture of --duration s: the first frame of each lab clip of --lab-long, and the
  frame of each --real file at --real-start + --duration / 2,
- the lab clips of --lab-long, whole (their true sound is known),
- each --real file cut to --duration s from --real-start,
and reports, per generation (``maskvat.evaluation.seams.seam_levels``: the peak 50 ms level
within +-150 ms, in dB above the median peak of the other 300 ms stretches of the clip):
- ``end_db``: at each window end but the last (where a later window's new content begins:
  the thumps of issue 26 sat there), ``start_db`` at each later window's start (inside its
  prompt), ``t0_db`` at t = 0;
- ``elsewhere_over_6db``: how many of the other 300 ms stretches rise 6 dB over the
  reference anyway (the base rate a window end is compared with);
- on lab clips, ``quiet_end_db``: window ends where the clip's true sound is quiet (its own
  level there within 1 dB of its reference), and onsets the truth lacks near window ends and
  elsewhere (per second).
Prints one JSON row per generation, then a summary per kind of input (still, lab, real).

--variant takes parts of the seam fix out (all: the pipeline as it is; none: all three off,
the pipeline as it was before, the same codes as before the fix): no-trim keeps each
window's last frames (the codec's edge codes); no-context computes each window's features
from its own frames only; uncond-sees-prompt lets guidance's unconditional pass see the
prompt tokens.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

VARIANTS = ("all", "none", "no-trim", "no-context", "uncond-sees-prompt")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lab-long", required=True, help="a lab split of clips longer than 3 windows (--duration 13)")
    ap.add_argument("--n-lab", type=int, default=3, help="lab clips used (the first N)")
    ap.add_argument("--real", nargs="*", default=[], help="real video files")
    ap.add_argument("--real-start", type=float, default=0.0)
    ap.add_argument("--duration", type=float, default=13.0, help="seconds of each real file and of the stills")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--steps", type=int, default=32)
    ap.add_argument("--model", default="lab")
    ap.add_argument("--variant", choices=VARIANTS, default="all")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--kinds", nargs="+", choices=("still", "lab", "real"), default=["still", "lab", "real"],
                    help="which inputs to generate (default all three kinds)")
    ap.add_argument("--edge", choices=("none", "repeat"), default="none",
                    help="what the encoders see beyond the video's start and end (Pipeline.feature_edge)")
    ap.add_argument("--still-lead-in", type=float, default=0.0,
                    help="stills only: hold the picture this many seconds before t = 0 and drop the sound "
                         "generated there (does a burst at t = 0 come from the clip's start?)")
    ap.add_argument("--json", default=None, help="also write every row here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from maskvat.evaluation.seams import onsets_near, seam_levels
    from maskvat.lab.onsets import detect_onsets
    from maskvat.lab.score import merge_onsets, score_onsets
    from maskvat.lab.truth import load_truth
    from maskvat.media import FrameArray, decode_frames, read_audio
    from maskvat.pipeline.generate import Pipeline
    from maskvat.sampling.sampler import SamplerSettings

    pipe = Pipeline.load(args.model, scav=None, device=args.device)
    settings = SamplerSettings(steps=args.steps, guide_prompt=args.variant not in ("none", "uncond-sees-prompt"))
    if args.variant in ("none", "no-trim"):
        pipe.edge_trim = 0
    if args.variant in ("none", "no-context"):
        pipe.feature_context = 0.0
    pipe.feature_edge = args.edge
    split = Path(args.lab_long)
    clips = json.loads((split / "manifest.json").read_text())["clips"][: args.n_lab]
    lead = args.still_lead_in
    n_still = int(round((args.duration + lead) * 25))

    def still(video, at):
        frame = decode_frames(video, 25.0, start=at, duration=0.04).frames[:1]
        return FrameArray(np.repeat(frame, n_still, 0), 25.0, name=f"still of {Path(video).name} at {at:g} s")

    inputs = [(f"still, lab frame ({c['clip_id']})", still(split / c["video"], 0.0), 0.0, None) for c in clips]
    inputs += [(f"still, real frame ({Path(r).name})", still(r, args.real_start + args.duration / 2), 0.0, None)
               for r in args.real]
    inputs += [(f"lab clip {c['clip_id']}", split / c["video"], 0.0, c) for c in clips]
    inputs += [(f"real {Path(r).name}", Path(r), args.real_start, None) for r in args.real]

    inputs = [i for i in inputs if i[0].split(" ")[0].rstrip(",") in args.kinds]
    rows, t0 = [], time.perf_counter()
    fs = pipe.frame_seconds
    for name, video, start, clip in inputs:
        for seed in args.seeds:
            t = time.perf_counter()
            held = lead if name.startswith("still") else 0.0
            g = pipe.generate(video, settings=settings, seed=seed, start=start,
                              duration=None if clip else args.duration + held)
            ends = [(s + n) * fs - held for s, n in g.windows[:-1]]
            starts = [s * fs - held for s, _ in g.windows[1:]]
            ends, starts = [b for b in ends if b > 0], [b for b in starts if b > 0]
            lv = seam_levels(g.wav[int(round(held * g.sample_rate)):], g.sample_rate, ends + starts)
            row = {"input": name, "seed": seed, "windows": len(g.windows), "ends_s": [round(b, 3) for b in ends],
                   "end_db": [round(d, 1) for _, d in lv.joins[:len(ends)]],
                   "start_db": [round(d, 1) for _, d in lv.joins[len(ends):]], "t0_db": round(lv.start, 1),
                   "elsewhere_over_6db": sum(d > 6 for d in lv.elsewhere), "elsewhere": len(lv.elsewhere),
                   "reference_db": round(lv.reference, 1), "seconds": round(time.perf_counter() - t, 1)}
            if clip:
                truth = seam_levels(read_audio(video), 44100, ends)
                row["quiet_end_db"] = [round(d, 1) for (_, d), (_, q) in zip(lv.joins, truth.joins) if q <= 1.0]
                events = load_truth(split / clip["truth"]).events
                onsets = detect_onsets(g.wav, g.sample_rate)
                row["false_onsets"] = onsets_near(onsets, [t for t, _ in merge_onsets(events)], ends, g.duration)
                row["onset_f1"] = round(score_onsets(events, onsets)["all"]["f1"], 3)
            rows.append(row)
            print(json.dumps(row), flush=True)
    report = {"model": args.model, "device": args.device, "steps": args.steps, "seeds": args.seeds,
              "variant": args.variant, "edge": args.edge, "still_lead_in": lead, "seconds": round(time.perf_counter() - t0, 1), "summary": summarise(rows)}
    if args.json:
        Path(args.json).write_text(json.dumps({**report, "rows": rows}, indent=1))
    print(json.dumps(report, indent=1))


def summarise(rows: list[dict]) -> dict:
    """Per kind of input (still / lab / real): window-end, window-start and t = 0 levels over
    boundaries and seeds (mean, max, how many over 6 dB), against how many other stretches
    rise over 6 dB; on lab clips the quiet window ends and false onsets per second."""
    out = {}
    for kind in ("still", "lab", "real"):
        group = [r for r in rows if r["input"].startswith(kind)]
        if not group:
            continue
        ends = np.array([d for r in group for d in r["end_db"]])
        starts = np.array([d for r in group for d in r["start_db"]])
        t0 = np.array([r["t0_db"] for r in group])
        s = {"generations": len(group), "window_ends": len(ends),
             "end_db_mean": round(float(ends.mean()), 1), "end_db_max": round(float(ends.max()), 1),
             "ends_over_6db": int((ends > 6).sum()), "start_db_max": round(float(starts.max()), 1),
             "t0_db_mean": round(float(t0.mean()), 1), "t0_db_max": round(float(t0.max()), 1),
             "elsewhere_over_6db": f"{sum(r['elsewhere_over_6db'] for r in group)} of "
                                   f"{sum(r['elsewhere'] for r in group)}"}
        if kind == "lab":
            quiet = [d for r in group for d in r["quiet_end_db"]]
            s["quiet_ends"] = len(quiet)
            s["quiet_end_db_max"] = round(float(max(quiet)), 1) if quiet else None
            f = {k: sum(r["false_onsets"][k] for r in group) for k in ("near", "near_s", "elsewhere", "elsewhere_s")}
            s["false_onsets_per_s_near_ends"] = round(f["near"] / f["near_s"], 2)
            s["false_onsets_per_s_elsewhere"] = round(f["elsewhere"] / f["elsewhere_s"], 2)
            s["onset_f1_mean"] = round(float(np.mean([r["onset_f1"] for r in group])), 3)
        out[kind] = s
    return out


if __name__ == "__main__":
    main()
