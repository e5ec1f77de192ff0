"""Decoding per call (issue 19): a long video's generation with its file opens and decode passes
counted, and its windows' features read alone (no sampling), timed.

    python benchmarks/decode_once.py VIDEO [--steps 8] [--model lab] [--threads 1] [--no-generate] [--json OUT.json]

Counts every ``av.open`` of VIDEO (probes and decode passes) and every decode pass
(``maskvat.media.video._decode_pass``) during one ``Pipeline.generate`` call, and times:
- ``features_s``: every window's features, as generation reads them (one pass over the
  windows and encoders where ``FeaturePipeline.visual_windows`` exists, else a ``visual``
  call per window, as before issue 19);
- ``generate_s``: the whole call (probe, features, sampling, decoding the codegram).
Each as wall seconds and as CPU seconds of the process (``time.process_time``: all its
threads; on a shared machine far steadier than wall time). --no-generate times the
features alone (the window plan of the whole video). Also prints a hash of the codes
(seed 0), to check that the output is unchanged, and the process's peak resident memory.
Runs on whichever maskvat is importable (PYTHONPATH).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
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
    ap.add_argument("--no-generate", action="store_true", help="time the features only")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    import av

    import maskvat.media.video as media_video
    from maskvat.media import probe
    from maskvat.pipeline.generate import Pipeline, window_plan
    from maskvat.sampling.sampler import SamplerSettings

    video = str(Path(args.video))
    opens, passes = [], []
    real_open, real_pass = av.open, media_video._decode_pass
    av.open = lambda *a, **k: opens.append(str(a[0])) or real_open(*a, **k)
    media_video._decode_pass = lambda *a, **k: passes.append(1) or real_pass(*a, **k)

    pipe = Pipeline.load(args.model, scav=None)
    report = {"video": video, "steps": args.steps, "threads": args.threads}
    if not args.no_generate:
        opens.clear()
        t, c = time.perf_counter(), time.process_time()
        out = pipe.generate(video, settings=SamplerSettings(steps=args.steps), seed=0)
        report.update(generate_s=round(time.perf_counter() - t, 1), generate_cpu_s=round(time.process_time() - c, 1),
                      opens=opens.count(video), decode_passes=len(passes), windows=len(out.windows),
                      codes_sha1=hashlib.sha1(out.codes.numpy().tobytes()).hexdigest()[:12])
    fs = pipe.frame_seconds
    cfg = pipe.model.config
    total = math.ceil(probe(video).duration / fs)
    plan = window_plan(total, cfg.max_frames, round(1.0 / fs))
    spans = [(s * fs, n * fs) for s, n in plan]
    context = getattr(pipe, "feature_context", 0.0)
    opens.clear()
    passes.clear()
    t, c = time.perf_counter(), time.process_time()
    if hasattr(pipe.features, "visual_windows"):
        feats = list(pipe.features.visual_windows(video, spans, context=context, edge="none"))
    elif context:
        feats = [pipe.features.visual(video, s, d, context=context, edge="none") for s, d in spans]
    else:
        feats = [pipe.features.visual(video, s, d) for s, d in spans]
    report.update(features_s=round(time.perf_counter() - t, 1), features_cpu_s=round(time.process_time() - c, 1),
                  feature_windows=len(feats), feature_opens=opens.count(video), feature_passes=len(passes),
                  peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))
    print(json.dumps(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
