"""Contact sheet: a strip of frames over a spectrogram with the true events marked."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from maskvat.errors import MaskvatError
from maskvat.lab.onsets import detect_onsets, mel_filterbank
from maskvat.lab.truth import load_truth
from maskvat.media import atomic_path, decode_frames, probe, read_audio

FAMILY_COLORS = {"impact": "#ff6b35", "percussion": "#f7c548", "pitched": "#7bd389", "continuous": "#5fa8ff"}


def display_mel_db(wav: np.ndarray, sr: int, n_fft: int = 2048, hop: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """(dB [64, F], frame times [F]) of mono ``wav`` for display."""
    from scipy.signal import stft

    _, times, spec = stft(wav, fs=sr, nperseg=n_fft, noverlap=n_fft - hop)
    mel = mel_filterbank(sr, n_fft) @ np.abs(spec) ** 2
    return 10 * np.log10(mel + 1e-10), times


def contact_sheet(clip: str | os.PathLike, out: str | os.PathLike, *, n_frames: int = 8,
                  truth: str | os.PathLike | None = None, show_onsets: bool = False) -> Path:
    """Draw ``clip`` (video with sound) to ``out`` (PNG); true events from the same-stem JSON."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    clip = Path(clip)
    truth_path = Path(truth) if truth else clip.with_suffix(".json")
    events = load_truth(truth_path).events if truth_path.is_file() else []
    info = probe(clip)
    if info.video is None:
        raise MaskvatError(f"{clip}: has no video stream")
    duration = info.video.duration
    fps = n_frames / duration
    frames = decode_frames(clip, fps)
    wav = read_audio(clip)
    db, times = display_mel_db(wav, 44100)

    fig = plt.figure(figsize=(12, 5.2), dpi=110)
    grid = fig.add_gridspec(2, n_frames, height_ratios=[1, 1.35], hspace=0.25, wspace=0.04)
    for i in range(min(n_frames, len(frames))):
        ax = fig.add_subplot(grid[0, i])
        ax.imshow(frames.frames[i])
        ax.set_title(f"{frames.source_times[i]:.2f} s", fontsize=8)
        ax.axis("off")
    ax = fig.add_subplot(grid[1, :])
    ax.imshow(db, origin="lower", aspect="auto", cmap="magma", extent=[times[0], times[-1], 0, db.shape[0]],
              vmin=db.max() - 80, vmax=db.max())
    ax.set_xlim(0, duration)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("mel band")
    seen = set()
    for e in events:
        style = "-" if e.kind == "onset" else ":"
        label = e.family if e.family not in seen else None
        seen.add(e.family)
        ax.axvline(e.time, color=FAMILY_COLORS.get(e.family, "white"), ls=style, lw=1.4, label=label)
    if show_onsets:
        for j, t in enumerate(detect_onsets(wav)):
            ax.axvline(t, ymin=0.9, ymax=1.0, color="white", lw=2, label="detected onset" if j == 0 else None)
    if seen or show_onsets:
        ax.legend(loc="upper right", fontsize=8, ncol=5, framealpha=0.6)
    fig.suptitle(f"{clip.name}: true events (solid: onset, dotted: continuous sound stops)", fontsize=10)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", bbox_inches="tight")
    plt.close(fig)
    return Path(out)
