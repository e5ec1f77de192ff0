"""Where the real-clip onset detector's floor comes from, and what it sees in a pair of folders
(BENCHMARKS.md, "A floor on onset strength").

    python benchmarks/onset_floor.py noise                      # peak onset strength of steady noise
    python benchmarks/onset_floor.py pairs REFS GENERATED       # per clip: onsets, strongest onset, level

noise: 12 clips of 8 s each of white, pink and brown noise at random levels from -70 to -20 dBFS
(seeded); for each colour the mean number of peaks librosa's picking finds (without the floor),
and the median and the highest of each clip's strongest peak after the first 100 ms.
pairs: for each REFS/X.* with a GENERATED/X.wav, the onsets (with the floor), the strongest onset
strength and the RMS level in dBFS of each side; then the totals and medians over the clips.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

SR = 44100


def noise_peaks() -> None:
    import librosa

    from maskvat.evaluation.alignment import ONSET_HOP, ONSET_N_FFT, ONSET_RATE

    for colour, name in ((0, "white"), (1, "pink"), (2, "brown")):
        tops, counts = [], []
        for seed in range(12):
            rng = np.random.default_rng(seed)
            n = 8 * ONSET_RATE
            f = np.fft.rfftfreq(n, 1 / ONSET_RATE)
            spec = rng.standard_normal(len(f)) + 1j * rng.standard_normal(len(f))
            spec[1:] /= f[1:] ** (colour / 2)
            spec[0] = 0
            w = np.fft.irfft(spec, n)
            w = (w / w.std() * 10 ** (rng.uniform(-70, -20) / 20)).astype(np.float32)
            env = librosa.onset.onset_strength(y=w, sr=ONSET_RATE, hop_length=ONSET_HOP, n_fft=ONSET_N_FFT,
                                               pad_mode="reflect")
            peaks = librosa.onset.onset_detect(onset_envelope=env, sr=ONSET_RATE, hop_length=ONSET_HOP)
            peaks = peaks[peaks >= 10]
            counts.append(len(peaks))
            tops.append(env[peaks].max())
        print(f"{name}: {np.mean(counts):.1f} peaks per 8 s without the floor; strongest peak median "
              f"{np.median(tops):.2f}, highest {np.max(tops):.2f}")


def pairs(refs: Path, generated: Path) -> None:
    from maskvat.evaluation.alignment import onset_track
    from maskvat.media import read_audio

    def describe(wav):
        track = onset_track(wav, SR)
        idx = np.round(track.onsets / 0.01).astype(int)
        top = track.envelope[idx[idx < len(track.envelope)]].max() if len(idx) else float("nan")
        return len(track.onsets), top, 20 * np.log10(np.sqrt(np.mean(wav ** 2)) + 1e-9)

    rows = []
    for ref in sorted(p for p in refs.iterdir() if p.is_file()):
        gen = generated / f"{ref.stem}.wav"
        if not gen.exists():
            continue
        (rn, rt, rl), (gn, gt, gl) = describe(read_audio(ref)), describe(read_audio(gen))
        rows.append((rn, rt, rl, gn, gt, gl))
        print(f"{ref.stem}: real {rn} onsets, strongest {rt:.1f}, {rl:.0f} dBFS | generated {gn} onsets, "
              f"strongest {gt:.1f}, {gl:.0f} dBFS")
    if rows:
        a = np.array(rows, dtype=np.float64)
        print(f"all {len(rows)}: real {a[:, 0].sum():.0f} onsets, median strongest {np.nanmedian(a[:, 1]):.1f}, "
              f"median level {np.median(a[:, 2]):.1f} dBFS | generated {a[:, 3].sum():.0f} onsets, median strongest "
              f"{np.nanmedian(a[:, 4]):.1f}, median level {np.median(a[:, 5]):.1f} dBFS")


if __name__ == "__main__":
    if sys.argv[1:2] == ["noise"]:
        noise_peaks()
    elif sys.argv[1:2] == ["pairs"] and len(sys.argv) == 4:
        pairs(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        raise SystemExit(__doc__.split("\n\n")[1])
