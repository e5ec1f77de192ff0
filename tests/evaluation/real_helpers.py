"""Small real-like clips for the evaluation tests: sharp impacts (decaying noise bursts) at random
times over a quiet room-noise floor, as in the Greatest Hits videos; seeded."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import soundfile as sf

SR = 44100


def impacts(seconds: float, seed: int, sr: int = SR) -> np.ndarray:
    """[round(seconds * sr)] float32: 2-4 impacts per second, at least 0.2 s apart, over noise at -50 dBFS."""
    rng = np.random.default_rng(seed)
    n = int(round(seconds * sr))
    wav = 0.003 * rng.standard_normal(n)
    t = 0.15 + rng.uniform(0, 0.2)
    while t < seconds - 0.1:
        i = int(t * sr)
        m = min(n - i, int(0.25 * sr))
        tau = rng.uniform(0.01, 0.05)
        burst = rng.standard_normal(m) * np.exp(-np.arange(m) / (tau * sr)) * rng.uniform(0.2, 0.8)
        wav[i:i + m] += np.convolve(burst, np.ones(rng.integers(1, 8)) / 4, mode="same")
        t += rng.uniform(0.2, 0.6)
    return np.clip(wav, -1, 1).astype(np.float32)


def write_sound(path: Path, wav: np.ndarray, sr: int = SR, channels: int = 1) -> Path:
    """A wav/flac at ``sr`` (resampled from 44.1 kHz by soxr when different), ``channels`` channels."""
    import soxr

    x = soxr.resample(wav, SR, sr) if sr != SR else wav
    sf.write(str(path), np.repeat(x[:, None], channels, 1) if channels > 1 else x, sr)
    return path


def write_clip(path: Path, wav: np.ndarray, *, fps: int = 25, size=(64, 48), audio_codec: str = "aac") -> Path:
    """A video of moving grey frames with ``wav`` (44.1 kHz mono) as its sound."""
    from maskvat.media import write_video

    n = int(len(wav) / SR * fps)
    frames = np.zeros((n, size[1], size[0], 3), np.uint8)
    frames[:] = (np.arange(n) * 7 % 255).astype(np.uint8)[:, None, None, None]
    write_video(path, frames, fps, audio=wav, audio_codec=audio_codec)
    return path


def stream_copy_cut_av(src: Path, dst: Path, drop_s: float) -> Path:
    """What ``ffmpeg -ss T -i src -c copy dst`` makes of an MP4 with sound: both streams' packets
    copied, timestamps moved ``drop_s`` earlier, so the muxer writes edit lists that hide what falls
    before 0 (the video's pre-roll, the sound's first ``drop_s``)."""
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        outs = {s.index: out.add_stream_from_template(s, opaque=True) for s in inp.streams if s.type in ("video", "audio")}
        for packet in inp.demux(*[s for s in inp.streams if s.index in outs]):
            if not packet.size or packet.pts is None:
                continue
            shift = round(drop_s / packet.time_base)
            packet.pts -= shift
            packet.dts -= shift
            packet.stream = outs[packet.stream.index]
            out.mux(packet)
    return dst
