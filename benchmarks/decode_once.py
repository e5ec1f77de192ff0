"""Decoding per call (issue 19): a long video's generation with its file opens and decode passes
counted, and its windows' features read alone (no sampling), timed.

    python benchmarks/decode_once.py VIDEO [--steps 8] [--model lab] [--threads 1] [--json OUT.json]

Counts every ``av.open`` of VIDEO (probes and decode passes) and every decode pass
(``maskvat.media.video._decode_pass``) during one ``Pipeline.generate`` call, and times:
- ``features_s``: every window's features, as generation reads them (one pass over the
  windows and encoders where ``FeaturePipeline.visual_windows`` exists, else a ``visual``
  call per window, as before issue 19);
- ``generate_s``: the whole call (probe, features, sampling, decoding the codegram).
Also prints a hash of the codes (seed 0), to check that the output is unchanged, and the
process's peak resident memory. Runs on whichever maskvat is importable (PYTHONPATH).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import time
from pathlib import Path

import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("video")
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--model", default="lab")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    import av

    import maskvat.media.video as media_video
    from maskvat.pipeline.generate import Pipeline, window_plan
    from maskvat.sampling.sampler import SamplerSettings

    video = str(Path(args.video))
    opens, passes = [], []
    real_open, real_pass = av.open, media_video._decode_pass
    av.open = lambda *a, **k: opens.append(str(a[0])) or real_open(*a, **k)
    media_video._decode_pass = lambda *a, **k: passes.append(1) or real_pass(*a, **k)

    pipe = Pipeline.load(args.model, scav=None)
    opens.clear()
    t = time.perf_counter()
    out = pipe.generate(video, settings=SamplerSettings(steps=args.steps), seed=0)
    generate_s = time.perf_counter() - t
    counts = {"opens": opens.count(video), "decode_passes": len(passes)}

    fs = pipe.frame_seconds
    cfg = pipe.model.config
    plan = window_plan(out.codes.shape[1], cfg.max_frames, round(1.0 / fs))
    spans = [(s * fs, n * fs) for s, n in plan]
    context = getattr(pipe, "feature_context", 0.0)
    t = time.perf_counter()
    if hasattr(pipe.features, "visual_windows"):
        feats = list(pipe.features.visual_windows(video, spans, context=context, edge="none"))
    elif context:
        feats = [pipe.features.visual(video, s, d, context=context, edge="none") for s, d in spans]
    else:
        feats = [pipe.features.visual(video, s, d) for s, d in spans]
    features_s = time.perf_counter() - t

    report = {"video": video, "seconds_of_video": round(out.duration, 2), "windows": len(out.windows),
              "steps": args.steps, "threads": args.threads, **counts,
              "features_s": round(features_s, 1), "generate_s": round(generate_s, 1),
              "feature_windows": len(feats), "codes_sha1": hashlib.sha1(out.codes.numpy().tobytes()).hexdigest()[:12],
              "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}
    print(json.dumps(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
