"""``maskvat pipeline save OUT --model RUN/model ...``: one folder for ``maskvat generate --model``."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pipeline", help="save a trained generator with its codec, SCAV and encoder weights as one "
                                        "pipeline folder (for `maskvat generate --model FOLDER`)")
    psub = p.add_subparsers(dest="pipeline_command", metavar="ACTION", required=True)
    s = psub.add_parser("save", help="load every component (checked) and write OUT/model_index.json, OUT/generator/, "
                                     "OUT/codec/ and OUT/scav/",
                        description="Load a generator with its codec, SCAV and feature encoders, exactly as `maskvat "
                        "generate` would, and save them as one pipeline folder: the generator, codec and SCAV are "
                        "copied in; the encoder weights are named by absolute path (or hub id) in model_index.json, "
                        "not copied. Then `maskvat generate --model OUT` needs nothing else.")
    s.add_argument("out", metavar="OUT", help="the pipeline folder to write (new or empty)")
    s.add_argument("--model", required=True,
                   help="a trained generator (RUN/model of `maskvat train`) or a pipeline folder to re-save")
    s.add_argument("--codec", default=None,
                   help="the codec the model's codes came from: a folder or hub id (default: the one the model names)")
    s.add_argument("--scav", default=None,
                   help="a SCAV folder (RUN/scav of `maskvat scav train`) for --beams; default: the --model pipeline "
                        "folder's own, else none")
    s.add_argument("--encoder-weights", nargs="+", default=None, metavar="NAME_OR_ROLE=WEIGHTS",
                   help="weights of the model's (and SCAV's) feature encoders, by encoder name or role: e.g. "
                        "clip-vit-b32=/w/clip s3d-sparsesync=/w/sparsesync.pt beats=/w/BEATs.pt")
    s.add_argument("--overwrite", action="store_true", help="write into a folder that is not empty")
    s.set_defaults(func=run_save)


def run_save(args: argparse.Namespace) -> int:
    from maskvat.encoders.registry import parse_encoder_args
    from maskvat.errors import MaskvatError
    from maskvat.pipeline.generate import Pipeline
    from maskvat.weights import pipeline_index

    out = Path(args.out)
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not args.overwrite)):
        raise MaskvatError(f"{out}: exists and is not an empty folder (pass --overwrite to write into it)")
    chosen = parse_encoder_args(args.encoder_weights or [], "--encoder-weights", need_source=True)
    sources = {name or role: src for role, (name, src) in chosen.items()}
    scav = args.scav
    if scav is None and Path(args.model).is_dir() and (pipeline_index(args.model) or {}).get("scav"):
        scav = "lab"  # Pipeline.load: the pipeline folder's own selector
    pipe = Pipeline.load(args.model, codec=args.codec, scav=scav, encoder_sources=sources)
    pipe.save_pretrained(out)
    parts = ["generator", "codec"] + (["scav"] if pipe.scav is not None else [])
    named = ", ".join(f"{role}={src}" for role, src in pipe.encoder_sources.items()) or "each encoder's default"
    print(f"{out}: {', '.join(parts)}; encoder weights: {named}")
    print(f"generate with: maskvat generate VIDEO -o OUT --model {out}" + (" --beams 10" if pipe.scav else ""))
    return 0
