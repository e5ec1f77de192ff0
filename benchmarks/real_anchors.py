"""Which metric to trust on real clips: `maskvat evaluate --anchors` on 8 s of each Greatest Hits
file (README, "Which metric to trust for what"; BENCHMARKS.md, "Evaluation on real clips").

    python benchmarks/real_anchors.py /work/shared/data/greatesthits --work DIR [--start 4] [--seconds 8]

Cuts DIR/ref/NAME.mp4 from every video of the folder: ``--seconds`` from ``--start``, the
source's frames at its own rate and its sound as every model reads it (mono, 44.1 kHz, ALAC:
lossless), with the project's media layer (PyAV; no ffmpeg program needed); files shorter than
start + seconds are left out. Then runs

    maskvat evaluate --reference DIR/ref --anchors --codec none --judge none --classifier none

whose table scores the anchors (the truth, shifted +-200 ms, cut, through 16 kHz, another
clip's truth, silence, white noise) on every metric, and writes it to DIR/anchors.md.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path


def cut(folder: Path, ref: Path, start: float, seconds: float) -> int:
    """Cut every usable video of ``folder`` into ``ref``; says which files it skips and why."""
    from maskvat.errors import MaskvatError
    from maskvat.media import probe, read_audio
    from maskvat.media.formats import VIDEO_SUFFIXES
    from maskvat.media.video import decode_frames
    from maskvat.media.write import write_video

    n = 0
    for src in sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES):
        try:
            info = probe(src)
            if info.video is None or info.audio is None:
                raise MaskvatError(f"{src}: needs a video and a sound stream")
            if info.video.duration < start + seconds:
                raise MaskvatError(f"{src}: {info.video.duration:.1f} s, shorter than {start:g} + {seconds:g} s")
            out = ref / f"{src.stem}.mp4"
            if not out.exists():
                frames = decode_frames(src, float(info.video.fps), start=start, duration=seconds).frames
                ref.mkdir(parents=True, exist_ok=True)
                write_video(out, frames, info.video.fps, read_audio(src, start=start, duration=seconds), 44100,
                            audio_codec="alac")
        except MaskvatError as exc:
            print(f"skipped: {exc}", flush=True)
            continue
        n += 1
    return n


def fail(problem: str) -> None:
    """One line on stderr, exit status 2 (bad input, as every maskvat command)."""
    print(f"real_anchors: error: {problem}", file=sys.stderr)
    raise SystemExit(2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--start", type=float, default=4.0)
    ap.add_argument("--seconds", type=float, default=8.0)
    args = ap.parse_args()
    if not args.folder.is_dir():
        fail(f"{args.folder}: " + ("is a file, not a folder of videos" if args.folder.exists() else "no such folder"))
    n = cut(args.folder, args.work / "ref", args.start, args.seconds)
    print(f"ref: {n} clips of {args.seconds:g} s", flush=True)
    if n < 2:
        fail(f"{args.folder}: {n} usable video(s); the anchors need 2 or more (another clip's truth is one of them)")
    cmd = [sys.executable, "-m", "maskvat", "evaluate", "--reference", str(args.work / "ref"), "--anchors",
           "--codec", "none", "--judge", "none", "--classifier", "none"]
    run = subprocess.run(cmd, capture_output=True, text=True)
    if run.returncode:
        fail(run.stderr.strip().splitlines()[-1].removeprefix("maskvat: error: "))
    (args.work / "anchors.md").write_text(run.stdout)
    print(run.stdout)


if __name__ == "__main__":
    main()
