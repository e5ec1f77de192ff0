"""Encode + decode real-time factor of a codec architecture on this machine.

    python benchmarks/codec_speed.py --preset dac_44khz --seconds 10
Random weights: speed depends on the architecture, not on training.
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import torch

from maskvat.codec import AudioTokenizer


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="dac_44khz")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    tok = AudioTokenizer.from_preset(args.preset)
    wav = (np.random.default_rng(0).standard_normal(int(args.seconds * 44100)) * 0.1).astype(np.float32)
    tok.decode(tok.encode(wav[:44100]))  # warm-up
    enc, dec = [], []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        codes = tok.encode(wav)
        t1 = time.perf_counter()
        tok.decode(codes)
        t2 = time.perf_counter()
        enc.append(t1 - t0)
        dec.append(t2 - t1)
    e, d = min(enc), min(dec)
    print(f"preset={args.preset} params={sum(p.numel() for p in tok.parameters()) / 1e6:.1f}M "
          f"audio={args.seconds:.1f}s threads={torch.get_num_threads()} cpu={platform.processor() or platform.machine()}")
    print(f"encode {e:.2f} s (RTF {e / args.seconds:.3f}), decode {d:.2f} s (RTF {d / args.seconds:.3f}), "
          f"total RTF {(e + d) / args.seconds:.3f}")


if __name__ == "__main__":
    main()
