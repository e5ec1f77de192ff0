"""Keep a take, redo a second (issue 24): on lab test clips, keep the true sound, regenerate a
stretch in the middle, and measure the sound there and at its edges.

    maskvat lab build runs/lab --split test --n 20 --seed 0      # or use an existing lab split
    python benchmarks/inpainting.py --split runs/lab/test --n 20 [--model lab] [--steps 32] \\
        [--range 1.0] [--widen N] [--seed 0] [--threads 2] [--json OUT.json]

For each clip (4 s, its true sound muxed in, its true events in CLIP.json) it generates
- ``edit``: the clip's own sound kept (``keep=`` the true sound), the middle ``--range`` seconds
  regenerated (``regenerate=[(d/2 - r/2, d/2 + r/2)]``), with the model's settings;
- ``whole``: the whole clip generated from the picture alone (the usual ``maskvat generate``);
- ``round_trip``: the true sound through the model's codec (what an edit keeps outside the range,
  and the ceiling on any sound made of this codec's tokens),
and reports per clip and summed over clips (one JSON row each, then a summary):
- **onset F1 inside the range** (``maskvat.lab.score``: onsets within +-50 ms of the true ones),
  counting only true onsets and detected onsets inside [t0, t1), for the three sounds alike;
- **discontinuity at the range edges** t0 and t1: the absolute sample-to-sample difference
  |x[i] - x[i-1]| at the edge sample, as a percentile of the clip's own sample-to-sample
  differences (``edge_pct``: 50 is typical, 100 the clip's largest step); and, since the new and
  the kept tokens meet over the codec's reach rather than at one sample, ``zone_pct``: the
  largest step within +-``--zone`` ms of the edge as a percentile of the largest step of every
  other stretch of that length in the clip. The round trip at the same places is the reference
  (a join as smooth as the clip's own sound scores like it).

``--widen N`` sets ``Pipeline.edit_widen`` (frames sampled beyond each side of the range;
default the codec's edge frames, 7 for the lab codec); ``--widen 0`` samples the range alone,
to compare. 20 clips at 32 steps took 26-30 min on a shared 2-core machine (BENCHMARKS.md,
"Keep a take, redo a second").
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch


def edge_percentiles(wav: np.ndarray, edges: list[int], zone: int) -> list[dict]:
    """For each edge sample i of ``wav`` [T]: ``edge_pct``, the percentile of |wav[i] - wav[i-1]|
    among all |wav[j] - wav[j-1]| of the clip, and ``zone_pct``, that of the largest step in
    [i - zone, i + zone) among the largest steps of the clip's other stretches of 2 * zone samples."""
    steps = np.abs(np.diff(wav.astype(np.float64)))  # steps[j] = |wav[j + 1] - wav[j]|
    out = []
    for i in edges:
        at = steps[min(max(i - 1, 0), len(steps) - 1)]
        lo, hi = max(0, i - zone), min(len(steps), i + zone)
        peak = steps[lo:hi].max()
        n = 2 * zone
        others = [steps[s:s + n].max() for s in range(0, len(steps) - n + 1, n) if s + n <= lo or s >= hi]
        out.append({"edge_pct": round(100.0 * float((steps < at).mean()), 1),
                    "zone_pct": round(100.0 * float(np.mean(np.array(others) < peak)), 1) if others else None})
    return out


