"""Real footage in memory for encoder training: videos cut into clips of one length, frames at
25 fps and log-mels at 100 Hz, held as the lab's clips are (``LabClips``), so the sync judge and
the semantic pair train on a user's videos exactly as they train on lab builds.

    clips = load_footage(["a.mp4", "b.mov"], clip_seconds=4.0, size=64)
    clips.frames      # [C, 100, 64, 64, 3] uint8 at 25 fps
    clips.mels        # [C, 64, 400] float32 at 100 Hz (``maskvat.dsp.log_mel``)
    clips.clip_ids    # ["a.mp4@0.000", "a.mp4@4.000", ...]

Each video is read whole once (frames squashed to ``size`` x ``size``, as the lab encoders read
them at generation time: ``maskvat.encoders.base.decode_size`` without ``resize``; sound mono at
44.1 kHz whatever the file's rate and channels) and cut into consecutive clips from its start;
the remainder shorter than a clip is left out. Footage has no truth: ``labels`` is None and
``levels`` None. ``codec_round_trip_mels`` gives the same clips' log-mels after a trip through a
codec (what a generator over that codec can at best give back), for ``LabClips.codec_mels``.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from maskvat.data.lab_clips import FPS, MEL_RATE, LabClips
from maskvat.dsp import log_mel
from maskvat.errors import MaskvatError
from maskvat.media import decode_frames, probe, read_audio


def clip_frames(clip_seconds: float) -> int:
    """Frames at 25 fps in one clip of ``clip_seconds``; a MaskvatError unless that is a whole number."""
    n = int(round(clip_seconds * FPS))
    if n < 1 or abs(n - clip_seconds * FPS) > 1e-6:
        raise MaskvatError(f"clip length {clip_seconds} s is not a whole number of 25 fps frames (e.g. 4.0, 4.04)")
    return n


def _read_video(args) -> tuple[str, np.ndarray, np.ndarray]:
    """One video -> (name, frames [C, F, S, S, 3] uint8, mels [C, 64, 4F] float32)."""
    path, name, clip_seconds, size = args
    n = clip_frames(clip_seconds)
    info = probe(path)
    if info.video is None or info.audio is None:
        raise MaskvatError(f"{path}: needs a video and an audio stream")
    span = min(info.video.duration, info.audio.duration)
    k = int(span * FPS + 1e-6) // n  # whole clips
    if k == 0:
        empty = np.zeros((0,))
        return name, empty, empty
    frames = decode_frames(path, FPS, size=(size, size), duration=k * n / FPS).frames[: k * n]
    wav = read_audio(path, duration=k * n / FPS)
    per_mel = int(MEL_RATE / FPS)  # 4 mel frames
    mel = log_mel(torch.from_numpy(wav)).numpy()
    k = min(k, len(frames) // n, mel.shape[-1] // (n * per_mel))
    frames = frames[: k * n].reshape(k, n, size, size, 3)
    mels = np.stack([mel[:, i * n * per_mel:(i + 1) * n * per_mel] for i in range(k)]) if k else np.zeros((0,))
    return name, frames, mels.astype(np.float32)


def load_footage(videos: list[str | os.PathLike], *, clip_seconds: float, size: int, names: list[str] | None = None,
                 workers: int = 0, progress: bool = True) -> LabClips:
    """Clips of ``clip_seconds`` from each video (see the module doc). ``names``: each video's label in
    ``clip_ids`` ("NAME@START", START in seconds; default: the file name). ``workers``: decoding
    processes (0: in this process). MaskvatError if no video gives a clip."""
    clip_frames(clip_seconds)
    names = names or [Path(v).name for v in videos]
    jobs = [(Path(v), nm, clip_seconds, size) for v, nm in zip(videos, names)]
    bar = dict(total=len(jobs), desc="read footage", unit="video", disable=not progress)
    if workers <= 0:
        rows = [_read_video(job) for job in tqdm(jobs, **bar)]
    else:  # spawn: a forked child running torch ops can deadlock (see lab_clips)
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            rows = list(tqdm(pool.map(_read_video, jobs), **bar))
    rows = [r for r in rows if len(r[1])]
    if not rows:
        raise MaskvatError(f"none of the {len(jobs)} videos is {clip_seconds:g} s long: no clip to train on")
    ids = [f"{nm}@{i * clip_seconds:.3f}" for nm, f, _ in rows for i in range(len(f))]
    return LabClips(frames=np.concatenate([r[1] for r in rows]), mels=np.concatenate([r[2] for r in rows]),
                    labels=None, clip_ids=ids)


@torch.no_grad()
def codec_round_trip_mels(codec, clips: LabClips, paths: dict[str, str | os.PathLike], clip_seconds: float, *,
                          progress: bool = True, batch: int = 2) -> np.ndarray:
    """[C, 64, M] log-mels of each clip's sound after a trip through ``codec`` (an ``AudioTokenizer``),
    M as ``clips.mels``. ``paths``: name -> file, for the names of ``clips.clip_ids``. ``batch`` clips
    at a time (larger batches are slower on a CPU)."""
    n_mel = clips.mels.shape[-1]
    out = []
    ids = clips.clip_ids
    for i in tqdm(range(0, len(ids), batch), desc="codec round trip", unit="pair", disable=not progress):
        parts = [cid.rpartition("@") for cid in ids[i:i + batch]]
        wav = torch.from_numpy(np.stack([read_audio(paths[name], start=float(start), duration=clip_seconds)
                                         for name, _, start in parts]))
        rec = codec.decode(codec.encode(wav), num_samples=wav.shape[-1]).reshape(len(wav), -1).float().cpu()
        out.append(log_mel(rec)[..., :n_mel].numpy())
    return np.concatenate(out).astype(np.float32)
