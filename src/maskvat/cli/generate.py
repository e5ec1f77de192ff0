"""``maskvat generate VIDEO... -o OUT``: the main job."""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

VIDEO_SUFFIXES = {".mp4", ".mkv", ".mov", ".webm", ".avi", ".m4v"}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("generate", help="sound for silent video: writes OUT/NAME.wav and OUT/NAME_maskvat.mp4")
    p.add_argument("inputs", nargs="+", metavar="VIDEO", help="video files, folders of videos, or a .csv with a 'video' column")
    p.add_argument("-o", "--out", required=True, help="output folder (created)")
    p.add_argument("--model", default="lab", help="'lab' (shipped default) or a model folder")
    p.add_argument("--codec", default=None, help="override the model's codec: 'lab', a folder or a hub id")
    p.add_argument("--steps", type=int, default=32, help="decoding iterations N (paper: 32)")
    p.add_argument("--guidance", type=float, default=3.0, help="classifier-free guidance gamma (paper: 3)")
    p.add_argument("--diversity", type=float, default=8.0, help="Gumbel confidence noise delta (paper: 8)")
    p.add_argument("--beams", type=int, default=1, help="candidates per window; SCAV keeps the best (paper: 10)")
    p.add_argument("--scav", default="lab", help="beam selector: 'lab' (shipped) or a folder")
    p.add_argument("--batch", type=int, default=8,
                   help="videos of the same length sampled together (one window each); 1 = one at a time")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--start", type=float, default=0.0, help="seconds into each video")
    p.add_argument("--duration", type=float, default=None, help="seconds to generate (default: to the end)")
    p.add_argument("--format", choices=["wav", "flac"], default="wav")
    p.add_argument("--no-video", action="store_true", help="write only the sound file")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.add_argument("--encoder-weights", nargs="+", default=None, metavar="NAME_OR_ROLE=WEIGHTS",
                   help="weights of the model's feature encoders, by encoder name or role (semantic, sync, audio): "
                        "e.g. clip-vit-b32=/w/clip s3d-sparsesync=/w/sparsesync.pt beats=/w/BEATs.pt")
    p.add_argument("--device", default="cpu")
    p.set_defaults(func=run)


def expand_inputs(items: list[str]) -> list[Path]:
    """Files, folders (their videos, sorted) and CSV files (column 'video', relative to the CSV)."""
    from maskvat.errors import MaskvatError

    out: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            out.extend(sorted(q for q in p.iterdir() if q.suffix.lower() in VIDEO_SUFFIXES and q.is_file()))
        elif p.suffix.lower() == ".csv":
            try:
                with open(p, newline="") as f:
                    rows = list(csv.DictReader(f))
            except (OSError, UnicodeDecodeError) as exc:
                raise MaskvatError(f"{p}: cannot read CSV ({exc})") from None
            if not rows or "video" not in rows[0]:
                raise MaskvatError(f"{p}: a CSV of inputs needs a 'video' column")
            out.extend((p.parent / r["video"]) for r in rows)
        else:
            out.append(p)
    if not out:
        raise MaskvatError(f"no videos found in {', '.join(items)}")
    return out


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from maskvat.errors import MaskvatError
    from maskvat.generate.pipeline import Pipeline, output_paths
    from maskvat.media import mux_audio, write_audio
    from maskvat.sampling.sampler import SamplerSettings

    videos = expand_inputs(args.inputs)
    out_dir = Path(args.out)
    plans = [(v, *output_paths(v, out_dir, args.format)) for v in videos]
    seen: dict[Path, Path] = {}
    for video, sound, _ in plans:
        if sound in seen:
            raise MaskvatError(f"{video} and {seen[sound]} would both write {sound}; generate them into different folders")
        seen[sound] = video
    if not args.overwrite:
        for _, sound, muxed in plans:
            for path in (sound,) if args.no_video else (sound, muxed):
                if path.exists():
                    raise MaskvatError(f"{path}: already exists (pass --overwrite to replace it)")
    from maskvat.encoders.registry import parse_encoder_args

    chosen = parse_encoder_args(args.encoder_weights or [], "--encoder-weights", need_source=True)
    sources = {name or role: src for role, (name, src) in chosen.items()}
    settings = SamplerSettings(steps=args.steps, guidance=args.guidance, diversity=args.diversity)
    pipe = Pipeline.load(args.model, codec=args.codec, device=args.device, scav=args.scav if args.beams > 1 else None,
                         encoder_sources=sources)
    out_dir.mkdir(parents=True, exist_ok=True)
    failed = 0
    bar = tqdm(total=len(plans), desc="generate", unit="video", disable=len(plans) < 2)
    results = pipe.generate_many([v for v, _, _ in plans], batch_size=args.batch, settings=settings, seed=args.seed,
                                 start=args.start, duration=args.duration, beams=args.beams,
                                 progress=len(plans) == 1)
    for i, video, result in results:
        _, sound, muxed = plans[i]
        bar.update(1)
        try:
            if isinstance(result, MaskvatError):
                raise result
            write_audio(sound, result.wav, result.sample_rate)
            if not args.no_video:
                mux_audio(video, result.wav, result.sample_rate, muxed)
        except MaskvatError as exc:
            if len(plans) == 1:
                raise
            failed += 1
            tqdm.write(f"maskvat: skipped: {exc}")
            continue
        tqdm.write(f"{video} -> {sound}" + ("" if args.no_video else f", {muxed}"))
    bar.close()
    if failed:
        print(f"maskvat: {failed} of {len(plans)} videos failed (see above)")
    return 1 if failed else 0
