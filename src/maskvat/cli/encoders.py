"""``maskvat encoders list|train``: the registry and the home-trained encoders."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("encoders", help="list the encoders; train the home-made ones on a lab build")
    esub = p.add_subparsers(dest="encoders_command", metavar="ACTION", required=True)
    ls = esub.add_parser("list", help="named encoders, their role and default weights")
    ls.set_defaults(func=run_list)
    t = esub.add_parser("train", help="train the sync judge (offset classifier) on LAB/train, validate on LAB/val")
    t.add_argument("--lab", required=True, help="a lab build with train/ and val/ splits")
    t.add_argument("--out", required=True, help="run folder: checkpoint, log, curves, trained weights (resumes)")
    t.add_argument("--steps", type=int, default=1500)
    t.add_argument("--batch", type=int, default=32)
    t.add_argument("--lr", type=float, default=2e-3)
    t.add_argument("--seed", type=int, default=0)
    t.set_defaults(func=run_train)


def run_list(args: argparse.Namespace) -> int:
    from maskvat.encoders import ENCODERS

    for name, entry in ENCODERS.items():
        print(f"{name:<18} {entry.role:<9} {entry.default_source or '(pass weights)':<32} {entry.description}")
    return 0


def run_train(args: argparse.Namespace) -> int:
    from maskvat.encoders.train_sync import SyncTrainConfig, train_sync

    cfg = SyncTrainConfig(steps=args.steps, batch=args.batch, lr=args.lr, seed=args.seed)
    result = train_sync(args.lab, args.out, cfg)
    print(json.dumps(result, indent=1))
    print(f"trained judge: {args.out}/sync_judge; curves: {args.out}/curves.png")
    return 0
