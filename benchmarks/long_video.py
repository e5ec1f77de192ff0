"""Long videos (issue 22): peak memory and time of `maskvat generate` from 10 s to 60 min.

    python benchmarks/long_video.py SOURCE.mp4 --seconds 10 60 600 3600 --steps 1 [--json OUT.json]

For each duration D, makes a D-second video by looping SOURCE's video stream, stream-copied
(ffmpeg -stream_loop; the sound is dropped), then runs `maskvat generate VIDEO -o OUT --steps N
--no-video` (and, with --mux, the muxed copy too) in a child process, and reports its wall
time, its CPU time (user + system, from the kernel's accounting of the child: steadier than
wall time on a shared machine) and its peak resident memory (the child's own ru_maxrss). The
video and the outputs go to a scratch folder (--work, default a temporary one) and are removed.
Needs ffmpeg on PATH (Debian's ffmpeg) for the looping.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def looped(source: Path, seconds: float, out: Path) -> Path:
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-stream_loop", "-1", "-i", str(source), "-t", f"{seconds}",
                    "-map", "0:v:0", "-c", "copy", str(out)], check=True)
    return out


def run_one(video: Path, out: Path, args) -> dict:
    cmd = [sys.executable, "-m", "maskvat", "generate", str(video), "-o", str(out), "--steps", str(args.steps),
           "--model", args.model, "--overwrite"]
    if not args.mux:
        cmd.append("--no-video")
    log = out.parent / "generate.log"
    t = time.perf_counter()
    with open(log, "w") as f:
        proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own resource use
    wall = time.perf_counter() - t
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"{' '.join(cmd)} failed:\n{log.read_text()[-2000:]}")
    return {"wall_s": round(wall, 1), "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
            "peak_rss_mb": round(usage.ru_maxrss / 1024, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("source")
    ap.add_argument("--seconds", type=float, nargs="+", default=[10, 60, 600, 3600])
    ap.add_argument("--steps", type=int, default=32)
    ap.add_argument("--model", default="lab")
    ap.add_argument("--mux", action="store_true", help="also write the muxed copy")
    ap.add_argument("--work", default=None, help="scratch folder (default: a temporary one)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    if shutil.which("ffmpeg") is None:
        raise SystemExit("needs ffmpeg on PATH (apt install ffmpeg) to loop the source video")
    work = Path(args.work or tempfile.mkdtemp(prefix="long_video_"))
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    for seconds in sorted(args.seconds):
        video = looped(Path(args.source), seconds, work / f"loop_{seconds:g}s.mp4")
        row = {"seconds": seconds, "steps": args.steps, **run_one(video, work / "out", args)}
        row["cpu_per_video_s"] = round(row["cpu_s"] / seconds, 2)
        rows.append(row)
        print(json.dumps(row), flush=True)
        video.unlink()
        shutil.rmtree(work / "out", ignore_errors=True)
    report = {"source": args.source, "machine": f"{platform.machine()}, {os.cpu_count()} cores",
              "date": time.strftime("%Y-%m-%d"), "rows": rows}
    print(f"{'video':>8} {'steps':>5} {'wall s':>8} {'CPU s':>8} {'CPU s per s':>11} {'peak RSS MB':>11}")
    for r in rows:
        print(f"{r['seconds']:>7g}s {r['steps']:>5} {r['wall_s']:>8.1f} {r['cpu_s']:>8.1f} "
              f"{r['cpu_per_video_s']:>11.2f} {r['peak_rss_mb']:>11.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
