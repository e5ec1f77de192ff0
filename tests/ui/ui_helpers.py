"""Shared by the workstation's tests: a clip, the tiny model's workstation, and the file checks."""

from __future__ import annotations

import hashlib
from pathlib import Path

import av
import numpy as np

from maskvat.pipeline.edit import range_frames

SECONDS = 1.0  # the test clip: 25 frames at 25 fps, 87 codegram frames: one window of the tiny model
MAX_FRAMES = 100
HOP = 512


def tiny_pipeline():
    """``maskvat.load("debug")`` with a window that holds the whole test clip, its codec made to
    hear its tokens: the random tiny codec decodes almost the same sound whatever the tokens (two
    random codegrams differ by 3e-5, under one step of a 16-bit file), so its quantizers' output
    projections are scaled 1000x (then they differ by 0.03 at an RMS of 0.012): a candidate, and a
    range redone, then sound different, and the tests can tell which sound was kept."""
    import torch

    from maskvat.pipeline.generate import Pipeline

    pipe = Pipeline.debug(max_frames=MAX_FRAMES)
    with torch.no_grad():
        for name, p in pipe.codec.named_parameters():
            if ".quantizers." in name and ".out_proj." in name:
                p.mul_(1000.0)
    return pipe


def write_clip(path: Path) -> Path:
    """A 1 s H.264 clip (64x48, 25 fps, indexed grey frames) with no sound."""
    from media_helpers import indexed_frames

    from maskvat.media import write_video

    write_video(path, indexed_frames(int(SECONDS * 25)), 25.0)
    return path


def sha256(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def video_packets(path) -> list[tuple]:
    """Every video packet of ``path``: (payload, pts and dts in seconds, keyframe)."""
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        return [(bytes(p), None if p.pts is None else p.pts * p.time_base,
                 None if p.dts is None else p.dts * p.time_base, p.is_keyframe) for p in c.demux(s) if p.size]


def outside_changed(ranges, pipe, n_samples: int) -> np.ndarray:
    """[T] bool: the samples an edit of ``ranges`` (seconds) must leave as the kept sound's, computed
    as ``Generation.changed`` is documented (maskvat.pipeline.edit): the frames each range touches,
    widened by the pipeline's ``edge_frames``, then by its decoder's reach."""
    total = -(-n_samples // HOP)
    keep = np.ones(n_samples, dtype=bool)
    for f0, f1 in range_frames(ranges, 0.0, HOP / 44100, total, pipe.edge_frames):
        keep[max(0, f0 - pipe.decoder_reach) * HOP:min(total, f1 + pipe.decoder_reach) * HOP] = False
    return keep
