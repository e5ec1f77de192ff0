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
