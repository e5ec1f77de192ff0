"""``maskvat probe VIDEO [--json]``: what a media file holds."""

from __future__ import annotations

import argparse
import json
from fractions import Fraction


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "probe",
        help="describe a video or audio file (duration, fps, frame count, streams)",
        description="Describe a video or audio file: container, duration, size, video codec, "
        "frame size, display rotation (phone video), exact frame rate, frame count of the frames a player "
        "shows (an MP4 edit list's pre-roll is not counted), variable-frame-rate flag, audio rate and channels.",
    )
    p.add_argument("path", metavar="VIDEO", help="a video or audio file")
    p.add_argument("--json", action="store_true", help="print MediaInfo as JSON instead of text")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from maskvat.media import probe

    info = probe(args.path)
    print(json.dumps(info.to_dict(), indent=2) if args.json else format_info(info))
    return 0


def format_info(info) -> str:
    """Human-readable lines for a :class:`maskvat.media.MediaInfo`."""
    lines = [
        f"file:      {info.path}",
        f"container: {info.container}, {_size(info.size_bytes)}",
        f"duration:  {info.duration:.3f} s",
        f"video:     {_video_line(info.video)}",
        f"audio:     {_audio_line(info.audio)}",
    ]
    return "\n".join(lines)


def format_fps(fps: Fraction) -> str:
    """25 -> "25"; 30000/1001 -> "30000/1001 ≈ 29.970"."""
    if fps.denominator == 1:
        return str(fps.numerator)
    return f"{fps.numerator}/{fps.denominator} ≈ {float(fps):.3f}"


def _video_line(v) -> str:
    if v is None:
        return "none"
    rate = f"{format_fps(v.fps)} fps"
    if v.variable_frame_rate:
        rate = f"variable frame rate, average {rate}"
    frames = "? frames" if v.frame_count is None else f"{v.frame_count} frames"
    start = f", starts at {v.start_time:.3f} s" if v.start_time else ""
    size = f"{v.width}x{v.height}"
    if v.rotation:
        size += " (rotated {}° clockwise: shown {}x{})".format(v.rotation, *v.display_size)
    return f"{v.codec} {size} {v.pix_fmt or '?'}, {rate}, {frames}, {v.duration:.3f} s{start}"


def _audio_line(a) -> str:
    if a is None:
        return "none"
    return f"{a.codec} {a.sample_rate} Hz, {a.channels} ch, {a.duration:.3f} s"


def _size(n: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"
