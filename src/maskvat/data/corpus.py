"""Training audio for the codec: every sound file (or video's sound track) under some folders.

``AudioCorpus.from_dirs`` reads each file once, mono at 44.1 kHz, into memory;
``sample_batch`` draws random non-silent crops. Files that cannot be read are skipped and
counted (``skipped``), never fatal: a corpus of thousands of downloaded samples has some.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from maskvat.errors import MaskvatError
from maskvat.media.audio import read_audio
from maskvat.media.formats import AUDIO_SUFFIXES, VIDEO_SUFFIXES


def list_media(dirs, suffixes=AUDIO_SUFFIXES | VIDEO_SUFFIXES) -> list[Path]:
    """Sorted sound/video files under each folder (recursively, following links); a file is taken as is."""
    files: list[Path] = []
    for d in dirs:
        d = Path(d)
        if d.is_file():
            files.append(d)
        elif d.is_dir():
            found = [Path(root) / name for root, _, names in os.walk(d, followlinks=True) for name in names]
            files.extend(sorted(p for p in found if p.suffix.lower() in suffixes and p.is_file()))
        else:
            raise MaskvatError(f"{d}: no such file or folder")
    return files


LOUD_FRAME = 441  # samples per frame of ``sample_batch(loud=...)``'s energy draw (10 ms at 44.1 kHz)


@dataclass
class AudioCorpus:
    """In-memory mono 44.1 kHz waveforms. ``waves[i]: [T_i] float32``."""

    waves: list[np.ndarray]
    names: list[str]
    sample_rate: int = 44100
    skipped: list[str] = field(default_factory=list)
    _energy: dict = field(default_factory=dict, repr=False, compare=False)  # i -> _frame_energy(i), filled on use

    @classmethod
    def from_dirs(cls, dirs, *, sample_rate: int = 44100, max_seconds: float = 30.0, progress: bool = True) -> "AudioCorpus":
        files = list_media(dirs)
        if not files:
            raise MaskvatError(f"no sound or video files under {', '.join(map(str, dirs))}")
        waves, names, skipped = [], [], []
        for path in tqdm(files, desc="reading audio", unit="file", disable=not progress):
            try:
                wav = read_audio(path, sample_rate=sample_rate)[: int(max_seconds * sample_rate)]
            except MaskvatError as exc:
                skipped.append(f"{path}: {exc}")
                continue
            wav = np.asarray(wav, dtype=np.float32)
            if wav.size < 2048 or not np.isfinite(wav).all() or np.abs(wav).max() < 1e-4:
                skipped.append(f"{path}: too short, silent or not finite")
                continue
            waves.append(wav)
            names.append(str(path))
        if not waves:
            raise MaskvatError(f"none of the {len(files)} files under {', '.join(map(str, dirs))} has usable sound")
        return cls(waves, names, sample_rate, skipped)

    def _frame_energy(self, i: int) -> np.ndarray:
        """Energy of each whole ``LOUD_FRAME``-sample frame of waves[i] (cached), plus a tiny floor."""
        if i not in self._energy:
            wav = self.waves[i]
            n = len(wav) // LOUD_FRAME
            self._energy[i] = (wav[: n * LOUD_FRAME].astype(np.float64).reshape(n, LOUD_FRAME) ** 2).sum(1) + 1e-12
        return self._energy[i]

    @property
    def seconds(self) -> float:
        return sum(len(w) for w in self.waves) / self.sample_rate

    def sample_batch(self, batch: int, length: int, rng: np.random.Generator, *, min_rms: float = 3e-3,
                     gain_db: tuple[float, float] = (-6.0, 6.0), loud: float = 0.0) -> np.ndarray:
        """[batch, length] random crops (files drawn by length), retrying near-silent crops, random gain, peak <= 1.

        ``loud``: the fraction of the crops (the first ``round(loud * batch)``) placed on a loud
        moment: a 10 ms frame drawn with probability proportional to its energy, at a uniform
        position inside the crop. Sparse loud events (a stick's hits: about 1 % of the frames of
        Greatest Hits footage) are otherwise nearly absent from short crops, and a codec trained on
        them returns hits 15-18 dB too soft (BENCHMARKS.md, "Soft hits").
        """
        lengths = np.array([len(w) for w in self.waves], dtype=np.float64)
        p = lengths / lengths.sum()
        out = np.zeros((batch, length), dtype=np.float32)
        n_loud = int(round(loud * batch))
        for b in range(batch):
            for _ in range(8):
                i = int(rng.choice(len(self.waves), p=p))
                wav = self.waves[i]
                if len(wav) <= length:
                    start = int(rng.integers(0, length - len(wav) + 1))
                    crop = np.zeros(length, np.float32)
                    crop[start:start + len(wav)] = wav
                else:
                    if b < n_loud:
                        energy = self._frame_energy(i)
                        frame = int(rng.choice(len(energy), p=energy / energy.sum()))
                        at = frame * LOUD_FRAME + int(rng.integers(0, LOUD_FRAME))
                        start = min(max(at - int(rng.integers(0, length)), 0), len(wav) - length)
                    else:
                        start = int(rng.integers(0, len(wav) - length + 1))
                    crop = wav[start:start + length]
                if np.sqrt(np.mean(crop ** 2)) >= min_rms:
                    break
            crop = crop * np.float32(10 ** (rng.uniform(*gain_db) / 20))
            peak = np.abs(crop).max()
            out[b] = crop / peak if peak > 1 else crop
        return out


def split_files(dirs, held_out_fraction: float, seed: int = 0) -> tuple[list[Path], list[Path]]:
    """Deterministic file-level split of the corpus into (train, held-out)."""
    files = list_media(dirs)
    rng = np.random.default_rng(seed)
    mask = rng.random(len(files)) < held_out_fraction
    return [f for f, m in zip(files, mask) if not m], [f for f, m in zip(files, mask) if m]

