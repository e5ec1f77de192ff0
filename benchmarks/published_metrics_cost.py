"""Seconds per clip of each published metric's model on this machine (BENCHMARKS.md, "The field's
published metrics").

    nice .venv/bin/python benchmarks/published_metrics_cost.py --clips 4 --seconds 8
    nice .venv/bin/python benchmarks/published_metrics_cost.py --only desync ib --clips 2 --seconds 8
    nice .venv/bin/python benchmarks/published_metrics_cost.py --only panns passt desync ib --out cost.json

Every model has random weights in the published layout (the cost of a forward pass does not
depend on the values; no weights file is read): PANNs CNN14 at 16 kHz (av-benchmark's) and at
32 kHz, PaSST, Synchformer (DeSync) and ImageBind huge (IB-score, its vision and audio towers).
``--only`` picks the metrics (``panns`` = both CNN14 rows); the default is ``panns passt``, the
rows this script always gave. Each clip is a ``--seconds`` mono noise at 44.1 kHz (the span read
is the first ``--seconds``, as ``maskvat evaluate --published-seconds`` of the same length; 8 s is
its default); the time per clip (wall clock, and the CPU time of the process, which a shared
machine does not inflate) covers what ``maskvat evaluate`` does per clip and metric:

- PANNs, PaSST: mean removal, torchaudio-style resampling, the cut and (PaSST) the 10 s window,
  one forward pass. FD over the clips' embeddings is timed separately.
- DeSync: the video side (``DesyncScorer.video_features``: the span's frames at 25 fps, as the
  evaluator decodes them, short side 224 (398 x 224 for a 16:9 ``--video``), centre crop,
  MotionFormer over 0.64 s segments every 0.32 s) and the audio side (``DesyncScorer.score``:
  resampling to 16 kHz, log-mel segments, AST, the sync transformer on the first and last
  window).
- IB-score: the video side (``ImageBindScorer.video_embedding``: int(0.5 x span) frames at the
  ``--video`` size, resize, 3 crops x pairs of frames through the ViT-H vision tower) and the
  audio side (``ImageBindScorer.score``: resampling to 16 kHz, three 2 s Kaldi fbank clips
  through the audio tower, the cosine similarity).

The frames are random uint8 at the size the evaluator's decoder gives them; decoding the
reference video is not timed. The evaluator computes a reference's video side once and reuses it
for every sound scored against it, so the rows give the two sides apart as well as their sum.
The first clip is a warm-up and is not counted. ``--tiny``: toy Synchformer and ImageBind sizes
(tests; PANNs and PaSST keep theirs).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from maskvat.encoders.base import decode_size
from maskvat.evaluation.desync import FPS as DESYNC_FPS
from maskvat.evaluation.desync import DesyncScorer
from maskvat.evaluation.imagebind import PUBLISHED as IMAGEBIND
from maskvat.evaluation.imagebind import ImageBind, ImageBindConfig, ImageBindScorer
from maskvat.evaluation.metrics import frechet_distance
from maskvat.evaluation.panns import SIXTEEN_K, THIRTY_TWO_K, Cnn14, PANNsEmbedder
from maskvat.evaluation.passt import PaSST, PaSSTEmbedder
from maskvat.evaluation.synchformer import PUBLISHED as SYNCHFORMER
from maskvat.evaluation.synchformer import Synchformer, SynchformerConfig

SR = 44100
METRICS = ("panns", "passt", "desync", "ib")
DEFAULT = ("panns", "passt")
DESYNC_ROW, IB_ROW = "DeSync (Synchformer)", "IB-score (ImageBind)"
# the toy sizes of tests/evaluation/test_{desync,ib_score}_evaluate.py
TINY_SYNCHFORMER = SynchformerConfig(dim=32, heads=2, video_depth=1, audio_depth=1, image=32, sync_depth=1,
                                     sync_heads=2)
TINY_IMAGEBIND = ImageBindConfig(vision_dim=32, vision_depth=1, vision_heads=2, image=28, audio_dim=24,
                                 audio_depth=1, audio_heads=2, embed=16)


def time_embedder(emb, clips: list[np.ndarray]) -> tuple[float, float, np.ndarray]:
    """(wall seconds, CPU seconds of this process) per clip, and the embeddings."""
    emb.embed(clips[0], SR)  # warm-up
    out, t0, c0 = [], time.perf_counter(), time.process_time()
    for wav in clips[1:]:
        out.append(emb.embed(wav, SR).embedding)
    n = len(clips) - 1
    return (time.perf_counter() - t0) / n, (time.process_time() - c0) / n, np.stack(out)


def audio_rows(only, clips: list[np.ndarray], seconds: float, rng: np.random.Generator) -> dict:
    """The PANNs and PaSST rows among ``only``: seconds per clip of the embedder, and of FD over
    100 x the clips' embeddings."""
    builders = {"panns": (("PANNs CNN14 16 kHz", lambda: PANNsEmbedder(Cnn14(SIXTEEN_K), seconds=seconds)),
                          ("PANNs CNN14 32 kHz", lambda: PANNsEmbedder(Cnn14(THIRTY_TWO_K), seconds=seconds))),
                "passt": (("PaSST (10 s window)", lambda: PaSSTEmbedder(PaSST(), seconds=seconds)),)}
    rows = {}
    for name, emb in (b for metric in METRICS if metric in only for b in builders.get(metric, ())):
        wall, cpu, embeddings = time_embedder(emb(), clips)
        many = np.concatenate([embeddings + rng.standard_normal(embeddings.shape) for _ in range(100)])  # 100 x clips
        t0 = time.perf_counter()
        frechet_distance(many, many + 0.1)
        rows[name] = {"wall_s_per_clip": round(wall, 2), "cpu_s_per_clip": round(cpu, 2), "dims": embeddings.shape[1],
                      f"fd_seconds_{len(many)}_clips": round(time.perf_counter() - t0, 3)}
        print(name, rows[name], flush=True)
    return rows


