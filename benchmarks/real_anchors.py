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
    from maskvat.media import probe, read_audio
    from maskvat.media.video import decode_frames
    from maskvat.media.write import write_video

    ref.mkdir(parents=True, exist_ok=True)
    n = 0
    for src in sorted(p for p in folder.iterdir() if p.suffix.lower() in (".mp4", ".mov", ".mkv", ".avi", ".webm")):
        info = probe(src)
        if info.video is None or info.audio is None or info.video.duration < start + seconds:
            continue
        out = ref / f"{src.stem}.mp4"
        if not out.exists():
            frames = decode_frames(src, float(info.video.fps), start=start, duration=seconds).frames
            write_video(out, frames, info.video.fps, read_audio(src, start=start, duration=seconds), 44100,
                        audio_codec="alac")
        n += 1
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--start", type=float, default=4.0)
    ap.add_argument("--seconds", type=float, default=8.0)
    args = ap.parse_args()
    n = cut(args.folder, args.work / "ref", args.start, args.seconds)
    print(f"ref: {n} clips of {args.seconds:g} s", flush=True)
    cmd = [sys.executable, "-m", "maskvat", "evaluate", "--reference", str(args.work / "ref"), "--anchors",
           "--codec", "none", "--judge", "none", "--classifier", "none"]
    run = subprocess.run(cmd, capture_output=True, text=True)
    if run.returncode:
        raise SystemExit(run.stderr.strip().splitlines()[-1])
    (args.work / "anchors.md").write_text(run.stdout)
    print(run.stdout)


if __name__ == "__main__":
    main()
