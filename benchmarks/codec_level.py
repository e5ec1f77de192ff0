"""Does a codec keep the level of loud moments? (BENCHMARKS.md, "Soft hits come from the codec")

    python benchmarks/codec_level.py REFS CODEC [CODEC ...]

For each codec (a name such as 'lab' or 'hits', or a codec folder) and every clip in REFS (video or
audio, read as mono 44.1 kHz): the round trip encode -> decode, then per 10 ms frame its level
against the real frame's, binned by the real frame's level (dBFS): the median difference in dB
per bin over all clips (negative: quieter than the real sound), the number of frames in the bin,
the median round-trip mel distance (``dsp.mel_distance``) and the median over clips of the
strongest onset (``evaluation.alignment.onset_track``, librosa's units) of the real sound and of
the round trip.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

SR = 44100
FRAME = 441
BINS = (-90, -60, -50, -40, -30, -20, -10, 0)


def frame_db(wav: np.ndarray) -> np.ndarray:
    n = len(wav) // FRAME
    return 10 * np.log10((wav[: n * FRAME].astype(np.float64).reshape(n, FRAME) ** 2).mean(1) + 1e-12)


def strongest_onset(wav: np.ndarray) -> float:
    from maskvat.evaluation.alignment import onset_track

    track = onset_track(wav, SR)
    idx = np.round(track.onsets / 0.01).astype(int)
    idx = idx[idx < len(track.envelope)]
    return float(track.envelope[idx].max()) if len(idx) else 0.0


def main(refs: Path, codecs: list[str]) -> None:
    import torch

    from maskvat.codec.tokenizer import AudioTokenizer
    from maskvat.dsp import mel_distance
    from maskvat.media import read_audio
    from maskvat.weights import resolve, shipped, shipped_index

    clips = sorted(p for p in refs.iterdir() if p.is_file())
    real = {p: read_audio(p, sample_rate=SR) for p in clips}
    print(f"{len(clips)} clips from {refs}; real strongest onset, median: "
          f"{np.median([strongest_onset(w) for w in real.values()]):.1f}")
    print(f"{'codec':<28}" + "".join(f"{f'{a}..{b}':>12}" for a, b in zip(BINS[:-1], BINS[1:]))
          + f"{'mel dist':>10}{'onset':>8}")
    for name in codecs:
        tok = AudioTokenizer.from_pretrained(shipped("codec", name) if name in shipped_index() else resolve(name, "codec"))
        diffs, mels, tops = [], [], []
        for p, wav in real.items():
            back = tok.decode(tok.encode(wav), num_samples=len(wav))[0].numpy()
            r, g = frame_db(wav), frame_db(back)
            diffs.append(np.stack([r, g - r], 1))
            mels.append(mel_distance(torch.from_numpy(back)[None], torch.from_numpy(wav)[None]).item())
            tops.append(strongest_onset(back))
        d = np.concatenate(diffs)
        which = np.digitize(d[:, 0], BINS)
        cells = []
        for k in range(1, len(BINS)):
            sel = which == k
            cells.append(f"{np.median(d[sel, 1]):+.1f} ({sel.sum()})" if sel.sum() >= 5 else "-")
        print(f"{name[-28:]:<28}" + "".join(f"{c:>12}" for c in cells) + f"{np.median(mels):>10.3f}{np.median(tops):>8.1f}")
    print("cells: median dB of the round trip minus the real sound over 10 ms frames whose real level is in the "
          "bin (dBFS), and the number of frames")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        raise SystemExit(__doc__.split("\n\n")[1])
    main(Path(sys.argv[1]), sys.argv[2:])
