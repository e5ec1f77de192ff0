"""A short corpus for fine-tuning the lab codec's decoder on a 2-core CPU.

    python scripts/codec_finetune_corpus.py CORPUS OUT [--lab-clips 200] [--seed 0]

CORPUS is the codec corpus of scripts/train_lab_model.sh (folders hydrogen/, sonic_pi/,
lab_bank/, lab_train/). OUT receives float wav files (44.1 kHz mono): every hydrogen sample
cut to at most 1 s, every sonic-pi sample to 2 s, every lab-bank note to 1 s, and 2 s of
``--lab-clips`` lab training clips drawn at random; each longer file is cut at a random
start. With the Debian sound banks of 2026-11 and the lab of train_lab_model.sh that is
1080 files, 17.9 min, instead of the full corpus's 105 min, which takes `maskvat codec
train` about 10 minutes to read on a busy 2-core machine. Files are numbered in the order
they were drawn, so ``AudioCorpus.from_dirs`` (sorted) reads them in that order.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from maskvat.data.corpus import list_media
from maskvat.errors import MaskvatError
from maskvat.media import read_audio, write_audio

SR = 44100
PLAN = (("hydrogen", 1.0), ("sonic_pi", 2.0), ("lab_bank", 1.0), ("lab_train", 2.0))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus")
    ap.add_argument("out")
    ap.add_argument("--lab-clips", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    index, total = 0, 0
    for sub, seconds in PLAN:
        files = list_media([Path(args.corpus) / sub])
        if sub == "lab_train":
            files = [files[i] for i in sorted(rng.choice(len(files), min(args.lab_clips, len(files)), replace=False))]
        for path in files:
            try:
                wav = read_audio(path, sample_rate=SR)
            except MaskvatError as exc:
                print(f"skipped {path}: {exc}")
                continue
            n = int(seconds * SR)
            if len(wav) > n:
                start = int(rng.integers(0, len(wav) - n + 1))
                wav = wav[start:start + n]
            if len(wav) < 2048 or np.abs(wav).max() < 1e-4:
                continue
            write_audio(out / f"{index:05d}_{sub}_{path.stem[:40]}.wav", wav, SR, subtype="FLOAT")
            index += 1
            total += len(wav)
    print(f"{out}: {index} files, {total / SR / 60:.1f} min")


if __name__ == "__main__":
    main()
