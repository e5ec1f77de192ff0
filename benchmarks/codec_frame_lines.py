"""Is a codec's added tone locked to the codegram's frame grid? (issue 26, the 947 Hz tone)

    python benchmarks/codec_frame_lines.py AUDIO [AUDIO ...] [--codec lab] [--harmonic 11]
        [--start 5] [--seconds 4] [--json OUT.json]

Round-trips each file (``--seconds`` from ``--start``; shorter files whole), plus 4 s of white
noise (0.05 RMS) and 4 s of digital silence, through the codec, and folds the round trip's
error (output - input) at the codec's hop: the mean over frames of each of the hop's sample
phases is the part of the error that repeats every frame (the frame-locked part). Per signal
it reports the RMS of the output, the share of the error's energy that is frame-locked, and
the amplitude and phase (radians, relative to the frame grid) of the frame-locked error at
``--harmonic`` x the frame rate (11 x 86.13 Hz = 947.46 Hz for the lab codec), next to the
same harmonic's amplitude in the whole error. A decoder artefact shows as the same phase in
every signal, absent from silence; content of the input at that frequency has a random phase.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("audio", nargs="+")
    ap.add_argument("--codec", default="lab")
    ap.add_argument("--harmonic", type=int, default=11)
    ap.add_argument("--start", type=float, default=5.0)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    torch.set_num_threads(2)

    from maskvat.codec import AudioTokenizer
    from maskvat.media import read_audio

    tok = AudioTokenizer.from_pretrained(args.codec)
    sr, hop = tok.sample_rate, tok.hop_length
    signals = {}
    for a in args.audio:
        x = read_audio(a, sample_rate=sr)
        first = int(args.start * sr) if len(x) >= (args.start + args.seconds) * sr else 0
        signals[Path(a).name] = x[first: first + int(args.seconds * sr)]
    signals["white noise"] = (0.05 * np.random.default_rng(0).standard_normal(int(4 * sr))).astype(np.float32)
    signals["silence"] = np.zeros(int(4 * sr), np.float32)
    f_line = args.harmonic * sr / hop
    rows = []
    for name, x in signals.items():
        n = len(x) // hop * hop
        x = x[:n]
        with torch.no_grad():
            y = tok.decode(tok.encode(torch.from_numpy(x)[None]), num_samples=n)[0].numpy()
        err = (y - x)[4 * hop: n - 4 * hop].astype(np.float64)  # away from the clip's edges
        locked = err.reshape(-1, hop).mean(0)
        line = np.fft.rfft(locked)[args.harmonic] * 2 / hop
        t = np.arange(len(err)) / sr
        whole = 2 * np.abs(np.sum(err * np.exp(-2j * np.pi * f_line * t))) / len(err)
        rows.append({"signal": name, "output_rms": float(np.sqrt(np.mean(y ** 2))),
                     "frame_locked_share": float(np.mean(locked ** 2) / max(np.mean(err ** 2), 1e-20)),
                     "line_amplitude": float(np.abs(line)), "line_phase_rad": float(np.angle(line)),
                     "line_in_error": float(whole)})
    print(f"codec {args.codec}: frame rate {sr / hop:.2f} Hz, harmonic {args.harmonic} = {f_line:.2f} Hz")
    print(f"{'signal':32s} {'out RMS':>8s} {'locked %':>9s} {'line amp':>9s} {'phase':>6s} {'in error':>9s}")
    for r in rows:
        print(f"{r['signal'][:32]:32s} {r['output_rms']:8.4f} {100 * r['frame_locked_share']:8.1f}% "
              f"{r['line_amplitude']:9.5f} {r['line_phase_rad']:+6.2f} {r['line_in_error']:9.5f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"codec": args.codec, "line_hz": f_line, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