def random_model(cls, config):
    """``cls(config)`` with torch's default random initialisation, in eval mode: the published
    layout (for the published config) without its weights."""
    torch.manual_seed(0)
    return cls(config).eval()


def desync_scorer(seconds: float, config: SynchformerConfig = SYNCHFORMER) -> DesyncScorer:
    """``DesyncScorer.from_pretrained(..., seconds=seconds)`` with random weights."""
    return DesyncScorer(random_model(Synchformer, config), seconds=seconds)


def ib_scorer(seconds: float, config: ImageBindConfig = IMAGEBIND) -> ImageBindScorer:
    """``ImageBindScorer.from_pretrained(..., seconds=seconds)`` with random weights."""
    return ImageBindScorer(random_model(ImageBind, config), seconds=seconds)


def desync_frames(scorer: DesyncScorer, seconds: float, width: int, height: int,
                  rng: np.random.Generator) -> np.ndarray:
    """Random frames as the evaluator decodes a width x height reference for DeSync
    (``evaluate._desync``): the span read at 25 fps, short side the model's image size
    (``desync.frame_size``)."""
    image = scorer.model.config.image
    w, h = decode_size(width, height, size=image, resize=image, keep_aspect=True)
    n = int(scorer.span(seconds) * DESYNC_FPS + 1e-6)
    return rng.integers(0, 256, (n, h, w, 3), dtype=np.uint8)


def ib_frames(scorer: ImageBindScorer, seconds: float, width: int, height: int,
              rng: np.random.Generator) -> np.ndarray:
    """Random frames as the evaluator decodes a width x height reference for IB-score
    (``evaluate._ib_score``): ``frame_count`` frames at 0.5 fps, at the video's size."""
    return rng.integers(0, 256, (scorer.frame_count(seconds), height, width, 3), dtype=np.uint8)


