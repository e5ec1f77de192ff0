"""``maskvat extract SOURCE... --out CACHE``: clips, codes and features into cache shards."""

from __future__ import annotations

import argparse
import json

EXIT_UNREADABLE = 1


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("extract", help="cut videos into clips and store codes + features in a sharded cache "
                                       "(resumable, --shard i/n)")
    p.add_argument("sources", nargs="+", metavar="SOURCE",
                   help="a folder of videos, a .csv/.jsonl list (path, start, end) or a lab split")
    p.add_argument("--out", required=True, metavar="CACHE", help="cache folder (created, or resumed)")
    p.add_argument("--clip-seconds", type=float, default=10.0, help="clip length (paper: 10)")
    p.add_argument("--min-seconds", type=float, default=None,
                   help="shortest clip kept; shorter videos and remainders are dropped (default: --clip-seconds)")
    p.add_argument("--min-fps", type=float, default=15.0, help="drop videos under this frame rate (paper: 15)")
    p.add_argument("--silence-db", type=float, default=-60.0, help="drop clips whose RMS is under this dBFS (paper: "
                   "silent clips are dropped)")
    p.add_argument("--keep-silent", action="store_true", help="keep silent clips (the lab, where a silent scene is "
                   "a right answer)")
    p.add_argument("--max-clips-per-video", type=int, default=0, help="0: all")
    p.add_argument("--chunk", type=int, default=16, help="videos per shard file")
    p.add_argument("--codec", default="lab", help="'lab' (shipped), a codec folder or hub id")
    p.add_argument("--encoders", nargs="+", default=None, metavar="NAME[=WEIGHTS]",
                   help="encoder names, one per role (semantic, sync, audio), each with its weights where it has no "
                        "default: e.g. clip-vit-b32=/w/clip s3d-sparsesync=/w/sparsesync.pt beats=/w/BEATs.pt "
                        "(see `maskvat encoders list`); default: lab-semantic lab-sync lab-logmel")
    p.add_argument("--shard", default="0/1", metavar="I/N", help="this machine's part of the work")
    p.add_argument("--workers", type=int, default=2, help="decoding processes (0: in this process)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from maskvat.data.extract import ExtractConfig, extract, parse_shard
    from maskvat.encoders.registry import ROLES, parse_encoder_args

    roles, sources = {}, {}  # ExtractConfig's defaults, unless --encoders names them
    if args.encoders is not None:
        chosen = parse_encoder_args(args.encoders, "--encoders", need_name=True)
        roles = {r: chosen[r][0] if r in chosen else None for r in ROLES}
        sources = {r: src for r, (_, src) in chosen.items() if src is not None}
    cfg = ExtractConfig(clip_seconds=args.clip_seconds, min_seconds=args.min_seconds, min_fps=args.min_fps,
                        silence_dbfs=None if args.keep_silent else args.silence_db, max_clips_per_video=args.max_clips_per_video,
                        chunk_size=args.chunk, codec=args.codec, **roles)
    summary = extract(args.sources, args.out, cfg, shard=parse_shard(args.shard), workers=args.workers,
                      device=args.device, encoder_sources=sources)
    if args.json:
        print(json.dumps(summary, indent=1))
    else:
        print(f"{summary['cache']} (shard {summary['shard']}): {summary['clips_added']} clips added, "
              f"{summary['clips_in_cache']} in the cache; chunks done before: {summary['chunks_done_before']}")
        for reason, n in sorted(summary["dropped_now"].items()):
            print(f"  dropped {n}: {reason}")
        for line in summary["unreadable_now"]:
            print(f"  unreadable: {line}")
    return EXIT_UNREADABLE if summary["unreadable_now"] else 0
