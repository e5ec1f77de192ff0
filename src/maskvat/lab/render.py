"""Render one lab clip: frames, mixed audio and its ground truth, from a spec."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from maskvat.lab.scenes import BACKGROUND, Frame, sample_sources
from maskvat.lab.sounds import make_bank
from maskvat.lab.truth import ClipTruth

PEAK = 0.9


@dataclass(frozen=True)
class ClipSpec:
    """Everything a clip depends on: the same spec renders the same bytes."""

    clip_id: str
    seed: tuple[int, ...]  # SeedSequence entropy: (seed, split id, clip index)
    duration: float = 4.0
    fps: float = 25.0
    width: int = 128
    height: int = 128
    sample_rate: int = 44100
    bank: str = "procedural"


def render_clip(spec: ClipSpec, bank=None) -> tuple[np.ndarray, np.ndarray, ClipTruth, list[dict]]:
    """(frames [N, H, W, 3] uint8, audio [T] float32 mono, truth, sound samples used)."""
    bank = bank or make_bank(spec.bank)
    scene_rng, sound_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(list(spec.seed)).spawn(2))
    grid = Frame(spec.fps, spec.width, spec.height, spec.sample_rate, int(round(spec.duration * spec.fps)))
    sources = sample_sources(scene_rng, grid)
    frames = np.empty((grid.n_frames, spec.height, spec.width, 3), np.uint8)
    for k in range(grid.n_frames):
        canvas = frames[k]
        canvas[:] = BACKGROUND
        for src in sources:
            src.draw(canvas, k)
    audio = np.zeros(grid.n_samples, np.float32)
    used: list[dict] = []
    for src in sources:
        wav, infos = src.audio(bank, sound_rng)
        audio += wav
        used += infos
    peak = float(np.abs(audio).max())
    if peak > PEAK:  # one gain for the whole clip: onsets stay where they are
        audio *= PEAK / peak
    events = sorted((e for s in sources for e in s.events), key=lambda e: (e.sample, e.source))
    truth = ClipTruth(
        clip_id=spec.clip_id, fps=spec.fps, sample_rate=spec.sample_rate, duration=grid.n_frames / spec.fps,
        width=spec.width, height=spec.height, seed=list(spec.seed), sources=[s.describe() for s in sources],
        events=events,
    )
    return frames, audio, truth, used
