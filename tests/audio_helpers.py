"""Short synthetic sounds for the codec tests."""

import numpy as np


def impact_clip(seed: int = 0, n: int = 8192, sr: int = 44100) -> np.ndarray:
    """[n] float32: four decaying sine impacts at random times and pitches (200-2000 Hz)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / sr
    wav = np.zeros(n, np.float32)
    for start in rng.uniform(0, n / sr - 0.05, 4):
        env = np.where(t >= start, np.exp(-(t - start) * 40), 0)
        wav += (0.3 * env * np.sin(2 * np.pi * rng.uniform(200, 2000) * t)).astype(np.float32)
    return wav


def drum_loop(seed: int = 0, seconds: float = 2.0, sr: int = 44100) -> np.ndarray:
    """[seconds * sr] float32: a kick (a 110 -> 45 Hz sweep), a snare (noise and a 190 Hz body)
    and closed hi-hats (differenced noise) every 0.25 s, over a -60 dBFS noise floor."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    wav = 1e-3 * rng.standard_normal(n)
    t = np.arange(int(0.6 * sr)) / sr
    kick = 0.8 * np.exp(-t * 9) * np.sin(2 * np.pi * (45 * t + (110 - 45) / 30 * (1 - np.exp(-30 * t))))
    snare = np.exp(-t * 22) * (0.4 * rng.standard_normal(len(t)) + 0.3 * np.sin(2 * np.pi * 190 * t))
    hat = 0.15 * np.exp(-t * 60) * np.diff(rng.standard_normal(len(t) + 1))
    hits = [(s, kick) for s in (0.05, 1.05)] + [(s, snare) for s in (0.55, 1.55)]
    hits += [(s, hat) for s in np.arange(0.05, seconds, 0.25)]
    for start, sound in hits:
        i = int(start * sr)
        seg = sound[: n - i]
        wav[i:i + len(seg)] += seg
    return wav.astype(np.float32)