def time_scorer(video_side, audio_side, frames, clips: list[np.ndarray]) -> dict:
    """Seconds per clip of a video-and-audio metric: ``video_side(frames(i))`` (the reference's
    features) then ``audio_side(features, wav)`` (the score), each clip of ``clips`` in turn, the
    first not counted. The frames are made outside the clocks."""
    spent = np.zeros((2, 2))  # [video, audio] x [wall, cpu]
    scores = []
    for i, wav in enumerate(clips):
        pictures = frames(i)
        t0, c0 = time.perf_counter(), time.process_time()
        features = video_side(pictures)
        t1, c1 = time.perf_counter(), time.process_time()
        scores.append(audio_side(features, wav))
        t2, c2 = time.perf_counter(), time.process_time()
        if i:
            spent += [[t1 - t0, c1 - c0], [t2 - t1, c2 - c1]]
    (vw, vc), (aw, ac) = spent / (len(clips) - 1)

    def s(x: float) -> float:  # 3 significant figures: the toy sizes take milliseconds
        return float(f"{x:.3g}")

    return {"wall_s_per_clip": s(vw + aw), "cpu_s_per_clip": s(vc + ac), "video_wall_s": s(vw), "video_cpu_s": s(vc),
            "audio_wall_s": s(aw), "audio_cpu_s": s(ac), "frames": list(pictures.shape), "scores": scores[1:]}


def video_rows(only, clips: list[np.ndarray], seconds: float, width: int, height: int, *, tiny: bool = False) -> dict:
    """The DeSync and IB-score rows among ``only``: (row name, scorer, its video side, its frames,
    rounding of its scores) per metric, built one at a time (ImageBind huge alone is ~2.9 GB)."""
    metrics = {
        "desync": (DESYNC_ROW, lambda: desync_scorer(seconds, TINY_SYNCHFORMER if tiny else SYNCHFORMER),
                   lambda sc: sc.video_features, desync_frames,
                   lambda d: None if d is None else round(d.seconds, 3)),
        "ib": (IB_ROW, lambda: ib_scorer(seconds, TINY_IMAGEBIND if tiny else IMAGEBIND),
               lambda sc: sc.video_embedding, ib_frames, lambda x: round(x, 4)),
    }
    rows = {}
    for seed, key in enumerate(("desync", "ib"), 1):
        if key not in only:
            continue
        name, build, video_side, frames, rounded = metrics[key]
        scorer, rng = build(), np.random.default_rng(seed)

        def score(video, wav, sc=scorer):
            return sc.score(video, wav, SR)

        def pictures(i, sc=scorer, make=frames, r=rng):
            return make(sc, seconds, width, height, r)

        row = time_scorer(video_side(scorer), score, pictures, clips)
        row["scores"] = [rounded(x) for x in row["scores"]]
        rows[name] = row
        print(name, row, flush=True)
        del scorer
    return rows


def video_size(text: str) -> tuple[int, int]:
    w, _, h = text.lower().partition("x")
    try:
        width, height = int(w), int(h)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give WIDTHxHEIGHT, e.g. 640x360") from None
    if width < 1 or height < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give a positive WIDTHxHEIGHT")
    return width, height


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clips", type=int, default=4, help="clips timed (plus one warm-up)")
    p.add_argument("--seconds", type=float, default=8.0)
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--only", nargs="+", choices=METRICS, default=list(DEFAULT), metavar="METRIC",
                   help=f"metrics to time, of {' '.join(METRICS)} (default: {' '.join(DEFAULT)})")
    p.add_argument("--video", type=video_size, default=(640, 360), metavar="WxH",
                   help="the reference videos' size (DeSync, IB-score; default 640x360)")
    p.add_argument("--tiny", action="store_true", help="toy Synchformer and ImageBind (tests)")
    p.add_argument("--out", type=Path, help="also write the JSON here")
    args = p.parse_args(argv)
    if args.clips < 1:
        p.error("--clips: at least 1 (plus the warm-up)")
    return args


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    clips = [(0.1 * rng.standard_normal(int(args.seconds * SR))).astype(np.float32) for _ in range(args.clips + 1)]
    rows = audio_rows(args.only, clips, args.seconds, rng)
    rows |= video_rows(args.only, clips, args.seconds, *args.video, tiny=args.tiny)
    result = {"threads": args.threads, "clip_seconds": args.seconds, "rows": rows}
    if {"desync", "ib"} & set(args.only):
        result["video"] = "x".join(map(str, args.video))
        if args.tiny:
            result["tiny"] = True
    print(json.dumps(result, indent=1))
    if args.out is not None:
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    return result


if __name__ == "__main__":
    main()
