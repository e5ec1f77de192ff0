"""``maskvat fit VIDEOS_OR_FOLDERS... --out MODEL``: train the whole stack on your own footage."""

from __future__ import annotations

import argparse

STAGES = ("split", "codec", "sync", "semantic", "cache", "generator", "scav", "pipeline")  # maskvat.train.fit.STAGES


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("fit", help="train codec, encoders, generator and SCAV on your own videos with their sound "
                                   "(no labels), into one model folder for `maskvat generate --model` (resumable)",
                       description="From videos with their sound and no labels, train in order: the codec, the sync "
                       "encoder (self-supervised offsets), the semantic encoder pair (frames against their sound), "
                       "shard caches, the MaskVAT generator and SCAV; then write MODEL as a pipeline folder. Files are "
                       "split into train / val / test BY FILE (MODEL/fit/split.json); test files are read by no "
                       "stage. Killed anywhere, the same command goes on; finished stages are skipped.")
    p.add_argument("sources", nargs="+", metavar="VIDEO_OR_FOLDER",
                   help="videos, folders of videos or .csv/.jsonl lists; every one needs its sound")
    p.add_argument("--out", required=True, metavar="MODEL",
                   help="the model folder (new, or this fit's, to resume): MODEL/fit/ holds the run, MODEL/ the pipeline")
    p.add_argument("--config", default=None, metavar="FILE",
                   help="fit config JSON (configs/fit-*.json; keys it leaves out keep their defaults)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--stop-after", default=None, choices=STAGES, metavar="STAGE",
                   help=f"leave after this stage ({', '.join(STAGES)}); the same command later goes on")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from maskvat.train.fit import FitConfig, fit

    cfg = FitConfig.from_file(args.config) if args.config else FitConfig()
    summary = fit(args.sources, args.out, cfg, device=args.device, stop_after=args.stop_after,
                  progress=not args.quiet, log=lambda line: print(line, flush=True))
    stages = summary["stages"]
    print("stage times (s): " + ", ".join(f"{s} {r['seconds']:.0f}" + (" (before)" if r["skipped"] else "")
                                          for s, r in stages.items()))
    if summary.get("stopped_after"):
        print(f"stopped after {summary['stopped_after']}; run the same command to go on")
        return 0
    print(f"model: {args.out} (run folder {args.out}/fit: config.json, split.json, each stage's log.csv and curves.png)")
    print(f"generate with: maskvat generate VIDEO -o OUT --model {args.out} --beams 10")
    return 0
