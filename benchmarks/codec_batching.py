"""Codec speed per clip on this machine: whole batches through DacModel vs one item at a time.

    python benchmarks/codec_batching.py --split runs/lab/test [--codec lab] [--n 16] [--batch 8]

``AudioTokenizer`` encodes and decodes batch items one at a time on a CPU; this measures why:
the same clips through ``DacModel.encode/decode`` in batches of ``--batch`` and one by one.
Prints seconds per clip (best of 2 passes).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", required=True, help="a lab split (its first --n clips are used)")
    ap.add_argument("--codec", default="lab")
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from maskvat.codec.tokenizer import AudioTokenizer
    from maskvat.media import read_audio
    from maskvat.train.generator import resolve_codec

    tok = AudioTokenizer.from_pretrained(resolve_codec(args.codec))
    clips = json.loads(open(f"{args.split}/manifest.json").read())["clips"][: args.n]
    wav = tok.pad(torch.from_numpy(np.stack([read_audio(f"{args.split}/{c['video']}") for c in clips])))[:, None]
    model = tok.model

    def per_clip(fn, x, size):
        best = float("inf")
        for _ in range(2):
            t = time.perf_counter()
            for i in range(0, len(x), size):
                fn(x[i:i + size])
            best = min(best, (time.perf_counter() - t) / len(x))
        return round(best, 4)

    with torch.no_grad():
        model.encode(wav[:1])  # warm-up
        codes = torch.cat([model.encode(w[None]).audio_codes for w in wav])
        enc = lambda x: model.encode(x)  # noqa: E731
        dec = lambda c: model.decode(audio_codes=c)  # noqa: E731
        report = {"codec": tok.name, "clips": len(clips), "clip_seconds": wav.shape[-1] / tok.sample_rate,
                  "threads": args.threads,
                  "encode_s_per_clip": {f"batch {args.batch}": per_clip(enc, wav, args.batch), "one by one": per_clip(enc, wav, 1)},
                  "decode_s_per_clip": {f"batch {args.batch}": per_clip(dec, codes, args.batch), "one by one": per_clip(dec, codes, 1)}}
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
