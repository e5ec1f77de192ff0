"""Feature-cache extraction speed by stage, and cache bytes per clip.

    python benchmarks/extract_speed.py SOURCE --clip-seconds 4 [--n 20] [--workers 2]

Stages, timed one after the other in this process on the first N source videos: decode
(probe, audio read, frames at each video encoder's rate and size), codec (encode to tokens),
and each encoder. Then a whole ``extract`` run (decoding in --workers processes) into a
temporary cache, for the end-to-end clips/s and the bytes each clip takes on disk. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("source", help="a folder of videos, a list or a lab split")
    ap.add_argument("--n", type=int, default=20, help="first N source videos")
    ap.add_argument("--clip-seconds", type=float, default=10.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from maskvat.data.extract import ExtractConfig, Extractor, decode_item, extract
    from maskvat.data.sources import list_sources

    items = list_sources([args.source])[: args.n]
    cfg = ExtractConfig(clip_seconds=args.clip_seconds, chunk_size=4)
    ex = Extractor(cfg)
    knobs = {"min_fps": cfg.min_fps, "clip_seconds": cfg.clip_seconds, "silence_dbfs": cfg.silence_dbfs,
             "max_clips_per_video": 0, "shortest": cfg.shortest}
    t = time.perf_counter()
    clips = [c for it in items for c in decode_item(it, knobs, ex.video_specs)[0]]
    stages = {"decode": time.perf_counter() - t}
    with torch.no_grad():
        t = time.perf_counter()
        for c in clips:
            ex.codec.encode(torch.from_numpy(c["wav"])[None])
        stages["codec"] = time.perf_counter() - t
        for role, enc in ex.encoders.items():
            t = time.perf_counter()
            for c in clips:
                if role == "audio":
                    enc.encode_audio(torch.from_numpy(c["wav"])[None])
                else:
                    enc.encode_frames(c["frames"][role][None])
            stages[f"encoder {enc.config.name}"] = time.perf_counter() - t
    tmp = Path(tempfile.mkdtemp(prefix="maskvat-extract-bench-"))
    try:
        listing = tmp / "list.jsonl"
        listing.write_text("".join(json.dumps({"path": str(it.path.resolve())}) + "\n" for it in items))
        t = time.perf_counter()
        summary = extract([listing], tmp / "cache", cfg, workers=args.workers, progress=False)
        wall = time.perf_counter() - t
        shard_bytes = sum(p.stat().st_size for p in (tmp / "cache" / "shards").glob("*.safetensors"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    n = len(clips)
    print(json.dumps({
        "source": args.source, "videos": len(items), "clips": n, "clip_seconds": args.clip_seconds,
        "encoders": {r: e.config.name for r, e in ex.encoders.items()}, "codec": ex.codec.name,
        "seconds_per_clip_by_stage": {k: round(v / max(n, 1), 4) for k, v in stages.items()},
        "clips_per_second_stages_in_sequence": round(n / sum(stages.values()), 3),
        "end_to_end": {"workers": args.workers, "clips": summary["clips_added"], "seconds": round(wall, 2),
                       "clips_per_second": round(summary["clips_added"] / wall, 3),
                       "dropped": summary["dropped_now"]},
        "cache_bytes_per_clip": round(shard_bytes / max(summary["clips_added"], 1)),
    }, indent=1))


if __name__ == "__main__":
    main()
