"""``maskvat encoders list|train|combine``: the registry and the home-trained encoders."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("encoders", help="list the encoders; train the home-made ones on a lab build")
    esub = p.add_subparsers(dest="encoders_command", metavar="ACTION", required=True)
    ls = esub.add_parser("list", help="named encoders, their role and default weights")
    ls.set_defaults(func=run_list)
    t = esub.add_parser("train", help="train a home-made encoder on LAB/train, validate on LAB/val: the sync judge "
                        "(offset classifier; S3D role) or the semantic pair (frame and audio encoders, contrastive; "
                        "CLIP and BEATs roles)")
    t.add_argument("--lab", required=True, help="a lab build with train/ and val/ splits")
    t.add_argument("--out", required=True, help="run folder: checkpoint, log, curves, trained weights (resumes)")
    t.add_argument("--what", choices=("sync", "semantic"), default="sync", help="which encoder to train (default: sync)")
    t.add_argument("--steps", type=int, default=1500)
    t.add_argument("--batch", type=int, default=None, help="clips per step (default: 32 sync, 64 semantic)")
    t.add_argument("--lr", type=float, default=2e-3)
    t.add_argument("--codec", default="lab",
                   help="semantic pair: also train on the sound after a round trip through this codec, so that the "
                        "audio encoder hears content, not codec timbre ('lab', a folder, or 'none')")
    t.add_argument("--window-frames", type=int, default=40,
                   help="sync judge: window length in 25 fps frames (default 40 = 1.6 s; clips need window + 2 x 20 frames)")
    t.add_argument("--head", choices=("profile", "map"), default="profile",
                   help="sync judge: 'profile' reads the lag profile averaged over the window; 'map' also reads the "
                        "time-resolved correlation map, where a steady sound's start, stop and changes show")
    t.add_argument("--pool", choices=("mean", "meanmax"), default="mean",
                   help="sync judge: video features pooled over space by their mean, or by mean and max")
    t.add_argument("--width", type=int, default=24, help="sync judge: video conv width (default 24)")
    t.add_argument("--dim", type=int, default=64, help="sync judge: feature channels of both towers (default 64)")
    t.add_argument("--level-loss", type=float, default=0.0,
                   help="sync judge: weight of an extra training loss that makes both towers track each frame's fan "
                        "speed and tap flow from the lab's truth (training only; the judge never reads the truth)")
    t.add_argument("--seed", type=int, default=0)
    t.set_defaults(func=run_train)
    c = esub.add_parser("combine", help="sync judges of one config (other seeds or losses) -> one judge that "
                        "averages their log-probabilities (an ensemble folder; usable wherever a judge is)")
    c.add_argument("judges", nargs="+", help="saved sync judge folders (RUN/sync_judge)")
    c.add_argument("--out", required=True, help="the ensemble's folder")
    c.set_defaults(func=run_combine)


def run_list(args: argparse.Namespace) -> int:
    from maskvat.encoders.registry import ENCODERS

    for name, entry in ENCODERS.items():
        print(f"{name:<18} {entry.role:<9} {entry.default_source or '(pass weights)':<32} {entry.description}")
    return 0


def run_train(args: argparse.Namespace) -> int:
    if args.what == "semantic":
        from maskvat.train.semantic import SemanticTrainConfig, train_semantic

        cfg = SemanticTrainConfig(steps=args.steps, batch=args.batch or 64, lr=args.lr, seed=args.seed,
                                  codec=None if args.codec == "none" else args.codec)
        result, trained = train_semantic(args.lab, args.out, cfg), "semantic"
    else:
        from maskvat.encoders.sync import SyncConfig
        from maskvat.train.sync_judge import SyncTrainConfig, train_sync

        cfg = SyncTrainConfig(steps=args.steps, batch=args.batch or 32, lr=args.lr, seed=args.seed,
                              level_loss=args.level_loss)
        model_cfg = SyncConfig(window_frames=args.window_frames, head=args.head, pool=args.pool,
                               width=args.width, dim=args.dim)
        result, trained = train_sync(args.lab, args.out, cfg, model_cfg), "sync_judge"
    print(json.dumps(result, indent=1))
    print(f"trained weights: {args.out}/{trained}; curves: {args.out}/curves.png")
    return 0


def run_combine(args: argparse.Namespace) -> int:
    from maskvat.encoders.sync import combine_judges

    ensemble = combine_judges(args.judges, args.out)
    print(f"{args.out}: {len(ensemble.members)} judges, {ensemble.grid.window_frames}-frame windows")
    return 0
