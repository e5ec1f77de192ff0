"""``maskvat bench lab``: the paper's results table on a lab test split (Markdown, JSON, HTML)."""

from __future__ import annotations

import argparse

from maskvat.cli.evaluate import add_embedding_options


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="the results table on a lab build (codec bound, retrieval, each model)")
    bsub = p.add_subparsers(dest="bench_command", metavar="ACTION", required=True)
    b = bsub.add_parser("lab", help="codec reconstruct, retrieval baseline and model rows on LAB/test")
    b.add_argument("lab", help="lab folder holding test/ and train/ (and cache/{train,test} for retrieval)")
    b.add_argument("--model", action="append", default=[], metavar="NAME=SOURCE",
                   help="a generator row: 'lab' (shipped) or a model folder; repeat for more rows "
                        "(default: Default=lab)")
    b.add_argument("--best", default=None, metavar="NAME", help="also run this --model row with --beams beams")
    b.add_argument("--beams", type=int, default=10, help="beams of the --best row (paper: 10)")
    b.add_argument("--n", type=int, default=30, help="first N test clips")
    b.add_argument("--out", required=True, help="folder for rows/, table.md, results.json, index.html")
    b.add_argument("--steps", type=int, default=32)
    b.add_argument("--guidance", type=float, default=3.0)
    b.add_argument("--diversity", type=float, default=8.0)
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--batch", type=int, default=8, help="clips sampled together")
    b.add_argument("--no-retrieval", action="store_true", help="skip the retrieval baseline row")
    b.add_argument("--html-clips", type=int, default=8, help="clips shown on the results page")
    b.add_argument("--rescore", action="store_true",
                   help="keep the sound of rows already in --out and only score them again")
    add_embedding_options(b)
    b.set_defaults(func=run_lab)


def run_lab(args: argparse.Namespace) -> int:
    from pathlib import Path

    from maskvat.errors import MaskvatError
    from maskvat.evaluation.bench import Row, parse_model_arg, run_lab_bench
    from maskvat.sampling.sampler import SamplerSettings

    lab = Path(args.lab)
    for part in ("test",) if args.no_retrieval else ("test", "train"):
        if not (lab / part / "manifest.json").is_file():
            raise MaskvatError(f"{lab / part}: no lab split here (expected LAB/{part}/manifest.json)")
    models = [parse_model_arg(m) for m in (args.model or ["Default=lab"])]
    rows = [Row("codec reconstruct", "codec")]
    if not args.no_retrieval:
        if not (lab / "cache" / "train" / "cache.json").is_file() or \
                not (lab / "cache" / "test" / "cache.json").is_file():
            raise MaskvatError(f"{lab / 'cache'}: the retrieval row needs shard caches of the train and test splits "
                               f"(`maskvat extract {lab}/train --out {lab}/cache/train --clip-seconds 4`, and test), "
                               "or pass --no-retrieval")
        rows.append(Row("retrieval", "retrieval"))
    rows += [Row(name, "model", source) for name, source in models]
    if args.best is not None:
        match = [m for m in models if m[0] == args.best]
        if not match:
            raise MaskvatError(f"--best {args.best}: no --model row of that name ({', '.join(n for n, _ in models)})")
        rows.append(Row(f"{args.best} beams", "model", match[0][1], beams=args.beams))
    settings = SamplerSettings(steps=args.steps, guidance=args.guidance, diversity=args.diversity)
    run_lab_bench(lab, rows, args.out, n=args.n, settings=settings, seed=args.seed, batch=args.batch,
                  html_clips=args.html_clips, rescore=args.rescore, semantic=args.semantic, vggish=args.vggish)
    print(Path(args.out, "table.md").read_text())
    print(f"results page: {Path(args.out) / 'index.html'}")
    return 0
