"""``maskvat evaluate --generated DIR --reference DIR``: the paper's metrics on a folder."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="FDD, FDM, FAD, WC, CC, NS, SS (and lab onset F1) of generated sound against references")
    p.add_argument("--generated", required=True, help="folder of generated sound (NAME.wav)")
    p.add_argument("--reference", required=True, help="folder of reference audio or videos (NAME.*); a lab split adds onsets")
    p.add_argument("--codec", default="lab", help="codec whose latents FDD uses (default: the shipped lab codec)")
    p.add_argument("--judge", default="lab", help="sync judge for SS ('lab' shipped, a folder, or 'none')")
    p.add_argument("--classifier", default="lab",
                   help="sound-class classifier for class accuracy on lab references ('lab' shipped, a folder, or 'none')")
    add_embedding_options(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def add_embedding_options(p: argparse.ArgumentParser) -> None:
    """--semantic and --vggish: the embeddings of FAD, WC, CC and NS (``evaluate`` and ``bench lab``)."""
    p.add_argument("--semantic", default="lab",
                   help="semantic encoder pair for WC, CC, NS and FAD ('lab' shipped, or a folder)")
    p.add_argument("--vggish", default=None, metavar="PTH",
                   help="VGGish state dict (torchvggish's vggish-10086976.pth) for FAD; default: the lab-audio encoder")


def run(args: argparse.Namespace) -> int:
    from maskvat.evaluation.evaluate import evaluate_dirs

    result = evaluate_dirs(args.generated, args.reference, codec=args.codec,
                           judge=None if args.judge == "none" else args.judge,
                           classifier=None if args.classifier == "none" else args.classifier,
                           semantic=args.semantic, vggish=args.vggish)
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        for key in ("n_files", "fdd", "fdm", "fad", "wc", "cc", "ns", "ss_seconds", "class_accuracy"):
            if key in result:
                print(f"{key}: {result[key]:.4f}" if isinstance(result[key], float) else f"{key}: {result[key]}")
        if "onsets" in result:
            a = result["onsets"]["all"]
            print(f"onsets: F1 {a['f1']:.3f} (P {a['precision']:.3f}, R {a['recall']:.3f}), "
                  f"median |offset| {a['median_abs_offset_ms']} ms")
    return 0
