"""Seconds per clip of each published metric's model on this machine (BENCHMARKS.md, "The field's
published metrics").

    nice .venv/bin/python benchmarks/published_metrics_cost.py --clips 4 --seconds 8

Random weights in the published layouts (the cost does not depend on the values): PANNs CNN14 at
16 kHz (av-benchmark's) and at 32 kHz, and PaSST. Each clip is an 8 s mono sound at 44.1 kHz;
the time per clip (wall clock, and the CPU time of the process, which a shared machine does not
inflate) covers what ``maskvat evaluate`` does per clip and metric: mean removal,
torchaudio-style resampling, the cut and (PaSST) the 10 s window, one forward pass. The first
clip is a warm-up and is not counted. FD over the clips' embeddings is timed separately.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from maskvat.evaluation.metrics import frechet_distance
from maskvat.evaluation.panns import SIXTEEN_K, THIRTY_TWO_K, Cnn14, PANNsEmbedder
from maskvat.evaluation.passt import PaSST, PaSSTEmbedder


def time_embedder(emb, clips: list[np.ndarray]) -> tuple[float, float, np.ndarray]:
    """(wall seconds, CPU seconds of this process) per clip, and the embeddings."""
    emb.embed(clips[0], 44100)  # warm-up
    out, t0, c0 = [], time.perf_counter(), time.process_time()
    for wav in clips[1:]:
        out.append(emb.embed(wav, 44100).embedding)
    n = len(clips) - 1
    return (time.perf_counter() - t0) / n, (time.process_time() - c0) / n, np.stack(out)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--clips", type=int, default=4, help="clips timed (plus one warm-up)")
    p.add_argument("--seconds", type=float, default=8.0)
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    clips = [(0.1 * rng.standard_normal(int(args.seconds * 44100))).astype(np.float32) for _ in range(args.clips + 1)]
    rows = {}
    for name, emb in (("PANNs CNN14 16 kHz", lambda: PANNsEmbedder(Cnn14(SIXTEEN_K), seconds=args.seconds)),
                      ("PANNs CNN14 32 kHz", lambda: PANNsEmbedder(Cnn14(THIRTY_TWO_K), seconds=args.seconds)),
                      ("PaSST (10 s window)", lambda: PaSSTEmbedder(PaSST(), seconds=args.seconds))):
        wall, cpu, embeddings = time_embedder(emb(), clips)
        many = np.concatenate([embeddings + rng.standard_normal(embeddings.shape) for _ in range(100)])  # 100 x clips
        t0 = time.perf_counter()
        frechet_distance(many, many + 0.1)
        rows[name] = {"wall_s_per_clip": round(wall, 2), "cpu_s_per_clip": round(cpu, 2), "dims": embeddings.shape[1],
                      f"fd_seconds_{len(many)}_clips": round(time.perf_counter() - t0, 3)}
        print(name, rows[name], flush=True)
    print(json.dumps({"threads": args.threads, "clip_seconds": args.seconds, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