def onsets_in(events, onsets: np.ndarray, t0: float, t1: float):
    """The true events and the detected onsets (seconds) inside [t0, t1)."""
    return [e for e in events if t0 <= e.time < t1], onsets[(onsets >= t0) & (onsets < t1)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", required=True, help="a lab split folder (manifest.json + clips)")
    ap.add_argument("--n", type=int, default=20, help="first N clips")
    ap.add_argument("--model", default="lab")
    ap.add_argument("--steps", type=int, default=32)
    ap.add_argument("--guidance", type=float, default=3.0)
    ap.add_argument("--diversity", type=float, default=8.0)
    ap.add_argument("--range", type=float, default=1.0, help="seconds regenerated, centred in the clip")
    ap.add_argument("--widen", type=int, default=None, help="frames sampled beyond each side (default: codec edge)")
    ap.add_argument("--zone", type=float, default=20.0, help="half-width in ms of the stretch searched at each edge")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", default=None, help="also write every row here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from maskvat.lab.onsets import detect_onsets
    from maskvat.lab.score import Tally, score_onsets
    from maskvat.lab.truth import load_truth
    from maskvat.media import read_audio
    from maskvat.pipeline.generate import Pipeline
    from maskvat.sampling.sampler import SamplerSettings

    split = Path(args.split)
    clips = json.loads((split / "manifest.json").read_text())["clips"][: args.n]
    pipe = Pipeline.load(args.model, scav=None)
    pipe.edit_widen = args.widen
    settings = SamplerSettings(steps=args.steps, guidance=args.guidance, diversity=args.diversity)
    sr = pipe.codec.sample_rate
    zone = int(round(args.zone / 1000 * sr))
    kinds = ("edit", "whole", "round_trip")
    tallies = {k: Tally() for k in kinds}
    rows, t_start = [], time.perf_counter()
    for i, clip in enumerate(clips):
        t = time.perf_counter()
        video = split / clip["video"]
        events = load_truth(split / clip["truth"]).events
        whole = pipe.generate(video, settings=settings, seed=args.seed + i)
        d = whole.duration
        truth = read_audio(video, sample_rate=sr, duration=d)  # the span's true sound, exactly its length
        t0, t1 = d / 2 - args.range / 2, d / 2 + args.range / 2
        edit = pipe.generate(video, settings=settings, seed=args.seed + i, keep=truth, regenerate=[(t0, t1)])
        kept = pipe.codec.encode(torch.from_numpy(truth)[None].to(pipe.codec.device))
        trip = pipe.codec.decode(kept, num_samples=len(truth))[0].cpu().numpy()
        sounds = {"edit": edit.wav, "whole": whole.wav, "round_trip": trip}
        row = {"clip": clip["clip_id"], "range_s": [round(t0, 3), round(t1, 3)],
               "regenerated_frames": edit.regenerated, "changed_frames": edit.changed}
        for kind, wav in sounds.items():
            ev, on = onsets_in(events, detect_onsets(wav, sr), t0, t1)
            tallies[kind].add_clip(ev, on)
            scored = score_onsets(ev, on).get("all")  # absent when the range holds no onset event and none is heard
            row[f"{kind}_f1"] = round(scored["f1"], 3) if scored else None
        edges = [int(round(t0 * sr)), int(round(t1 * sr))]
        row["edit_edges"] = edge_percentiles(edit.wav, edges, zone)
        row["round_trip_edges"] = edge_percentiles(trip, edges, zone)
        row["seconds"] = round(time.perf_counter() - t, 1)
        rows.append(row)
        print(json.dumps(row), flush=True)
    report = {"model": args.model, "steps": args.steps, "range_s": args.range, "widen": pipe.edge_frames
              if args.widen is None else args.widen, "decoder_reach": pipe.decoder_reach, "clips": len(rows),
              "seconds": round(time.perf_counter() - t_start, 1), "summary": summarise(rows, tallies)}
    if args.json:
        Path(args.json).write_text(json.dumps({**report, "rows": rows}, indent=1))
    print(json.dumps(report, indent=1))


def summarise(rows: list[dict], tallies: dict) -> dict:
    """Onset F1 inside the range over all clips (micro average) for each sound, and the edge
    percentiles (mean and max over both edges of every clip) of the edit and the round trip."""
    out = {}
    for kind, tally in tallies.items():
        s = tally.summary().get("all")
        out[f"{kind}_f1_in_range"] = None if s is None else round(s["f1"], 3)
        if s is not None:
            out[f"{kind}_true_onsets_in_range"] = s["n_truth"]
    for kind in ("edit", "round_trip"):
        for key in ("edge_pct", "zone_pct"):
            vals = [e[key] for r in rows for e in r[f"{kind}_edges"] if e[key] is not None]
            if vals:
                out[f"{kind}_{key}_mean"] = round(float(np.mean(vals)), 1)
                out[f"{kind}_{key}_max"] = round(float(np.max(vals)), 1)
    return out


if __name__ == "__main__":
    main()
