"""``maskvat evaluate``: generated sound against references (one system, several, or the anchors)."""

from __future__ import annotations

import argparse
import json
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="alignment (onsets, envelope lag) with chance controls, FDs, the lab's "
                                        "metrics and, given their weights, the field's published FD/KL (PANNs, "
                                        "PaSST), DeSync (Synchformer) and IB-score (ImageBind) of generated sound "
                                        "against references")
    p.add_argument("--generated", default=None,
                   help="folder of generated sound: X.wav / X.flac / X.mp4 / X_maskvat.mp4 pairs with reference X.*")
    p.add_argument("--reference", required=True, help="folder of reference videos or audio (X.*); a lab split adds "
                                                       "lab onsets, class accuracy, SS and CC")
    p.add_argument("--compare", nargs="+", default=[], metavar="NAME=DIR",
                   help="several systems on the same references: one table, bootstrap intervals over clips, ranks")
    p.add_argument("--anchors", action="store_true",
                   help="also score the anchors (the truth, shifted +-200 ms, cut, at 16 kHz, another clip's, silence, "
                        "white noise); a metric failing them is flagged and not printed as a score")
    p.add_argument("--codec", default="lab", help="codec whose latents FDD uses (default: the shipped lab codec; 'none': no FDD, "
                                                  "about 4x faster)")
    p.add_argument("--judge", default="lab", help="sync judge for SS on lab references ('lab' shipped, a folder, or 'none')")
    p.add_argument("--classifier", default="lab",
                   help="sound-class classifier for class accuracy on lab references ('lab' shipped, a folder, or 'none')")
    p.add_argument("--start", type=float, default=None, metavar="SECONDS",
                   help="seconds into each reference where the generated sound begins (what `maskvat generate "
                        "--start` was given); default: the span each generated file records (maskvat generate "
                        "writes it), else 0")
    p.add_argument("--csv", default=None, metavar="FILE", help="write the per-clip figures here")
    add_embedding_options(p)
    add_published_options(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def add_embedding_options(p: argparse.ArgumentParser) -> None:
    """--semantic and --vggish: the embeddings of FAD, WC, CC and NS (``evaluate`` and ``bench lab``)."""
    p.add_argument("--semantic", default="lab",
                   help="semantic encoder pair for WC, CC, NS and FAD ('lab' shipped, or a folder)")
    p.add_argument("--vggish", default=None, metavar="PTH",
                   help="VGGish state dict (torchvggish's vggish-10086976.pth) for FAD; default: the lab-audio encoder")


def add_published_options(p: argparse.ArgumentParser) -> None:
    """The field's published metrics, each from a local copy of its published weights."""
    g = p.add_argument_group("published metrics (weights are not shipped; see the README)")
    g.add_argument("--panns", default=None, metavar="PTH_OR_ID",
                   help="PANNs CNN14 checkpoint (Cnn14_16k_mAP=0.438.pth as av-benchmark uses; a file, a folder "
                        "holding one, or a hub id already in the local cache): adds FD_PANNs and KL_PANNs")
    g.add_argument("--passt", default=None, metavar="PT_OR_ID",
                   help="PaSST checkpoint (passt-s-f128-p16-s10-ap.476-swa.pt, the AudioSet model av-benchmark uses): "
                        "adds FD_PaSST and KL_PaSST")
    g.add_argument("--synchformer", default=None, metavar="PTH_OR_ID",
                   help="Synchformer checkpoint (av-benchmark's synchformer_state_dict.pth, or the authors' "
                        "24-01-04T16-39-21.pt): adds DeSync, the mean |audio-visual offset| in seconds it predicts "
                        "between each reference video's picture and the generated sound (references must be videos; "
                        "clips need 4.8 s)")
    g.add_argument("--imagebind", default=None, metavar="PTH_OR_ID",
                   help="ImageBind checkpoint (imagebind_huge.pth, the file av-benchmark loads): adds IB-score, the "
                        "cosine similarity of ImageBind's embeddings of each reference video's picture and of the "
                        "generated sound (higher is better; references must be videos; clips need 4 s)")
    g.add_argument("--published-seconds", type=float, default=None, metavar="S",
                   help="the published metrics read each clip's first S seconds, as av-benchmark does "
                        "(default 8, its default; 0: the whole common span)")


def parse_pairs(items: list[str], option: str) -> dict[str, str]:
    """['A=x', 'B=y'] -> {'A': 'x', 'B': 'y'}; MaskvatError naming the bad item."""
    from maskvat.errors import MaskvatError

    out = {}
    for item in items:
        name, eq, value = item.partition("=")
        if not eq or not name or not value:
            raise MaskvatError(f"{option} {item!r}: write NAME=VALUE")
        if name in out:
            raise MaskvatError(f"{option}: {name!r} given twice")
        out[name] = value
    return out


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from maskvat.errors import MaskvatError
    from maskvat.evaluation.evaluate import evaluate_dirs, evaluate_systems
    from maskvat.evaluation.pairing import require_folder
    from maskvat.evaluation.report import format_columns, format_result, span_lines, write_csv

    systems = parse_pairs(args.compare, "--compare")
    if args.generated and systems:
        raise MaskvatError("give either --generated or --compare, not both (put the system in --compare)")
    for folder in [args.reference, args.generated, *systems.values()]:
        if folder is not None:
            require_folder(folder)
    if args.csv and not Path(args.csv).resolve().parent.is_dir():
        raise MaskvatError(f"{args.csv}: its folder does not exist")
    if args.start is not None and not args.start >= 0:
        raise MaskvatError(f"--start {args.start:g}: must be 0 or more (seconds into each reference)")
    judge = None if args.judge == "none" else args.judge
    published = [f"--{name}" for name in ("panns", "passt", "synchformer", "imagebind") if getattr(args, name)]
    if args.published_seconds is not None and not published:
        raise MaskvatError("--published-seconds: only the published metrics read it; give --panns, --passt, "
                           "--synchformer or --imagebind, or leave it out")
    seconds = 8.0 if args.published_seconds is None else args.published_seconds
    if seconds < 0:
        raise MaskvatError(f"--published-seconds {seconds:g}: give a length in seconds, or 0 for all")
    common = dict(codec=None if args.codec == "none" else args.codec, judge=judge, semantic=args.semantic,
                  vggish=args.vggish, panns=args.panns, passt=args.passt, synchformer=args.synchformer,
                  imagebind=args.imagebind,
                  published_seconds=seconds or None, start=args.start)
    if systems or args.anchors:
        if args.generated:
            systems = {Path(args.generated).name or "generated": args.generated}
        out = evaluate_systems(args.reference, systems, anchors=args.anchors, **common)
        print(json.dumps(_jsonable(out), indent=1) if args.json else format_columns(out))
        columns = out["columns"]
        warnings = [line for name in systems for line in span_lines(columns[name]["spans"], f"{name}: ")]
    elif args.generated:
        result = evaluate_dirs(args.generated, args.reference,
                               classifier=None if args.classifier == "none" else args.classifier, **common)
        print(json.dumps(_jsonable(result), indent=1) if args.json else format_result(result))
        columns = {"generated": result}
        warnings = span_lines(result["spans"])
    else:
        raise MaskvatError("nothing to score: give --generated DIR, --compare NAME=DIR ..., or --anchors")
    if args.json:  # the span notes the text report prints, kept off the JSON
        for line in warnings:
            print(f"maskvat: {line}", file=sys.stderr)
    if args.csv:
        write_csv(args.csv, columns)
        if not args.json:
            print(f"per-clip figures: {args.csv}")
    return 0


def _jsonable(x):
    import math

    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x
