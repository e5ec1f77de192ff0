"""``maskvat scav train``: the SCAV beam selector, trained on a feature cache."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("scav", help="train the SCAV beam selector (video/audio sequence encoders)")
    ssub = p.add_subparsers(dest="scav_command", metavar="ACTION", required=True)
    t = ssub.add_parser("train", help="contrastive training on CACHE/features.safetensors")
    t.add_argument("--cache", required=True, help="training feature cache (maskvat features visual)")
    t.add_argument("--val-cache", default=None)
    t.add_argument("--out", required=True, help="run folder: log.csv, curves.png, scav/")
    t.add_argument("--steps", type=int, default=600)
    t.add_argument("--batch", type=int, default=32)
    t.add_argument("--seed", type=int, default=0)
    t.set_defaults(func=run_train)


def run_train(args: argparse.Namespace) -> int:
    from maskvat.train.scav import SCAVTrainConfig, train_scav

    cfg = SCAVTrainConfig(steps=args.steps, batch_size=args.batch, seed=args.seed)
    print(json.dumps(train_scav(args.cache, args.out, cfg, val_cache=args.val_cache), indent=1))
    print(f"selector: {args.out}/scav")
    return 0
