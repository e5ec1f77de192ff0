"""Which beam selector helps on real footage: B candidates per segment, every one kept and scored,
then each selector's pick against the segment's real sound (issue 21, "B = 10 beams no worse
than B = 1").

    python benchmarks/beam_pick.py --model hits --work DIR [--beams 10] [--stage generate judge score]

DIR/refs/ holds the segments with their real sound (``benchmarks/fit_show.py --stage refs``).

- generate: for each segment, ``Pipeline.generate(variations=B)`` (B candidates sampled side by
  side, none selected; 32 steps, guidance 3, seed 0), each written to DIR/cands/varI/NAME.wav;
  with every candidate's SCAV distance to the segment's picture (the model's own SCAV, what
  ``--beams`` ranks by) and the model's sync judge's offset probabilities on (picture, candidate)
  (``maskvat.encoders.judge.offset_probabilities``, windows every half window): DIR/scores.json.
- judge: each candidate scored as ``maskvat generate --selector judge`` scores it
  (``Pipeline._judge``: the model's sync judge on the window's own sync features, picture
  context included, ``encoders.judge.sync_confidence``), added to DIR/scores.json.
- score: every candidate's onset figures against the real sound (``evaluation.alignment``, the
  detector and matching of ``maskvat evaluate``), and the pick of each selector written to
  DIR/rows/SELECTOR/NAME.wav for ``maskvat evaluate --compare``:
    first      candidate 1 (what B = 1 gives at this seed)
    scav       the smallest SCAV distance (what ``--beams B`` keeps)
    judge_p0   the largest mean probability of offset 0 over the judge's windows
    judge_abs  the smallest expected |offset| under the judge's probabilities
    judge      the largest p(offset 0) as ``--selector judge`` computes it (stage judge)
    oracle     the best onset F1 +-100 ms against the real sound (the ceiling of any selector;
               it reads the answer, so it is no system)
  and the mean over all candidates (what a random pick scores on average). DIR/pick.json, DIR/pick.md.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

SEGMENT = 8.0
SELECTORS = ("first", "scav", "judge_p0", "judge_abs", "judge", "oracle")


def stage_generate(model: str, work: Path, beams: int, seed: int, settings_args: dict) -> None:
    import torch
    from tqdm import tqdm

    from maskvat.encoders.judge import offset_probabilities
    from maskvat.encoders.sync import load_judge
    from maskvat.media import write_audio
    from maskvat.media.video import decode_frames
    from maskvat.pipeline.generate import Pipeline
    from maskvat.sampling.settings import SamplerSettings
    from maskvat.weights import pipeline_index, shipped_pipeline

    folder = shipped_pipeline(model) or Path(model)
    judge = load_judge(folder / pipeline_index(folder)["sync"])
    pipe = Pipeline.load(model, scav="lab")  # the pipeline's own SCAV
    settings = SamplerSettings(**settings_args)
    grid = judge.grid
    offsets = (np.arange(grid.n_classes) - grid.half) * grid.step_s
    scores_path = work / "scores.json"
    scores = json.loads(scores_path.read_text()) if scores_path.exists() else {}
    refs = sorted((work / "refs").glob("*.mp4"))
    t0 = time.process_time()
    for ref in tqdm(refs, desc="segments", unit="seg"):
        if ref.stem in scores:
            continue
        gens = pipe.generate(ref, variations=beams, seed=seed, settings=settings)
        feats = pipe.features.visual(ref, 0.0, gens[0].duration)
        scav = pipe.scav_distances(feats, torch.stack([g.codes for g in gens])).tolist()
        size = judge.cfg.size
        frames = decode_frames(ref, 25.0, size=(size, size), duration=gens[0].duration).frames
        p0, expected = [], []
        for i, g in enumerate(gens, 1):
            out = work / "cands" / f"var{i}"
            out.mkdir(parents=True, exist_ok=True)
            write_audio(out / f"{ref.stem}.wav", g.wav, g.sample_rate)
            probs = offset_probabilities(judge, frames, g.wav, sample_rate=g.sample_rate).numpy()
            p0.append(float(probs[:, grid.half].mean()))
            expected.append(float((probs * np.abs(offsets)).sum(-1).mean()))
        scores[ref.stem] = {"scav": scav, "judge_p0": p0, "judge_abs": expected}
        scores_path.write_text(json.dumps(scores, indent=1))
    (work / "generate.json").write_text(json.dumps({"beams": beams, "seed": seed, "settings": settings_args,
                                                    "cpu_s_this_run": round(time.process_time() - t0, 1)}, indent=1))


def stage_judge(model: str, work: Path) -> None:
    import torch

    from maskvat.encoders.judge import sync_confidence
    from maskvat.media import read_audio
    from maskvat.pipeline.generate import Pipeline

    pipe = Pipeline.load(model, scav=None, selector="judge")
    scores = json.loads((work / "scores.json").read_text())
    cands = sorted((work / "cands").iterdir(), key=lambda p: int(p.name[3:]))
    for stem, sc in scores.items():
        ref = work / "refs" / f"{stem}.mp4"
        wavs = [read_audio(c / f"{stem}.wav") for c in cands]
        feats = pipe.features.visual(ref, 0.0, len(wavs[0]) / 44100, context=pipe.feature_context,
                                     edge=pipe.feature_edge)
        p0 = sync_confidence(pipe.features.sync.judge, feats.sync, torch.as_tensor(np.stack(wavs)), 44100)
        sc["judge"] = (1.0 - p0).tolist()  # what Pipeline._judge returns as the beams' distances
    (work / "scores.json").write_text(json.dumps(scores, indent=1))


def stage_score(work: Path) -> dict:
    from maskvat.evaluation.alignment import onset_track, pair_alignment
    from maskvat.media import read_audio, write_audio

    scores = json.loads((work / "scores.json").read_text())
    cands = sorted((work / "cands").iterdir(), key=lambda p: int(p.name[3:]))
    per_clip, picks = {}, {s: {} for s in SELECTORS}
    if not all("judge" in sc for sc in scores.values()):
        picks.pop("judge")
    for stem, sc in sorted(scores.items()):
        ref_wav = read_audio(work / "refs" / f"{stem}.mp4")
        ref = onset_track(ref_wav, 44100)
        figures = []
        for c in cands:
            wav = read_audio(c / f"{stem}.wav")
            span = min(len(ref_wav), len(wav)) / 44100
            figures.append(pair_alignment(ref, onset_track(wav, 44100), span))
        f1 = [f["onset_f1_100"] for f in figures]
        chosen = {"first": 0, "scav": int(np.argmin(sc["scav"])), "judge_p0": int(np.argmax(sc["judge_p0"])),
                  "judge_abs": int(np.argmin(sc["judge_abs"])), "oracle": int(np.argmax(f1))}
        if "judge" in sc:
            chosen["judge"] = int(np.argmin(sc["judge"]))
        per_clip[stem] = {"figures": figures, "chosen": chosen}
        for name, i in chosen.items():
            picks[name][stem] = i
            out = work / "rows" / name
            out.mkdir(parents=True, exist_ok=True)
            write_audio(out / f"{stem}.wav", read_audio(cands[i] / f"{stem}.wav"), 44100)

    def mean(key: str, rows) -> float:
        vals = [r[key] for r in rows if not np.isnan(r[key])]
        return float(np.mean(vals)) if vals else float("nan")

    table = {}
    for name in picks:
        rows = [per_clip[s]["figures"][i] for s, i in picks[name].items()]
        table[name] = {k: mean(k, rows) for k in ("onset_f1_100", "onset_f1_50", "onset_p_100", "onset_r_100")}
    every = [f for c in per_clip.values() for f in c["figures"]]
    table["mean of all candidates"] = {k: mean(k, every) for k in ("onset_f1_100", "onset_f1_50", "onset_p_100",
                                                                    "onset_r_100")}
    # does each selector's score track the candidates' F1 inside a segment? (Spearman, mean over segments)
    from scipy.stats import spearmanr

    track = {}
    for key, sign in (("scav", -1), ("judge_p0", 1), ("judge_abs", -1), ("judge", -1)):
        if key not in picks:
            continue
        rhos = []
        for stem, c in per_clip.items():
            f1 = [f["onset_f1_100"] for f in c["figures"]]
            if np.std(f1) > 0:
                rhos.append(spearmanr(sign * np.asarray(scores[stem][key]), f1).statistic)
        track[key] = float(np.nanmean(rhos)) if rhos else float("nan")
    result = {"segments": len(per_clip), "candidates": len(cands), "table": table, "rank_correlation_with_f1": track,
              "picks": picks}
    (work / "pick.json").write_text(json.dumps(result, indent=1))
    lines = [f"{len(per_clip)} segments, {len(cands)} candidates each (means over segments)", "",
             "| pick | onset F1 +-100 ms | onset F1 +-50 ms | precision / recall +-100 ms |", "| --- | --- | --- | --- |"]
    for name, t in table.items():
        lines.append(f"| {name} | {t['onset_f1_100']:.3f} | {t['onset_f1_50']:.3f} | "
                     f"{t['onset_p_100']:.3f} / {t['onset_r_100']:.3f} |")
    lines += ["", "Spearman correlation of each selector's score (better = higher) with the candidates' onset F1 "
              "+-100 ms inside a segment, mean over segments: "
              + ", ".join(f"{k} {v:+.3f}" for k, v in track.items())]
    (work / "pick.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="hits")
    ap.add_argument("--work", required=True)
    ap.add_argument("--beams", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--stage", nargs="+", default=["generate", "judge", "score"], choices=["generate", "judge", "score"])
    args = ap.parse_args()
    work = Path(args.work)
    if not (work / "refs").is_dir():
        raise SystemExit(f"{work / 'refs'}: no such folder (make it with benchmarks/fit_show.py --stage refs)")
    if "generate" in args.stage:
        stage_generate(args.model, work, args.beams, args.seed, {"temperature": args.temperature})
    if "judge" in args.stage:
        stage_judge(args.model, work)
    if "score" in args.stage:
        stage_score(work)


if __name__ == "__main__":
    main()
