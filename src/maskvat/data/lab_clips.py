"""Lab clips in memory for encoder training: frames at 25 fps, log-mels at 100 Hz.

A clip of D seconds gives frames [25 D, S, S, 3] uint8 and mel [64, 100 D] float32; the
sync task draws (video window, audio window shifted by an offset class) pairs from them.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from maskvat.dsp import LOG_MEL_RATE as MEL_RATE
from maskvat.dsp import log_mel
from maskvat.encoders.sync import FPS, OffsetGrid
from maskvat.errors import MaskvatError
from maskvat.lab.truth import load_truth
from maskvat.media import decode_frames, read_audio

__all__ = ["FPS", "MEL_RATE", "LabClips", "OffsetGrid", "continuous_levels", "load_lab_split", "log_mel",
           "sample_sync_batch"]


@dataclass
class LabClips:
    """frames [C, F, S, S, 3] uint8, mels [C, 64, M] float32, class ids per clip [C] (-1: none; the
    whole field None for clips without truth, e.g. a user's footage: ``maskvat.data.footage``);
    optionally ``codec_mels`` [C, 64, M]: the same clips' sound after a codec round trip, and
    ``levels`` [C, 2, F] float32: per frame, the highest fan speed and tap flow on screen (0: none
    running), from the truth; training may supervise with them, a judge never reads them."""

    frames: np.ndarray
    mels: np.ndarray
    labels: np.ndarray | None
    clip_ids: list[str]
    codec_mels: np.ndarray | None = None
    levels: np.ndarray | None = None


CONTINUOUS_KINDS = ("fan", "tap")


def continuous_levels(truth, n_frames: int) -> np.ndarray:
    """[2, n_frames] float32: per frame, the highest fan speed and the highest tap flow among a
    clip's continuous sources (``CONTINUOUS_KINDS`` order; 0 where none is running)."""
    out = np.zeros((len(CONTINUOUS_KINDS), n_frames), np.float32)
    for s in truth.sources:
        if s["family"] == "continuous":
            level = np.asarray(s["level_per_frame"], np.float32)[:n_frames]
            row = CONTINUOUS_KINDS.index(s["kind"])
            out[row, : len(level)] = np.maximum(out[row, : len(level)], level)
    return out


def _load_one(args) -> tuple[np.ndarray, np.ndarray, int, np.ndarray]:
    video, truth, size, n_frames = args
    frames = decode_frames(video, FPS, size=(size, size)).frames[:n_frames]
    wav = torch.from_numpy(read_audio(video))
    mel = log_mel(wav)[:, : int(n_frames / FPS * MEL_RATE)].numpy()
    clip_truth = load_truth(truth)
    events = [e for e in clip_truth.events if e.kind == "onset"]
    # the clip's dominant class: the most frequent onset class (for probes and retrieval)
    label = int(np.bincount([e.class_id for e in events]).argmax()) if events else -1
    return frames, mel, label, continuous_levels(clip_truth, n_frames)


def load_lab_split(folder: str | os.PathLike, size: int = 64, limit: int | None = None,
                   workers: int = 2, progress: bool = True) -> LabClips:
    folder = Path(folder)
    manifest = folder / "manifest.json"
    if not manifest.is_file():
        raise MaskvatError(f"{folder}: not a lab split (no manifest.json); build one with `maskvat lab build`")
    meta = json.loads(manifest.read_text())
    clips = meta["clips"][:limit]
    n_frames = int(round(meta["duration"] * FPS))
    jobs = [(folder / c["video"], folder / c["truth"], size, n_frames) for c in clips]
    # spawn, not fork: a forked child running torch ops deadlocks once the parent has used
    # torch's thread pool (loading a model before the data is enough)
    bar = dict(total=len(jobs), desc=f"load {folder.name}", unit="clip", disable=not progress)
    if workers <= 1:
        rows = [_load_one(job) for job in tqdm(jobs, **bar)]
    else:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            rows = list(tqdm(pool.map(_load_one, jobs, chunksize=8), **bar))
    return LabClips(
        frames=np.stack([r[0] for r in rows]),
        mels=np.stack([r[1] for r in rows]).astype(np.float32),
        labels=np.array([r[2] for r in rows]),
        clip_ids=[c["clip_id"] for c in clips],
        levels=np.stack([r[3] for r in rows]),
    )


def sample_sync_batch(clips: LabClips, grid: OffsetGrid, batch: int, rng: np.random.Generator,
                      classes: np.ndarray | None = None, return_index: bool = False):
    """(video [B, F, S, S, 3] uint8, mel [B, 64, 4F] float, offset class [B]) for random windows.

    The audio window starts ``offset`` seconds after the video window (positive: audio late).
    With ``return_index``, also (clip index [B], video start frame [B]).
    """
    n_clips, total = clips.frames.shape[:2]
    w, max_shift = grid.window_frames, grid.half * grid.step_frames
    if total < w + 2 * max_shift:
        raise MaskvatError(f"clips of {total} frames are too short for {w}-frame windows and +-{max_shift} shifts")
    idx = rng.integers(n_clips, size=batch)
    start = rng.integers(max_shift, total - w - max_shift + 1, size=batch)
    cls = rng.integers(grid.n_classes, size=batch) if classes is None else classes
    shift = grid.shift_frames(cls)
    per = int(MEL_RATE / FPS)
    video = np.stack([clips.frames[i, s : s + w] for i, s in zip(idx, start)])
    mel = np.stack([clips.mels[i, :, (s + d) * per : (s + d + w) * per] for i, s, d in zip(idx, start, shift)])
    out = torch.from_numpy(video), torch.from_numpy(mel), torch.from_numpy(cls.astype(np.int64))
    return (*out, idx, start) if return_index else out
