"""``maskvat train --config CONFIG.json --out RUN``: train (or resume) a MaskVAT generator."""

from __future__ import annotations

import argparse
import json
import os


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a MaskVAT generator on a feature cache (resumes from RUN/checkpoint.pt)")
    p.add_argument("--config", required=True, help="training config JSON (see configs/)")
    p.add_argument("--out", required=True, help="run folder: checkpoint, log.csv, curves.png, model/")
    p.add_argument("--steps", type=int, default=None, help="override the config's steps")
    p.add_argument("--train-cache", default=None)
    p.add_argument("--val-cache", default=None)
    p.add_argument("--codec", default=None, help="override the config's codec (the one the codes came from)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--stop-after", type=int, default=None, metavar="N",
                   help="leave after N more steps with a checkpoint (the same command resumes); the schedule "
                        "stays the config's")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from maskvat.train.generator import TrainConfig, train

    cfg = TrainConfig.from_file(args.config, steps=args.steps, train_cache=args.train_cache, val_cache=args.val_cache,
                                 codec=args.codec)
    from maskvat.errors import MaskvatError

    if args.stop_after is not None and args.stop_after < 1:
        raise MaskvatError(f"--stop-after must be at least 1, not {args.stop_after}")
    last = train(cfg, args.out, device=args.device, stop_after=args.stop_after)
    if os.environ.get("RANK", "0") == "0":  # under torchrun / accelerate launch: the main process only
        print(json.dumps(last, indent=1))
        print(f"model: {args.out}/model; curves: {args.out}/curves.png")
    return 0
