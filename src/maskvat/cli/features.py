"""``maskvat features visual|codes``: the training cache of a clip folder."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("features", help="extract conditioning features and codegrams of a clip folder (training cache)")
    fsub = p.add_subparsers(dest="features_command", metavar="ACTION", required=True)
    v = fsub.add_parser("visual", help="semantic, sync and audio features -> CACHE/features.safetensors")
    v.add_argument("split", help="a folder with manifest.json (a lab split)")
    v.add_argument("--cache", required=True, help="cache folder")
    v.add_argument("--model", default="lab-hybrid", help="model config whose encoders to run (default: all lab streams)")
    v.set_defaults(func=run_visual)
    c = fsub.add_parser("codes", help="codegrams -> CACHE/codes.safetensors")
    c.add_argument("split")
    c.add_argument("--cache", required=True)
    c.add_argument("--codec", default="lab", help="'lab' (shipped), a codec folder or hub id")
    c.add_argument("--device", default="cpu")
    c.set_defaults(func=run_codes)


def run_visual(args: argparse.Namespace) -> int:
    from maskvat.pipeline.features import FeaturePipeline, build_feature_cache
    from maskvat.model.config import model_config

    path = build_feature_cache(args.split, args.cache, FeaturePipeline.for_model(model_config(args.model), audio=True))
    print(f"wrote {path}")
    return 0


def run_codes(args: argparse.Namespace) -> int:
    from maskvat.codec.tokenizer import AudioTokenizer
    from maskvat.pipeline.features import build_codes_cache
    from maskvat.train.generator import resolve_codec

    codec = AudioTokenizer.from_pretrained(resolve_codec(args.codec), device=args.device)
    print(f"wrote {build_codes_cache(args.split, args.cache, codec)}")
    return 0
