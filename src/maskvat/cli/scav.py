"""``maskvat scav train``: the SCAV beam selector, trained on the generator's shard cache."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("scav", help="train the SCAV beam selector (video/audio sequence encoders)")
    ssub = p.add_subparsers(dest="scav_command", metavar="ACTION", required=True)
    t = ssub.add_parser("train", help="contrastive training on a shard cache (maskvat extract); resumes")
    t.add_argument("--config", default=None, help="a JSON training config (SCAVTrainConfig); flags override it")
    t.add_argument("--cache", default=None, help="training cache (maskvat extract)")
    t.add_argument("--val-cache", default=None)
    t.add_argument("--out", required=True, help="run folder: config.json, checkpoint, log.csv, curves.png, scav/")
    t.add_argument("--steps", type=int, default=None, help="default 600")
    t.add_argument("--batch", type=int, default=None, help="clips per step (default 32; at most the cache's clips)")
    t.add_argument("--window-seconds", type=float, default=None, help="window per clip (default 4)")
    t.add_argument("--no-sync", action="store_true", help="video side reads the semantic stream only (the paper's SCAV)")
    t.add_argument("--seed", type=int, default=None)
    t.add_argument("--device", default="auto")
    t.set_defaults(func=run_train)


def run_train(args: argparse.Namespace) -> int:
    from maskvat.errors import MaskvatError
    from maskvat.train.scav import SCAVTrainConfig, SCAVTrainer

    flags = {"train_cache": args.cache, "val_cache": args.val_cache, "steps": args.steps, "batch_size": args.batch,
             "window_seconds": args.window_seconds, "seed": args.seed, "use_sync": False if args.no_sync else None}
    if args.config:
        cfg = SCAVTrainConfig.from_file(args.config, **flags)
    else:
        cfg = SCAVTrainConfig.from_dict({k: v for k, v in flags.items() if v is not None})
    if not cfg.train_cache:
        raise MaskvatError("scav train needs --cache (or train_cache in --config)")
    print(json.dumps(SCAVTrainer(cfg, args.out).run(device=args.device), indent=1))
    print(f"selector: {args.out}/scav")
    return 0
