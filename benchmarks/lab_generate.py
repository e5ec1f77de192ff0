"""Generate sound for lab test clips and score it against the truth.

    python benchmarks/lab_generate.py --split runs/lab/test --n 100 [--model lab] [--steps 32] [--beams 10] [--batch 8]

For each clip the silent picture goes in (the clip's own sound is never read by the
generator), the sound comes out as OUT/{clip_id}.wav, and the lab scorer counts onsets
matched within +-50 ms of the true ones. Beside it: the ceiling, the same clips' true
sound through the model's codec (round trip), scored the same way. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", required=True, help="a lab split folder (manifest.json + clips)")
    ap.add_argument("--n", type=int, default=100, help="first N clips")
    ap.add_argument("--model", default="lab")
    ap.add_argument("--steps", type=int, default=32)
    ap.add_argument("--guidance", type=float, default=3.0)
    ap.add_argument("--diversity", type=float, default=8.0)
    ap.add_argument("--beams", type=int, default=1, help="candidates per clip; SCAV keeps the best")
    ap.add_argument("--scav", default="lab", help="beam selector ('lab' shipped, or a folder)")
    ap.add_argument("--batch", type=int, default=1, help="clips sampled together (generate_many); 1 = one at a time")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=None, help="keep the generated sound here (default: a temporary folder)")
    ap.add_argument("--no-ceiling", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from maskvat.evaluation.bench import write_codec_round_trip
    from maskvat.pipeline.generate import Pipeline
    from maskvat.lab.score import score_dirs
    from maskvat.media import write_audio
    from maskvat.sampling.sampler import SamplerSettings

    split = Path(args.split)
    clips = json.loads((split / "manifest.json").read_text())["clips"][: args.n]
    pipe = Pipeline.load(args.model, scav=args.scav if args.beams > 1 else None)
    settings = SamplerSettings(steps=args.steps, guidance=args.guidance, diversity=args.diversity)
    work = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="maskvat-labgen-"))
    truth = Path(tempfile.mkdtemp(prefix="maskvat-labtruth-"))
    gen_dir, trip_dir = work / "generated", work / "codec_round_trip"
    gen_dir.mkdir(parents=True, exist_ok=True)
    trip_dir.mkdir(parents=True, exist_ok=True)
    seconds = []
    try:
        from tqdm import tqdm

        if not args.no_ceiling:
            write_codec_round_trip(clips, split, trip_dir, pipe.model.config.codec)
        for clip in clips:
            shutil.copy(split / clip["truth"], truth / Path(clip["truth"]).name)
        videos = [split / clip["video"] for clip in clips]
        bar = tqdm(total=len(clips), desc="generate", unit="clip")
        t_start = time.perf_counter()
        if args.batch > 1:
            stream = pipe.generate_many(videos, batch_size=args.batch, settings=settings, seed=args.seed,
                                        beams=args.beams)
        else:
            stream = ((i, v, pipe.generate(v, settings=settings, seed=args.seed + i, beams=args.beams))
                      for i, v in enumerate(videos))
        chosen_distance, t0 = [], time.perf_counter()
        for i, _, result in stream:
            if isinstance(result, Exception):
                raise result
            seconds.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            if result.beam_distances:
                chosen_distance.append(min(result.beam_distances[0]))
            write_audio(gen_dir / f"{clips[i]['clip_id']}.wav", result.wav, result.sample_rate)
            bar.update(1)
        bar.close()
        wall = time.perf_counter() - t_start
        report = {
            "split": str(split), "n_clips": len(clips), "model": args.model,
            "settings": {"steps": args.steps, "guidance": args.guidance, "diversity": args.diversity, "seed": args.seed,
                         "beams": args.beams, "batch": args.batch},
            "seconds_per_clip": wall / len(clips), "median_seconds_between_results": float(np.median(seconds)),
            "clip_seconds": float(result.duration), "threads": args.threads,
            "generated": _brief(score_dirs(truth, gen_dir)),
        }
        if chosen_distance:
            report["mean_scav_distance_of_kept_beam"] = float(np.mean(chosen_distance))
        if not args.no_ceiling:
            report["codec_round_trip_ceiling"] = _brief(score_dirs(truth, trip_dir))
        report["truth_scored_against_itself"] = _brief(score_dirs(truth, split))
        print(json.dumps(report, indent=1))
    finally:
        shutil.rmtree(truth, ignore_errors=True)
        if not args.out:
            shutil.rmtree(work, ignore_errors=True)


def _brief(scores: dict) -> dict:
    keep = ("n_truth", "precision", "recall", "f1", "median_abs_offset_ms")
    return {fam: {k: (round(v, 4) if isinstance(v, float) else v) for k, v in s.items() if k in keep}
            for fam, s in scores["families"].items()}


if __name__ == "__main__":
    main()
