"""The semantic encoder pair on lab clips it never saw: retrieval and linear probes.

    python benchmarks/semantic_encoders.py --pair src/maskvat/assets/lab/semantic --lab /work/runs/lab

- audio -> video retrieval among the test clips (whole-clip embeddings): recall@1, recall@5,
  chance, and how often the top video has the query's sound class;
- linear probes of the clip's sound class (its most frequent onset class), fit on the train
  split and scored on the test split: the frame encoder's mean embedding, the audio encoder's
  pooled embedding, and, as a baseline, the mean 16x16 thumbnail (``lab-thumbs``);
- with ``--codec lab`` (the default): the same test clips after a round trip through the
  codec: the mean cosine of each clip's true and round-trip audio embeddings (the WC the
  evaluation gives a perfect generator over that codec), and retrieval with round-trip queries.
Prints JSON; ``--out FILE`` also writes it.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch


def main() -> None:
    from maskvat.encoders.lab import ThumbnailEncoder
    from maskvat.data.lab_clips import load_lab_split
    from maskvat.encoders.semantic import load_semantic
    from maskvat.train.semantic import (
        clip_embeddings,
        frame_indices,
        linear_probe,
        retrieval,
    )
    from maskvat.lab.vocab import SOUND_CLASSES

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pair", required=True, help="a saved semantic pair (config.json + model.safetensors)")
    ap.add_argument("--lab", required=True, help="lab build with train/ and test/")
    ap.add_argument("--out", default=None, help="also write the JSON here")
    ap.add_argument("--codec", default="lab", help="codec for the round-trip measures ('none' to skip)")
    args = ap.parse_args()

    t0 = time.time()
    pair = load_semantic(args.pair)
    splits = {s: load_lab_split(Path(args.lab) / s, size=pair.cfg.size) for s in ("train", "test")}
    emb = {s: clip_embeddings(pair, c) for s, c in splits.items()}
    thumbs = ThumbnailEncoder()
    idx = frame_indices(splits["train"].frames.shape[1], 8.0)
    thumb = {s: torch.cat([thumbs.encode_frames(c.frames[i : i + 50][:, idx]).mean(1) for i in range(0, len(c.frames), 50)])
             for s, c in splits.items()}
    test, train = splits["test"], splits["train"]
    n_cls = len(SOUND_CLASSES)
    result = {
        "pair": args.pair,
        "test_clips": len(test.frames),
        "retrieval_audio_to_video": retrieval(emb["test"][0], emb["test"][1], test.labels),
        "probe_frame_encoder": linear_probe(emb["train"][0], train.labels, emb["test"][0], test.labels, n_cls),
        "probe_audio_encoder": linear_probe(emb["train"][1], train.labels, emb["test"][1], test.labels, n_cls),
        "probe_thumbnails_baseline": linear_probe(thumb["train"], train.labels, thumb["test"], test.labels, n_cls),
        "majority_class_share": float(np.bincount(test.labels[test.labels >= 0]).max() / (test.labels >= 0).sum()),
        "labelled_test_clips": int((test.labels >= 0).sum()),
        "seconds": round(time.time() - t0, 1),
    }
    if args.codec != "none":
        from maskvat.train.semantic import codec_round_trip_mels

        rt = torch.from_numpy(codec_round_trip_mels(Path(args.lab) / "test", args.codec, test.mels.shape[-1]))
        with torch.no_grad():
            rt_audio = torch.cat([pair.audio(rt[i : i + 32])[1] for i in range(0, len(rt), 32)])
        result["codec_round_trip"] = {
            "codec": args.codec,
            "mean_cosine_true_vs_round_trip": torch.cosine_similarity(rt_audio, emb["test"][1], dim=1).mean().item(),
            "retrieval_round_trip_audio_to_video": retrieval(emb["test"][0], rt_audio, test.labels),
        }
        result["seconds"] = round(time.time() - t0, 1)
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
