"""``maskvat probe VIDEO``: what a media file holds."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("probe", help="describe a video or audio file (duration, fps, size, streams)")
    p.add_argument("path", metavar="VIDEO", help="a video or audio file")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
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
        f"container: {info.container}  ({info.size_bytes / 1e6:.2f} MB)",
        f"duration:  {info.duration:.3f} s",
    ]
    v = info.video
    if v is None:
        lines.append("video:     none")
    else:
        fps = f"{v.fps.numerator}/{v.fps.denominator} ≈ {float(v.fps):.3f}" if v.fps.denominator != 1 else f"{v.fps.numerator}"
        lines.append(
            f"video:     {v.codec} {v.width}x{v.height} {v.pix_fmt or ''}, {fps} fps"
            f"{' (variable)' if v.variable_frame_rate else ''}, {v.frame_count} frames, {v.duration:.3f} s"
        )
    a = info.audio
    lines.append("audio:     none" if a is None else f"audio:     {a.codec} {a.sample_rate} Hz, {a.channels} ch, {a.duration:.3f} s")
    return "\n".join(lines)
