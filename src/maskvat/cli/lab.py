"""``maskvat lab build|score|show``: the procedural audio-visual benchmark."""

from __future__ import annotations

import argparse
import json
import time


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lab", help="build, score and look at the lab benchmark (clips with exact true events)")
    lsub = p.add_subparsers(dest="lab_command", metavar="ACTION", required=True)

    b = lsub.add_parser("build", help="render a split of clips (mp4) with their true events (json) and a manifest")
    b.add_argument("out", metavar="OUT", help="output folder; clips go to OUT/SPLIT/")
    b.add_argument("--split", required=True, choices=["train", "val", "test"])
    b.add_argument("--n", type=int, required=True, help="number of clips")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--duration", type=float, default=4.0, help="seconds per clip (default 4)")
    b.add_argument("--fps", type=float, default=25.0)
    b.add_argument("--size", type=int, default=128, help="frame width and height in pixels")
    b.add_argument("--bank", default="auto", choices=["auto", "procedural", "debian"],
                   help="sounds: recorded samples from Debian packages (debian), synthesis (procedural), "
                        "or debian where installed (auto)")
    b.add_argument("--audio-codec", default="alac", choices=["alac", "aac"],
                   help="alac (lossless, sample-exact onsets; default) or aac")
    b.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    b.add_argument("--overwrite", action="store_true", help="replace an existing OUT/SPLIT")
    b.set_defaults(func=run_build)

    s = lsub.add_parser("score", help="detect onsets in audio files and score them against the true events")
    s.add_argument("truth_dir", metavar="TRUTH_DIR", help="a built split folder (its *.json)")
    s.add_argument("audio_dir", metavar="AUDIO_DIR", help="audio or video files named CLIP_ID.wav/.flac/.mp4")
    s.add_argument("--tolerance-ms", type=float, default=50.0)
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(func=run_score)

    v = lsub.add_parser("show", help="contact sheet PNG: frames, spectrogram and true events")
    v.add_argument("clip", metavar="CLIP", help="a clip .mp4 (its truth is the same-stem .json)")
    v.add_argument("-o", "--output", help="PNG to write (default: CLIP with .png)")
    v.add_argument("--onsets", action="store_true", help="also mark the detected onsets")
    v.add_argument("--truth", default=None,
                   help="truth JSON to mark (default: the clip's same-stem .json); e.g. for a generated video")
    v.set_defaults(func=run_show)

    k = lsub.add_parser("classifier", help="train the sound-class classifier behind the class-accuracy metric")
    k.add_argument("--lab", required=True, help="lab folder with train/ (and val/, test/ to report accuracy)")
    k.add_argument("--out", required=True, help="run folder: config, checkpoint, log, report.json and the classifier in OUT/sound_classifier (resumes)")
    k.add_argument("--steps", type=int, default=1200)
    k.add_argument("--codec", default="lab",
                   help="also train on codec round trips of the clips ('none' to train on the true audio alone)")
    k.add_argument("--seed", type=int, default=0)
    k.set_defaults(func=run_classifier)


def run_classifier(args: argparse.Namespace) -> int:
    import json

    from maskvat.train.sound_classifier import train_classifier

    codec = None if args.codec == "none" else args.codec
    print(json.dumps(train_classifier(args.lab, args.out, steps=args.steps, codec=codec, seed=args.seed), indent=1))
    return 0


def run_build(args: argparse.Namespace) -> int:
    from maskvat.lab.build import build_split

    start = time.perf_counter()
    folder = build_split(args.out, args.split, args.n, args.seed, duration=args.duration, bank=args.bank,
                         workers=args.workers, overwrite=args.overwrite, audio_codec=args.audio_codec,
                         fps=args.fps, size=args.size)
    seconds = time.perf_counter() - start
    print(f"{folder}: {args.n} clips in {seconds:.1f} s ({60 * args.n / seconds:.0f} clips/min)")
    return 0


def run_score(args: argparse.Namespace) -> int:
    from maskvat.lab.score import score_dirs

    result = score_dirs(args.truth_dir, args.audio_dir, tol=args.tolerance_ms / 1000, progress=not args.json)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{result['n_clips']} clips scored at +-{result['tolerance_ms']:.0f} ms"
          + (f"; {len(result['missing_audio'])} without audio" if result["missing_audio"] else ""))
    print(f"{'family':<12}{'events':>7}{'P':>7}{'R':>7}{'F1':>7}{'median|off| ms':>16}{'mean|off| ms':>14}")
    for fam, r in result["families"].items():
        med = "-" if r["median_abs_offset_ms"] is None else f"{r['median_abs_offset_ms']:.1f}"
        mean = "-" if r["mean_abs_offset_ms"] is None else f"{r['mean_abs_offset_ms']:.1f}"
        print(f"{fam:<12}{r['n_truth']:>7}{r['precision']:>7.3f}{r['recall']:>7.3f}{r['f1']:>7.3f}{med:>16}{mean:>14}")
    return 0


def run_show(args: argparse.Namespace) -> int:
    from pathlib import Path

    from maskvat.lab.sheet import contact_sheet

    out = args.output or str(Path(args.clip).with_suffix(".png"))
    print(contact_sheet(args.clip, out, truth=args.truth, show_onsets=args.onsets))
    return 0
