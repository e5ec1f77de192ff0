"""What a video a little longer than the model's window costs (issue 20: "a 10.01 s video costs
two full windows"): the window plan before and after, codegram frames sampled and seconds.

    python benchmarks/window_plan_cost.py                       # shipped lab model (4 s window), real footage
    python benchmarks/window_plan_cost.py --durations 4 4.05 5 --video FILE --threads 2

For each duration it generates sound for that span of ``--video`` with the shipped lab model
(N = 32 steps, CFG, one beam) twice: with ``window_plan`` as it was before (every window
full: the last one reaches back over frames already generated) and as it is now; it prints
the windows, the codegram frames the sampler ran over (the sum of window lengths: the cost
in model passes grows with it) and the wall time. Also the plans at the paper's 10 s window
(862 frames), without generating.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import maskvat.pipeline.generate as gen  # noqa: E402
from maskvat.sampling.sampler import SamplerSettings  # noqa: E402

FOOTAGE = Path("/work/shared/data/greatesthits/2015-02-16-16-49-06_mic.mp4")


def window_plan_before(total_frames: int, window: int, overlap: int) -> list[tuple[int, int]]:
    """The plan before issue 20 (main at 6739026): every window full length."""
    if total_frames <= window:
        return [(0, total_frames)]
    plan, start = [(0, window)], 0
    while start + window < total_frames:
        start = min(start + window - overlap, total_frames - window)
        plan.append((start, window))
    return plan


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--video", default=str(FOOTAGE))
    ap.add_argument("--durations", type=float, nargs="+", default=[4.0, 4.05, 4.5, 6.0])
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    print("paper window (10 s = 862 frames, overlap 1 s = 86 frames): frames sampled before -> now")
    for seconds in (10.0, 10.01, 10.2, 11.0, 19.0, 30.0):
        total = -(-round(seconds * 44100) // 512)
        old, new = window_plan_before(total, 862, 86), gen.window_plan(total, 862, 86)
        print(f"  {seconds:6.2f} s ({total} frames): {len(old)} windows, {sum(n for _, n in old)} frames -> "
              f"{len(new)} windows, {sum(n for _, n in new)} frames  {new}")

    pipe = gen.Pipeline.load("lab", scav=None)
    settings = SamplerSettings()  # the paper's N = 32, gamma = 3, delta = 8
    now = gen.window_plan
    print(f"\nshipped lab model (window {pipe.model.config.max_frames} frames), {args.video}, "
          f"{torch.get_num_threads()} torch thread(s)")
    print("| duration s | plan | windows | frames sampled | seconds |\n| ---: | --- | --- | ---: | ---: |")
    for seconds in args.durations:
        for name, plan in (("before", window_plan_before), ("now", now)):
            gen.window_plan = plan
            t0 = time.perf_counter()
            out = pipe.generate(args.video, settings=settings, seed=0, duration=seconds)
            wall = time.perf_counter() - t0
            print(f"| {seconds:.2f} | {name} | {out.windows} | {sum(n for _, n in out.windows)} | {wall:.1f} |",
                  flush=True)
    gen.window_plan = now
    return 0


if __name__ == "__main__":
    sys.exit(main())
