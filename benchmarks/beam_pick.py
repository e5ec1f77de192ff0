"""Which beam selector helps on real footage: B candidates per segment, every one kept and scored,
then each selector's pick against the segment's real sound (issue 21, "B = 10 beams no worse
than B = 1").

    python benchmarks/beam_pick.py --model hits --work DIR [--beams 10] [--stage generate rank score]

DIR/refs/ holds the segments with their real sound (``benchmarks/fit_show.py --stage refs``).

- generate: for each segment, ``Pipeline.generate(variations=B)`` (B candidates sampled side by
  side, none selected; 32 steps, guidance 3, seed 0), each written to DIR/cands/varI/NAME.wav.
- rank: every candidate's distance as each beam selector gives it (``Pipeline.beam_distances``
  on the segment's features read as generation reads them, picture context included): SCAV's
  (what ``--beams B`` keeps) and the sync judge's (``--selector judge``): DIR/scores.json.
- score: every candidate's onset figures against the real sound (``evaluation.alignment``, the
  detector and matching of ``maskvat evaluate``), and the pick of each selector written to
  DIR/rows/SELECTOR/NAME.wav for ``maskvat evaluate --compare``:
    first      candidate 1 (what B = 1 gives at this seed)
    scav       the smallest SCAV distance (what ``--beams B`` keeps)
    judge      the smallest judge distance (what ``--beams B --selector judge`` keeps)
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
SELECTORS = ("first", "scav", "judge", "oracle")


def stage_generate(model: str, work: Path, beams: int, seed: int, settings_args: dict) -> None:
    from tqdm import tqdm

    from maskvat.media import write_audio
    from maskvat.pipeline.generate import Pipeline
    from maskvat.sampling.settings import SamplerSettings

    pipe = Pipeline.load(model, scav=None)
    settings = SamplerSettings(**settings_args)
    t0 = time.process_time()
    for ref in tqdm(sorted((work / "refs").glob("*.mp4")), desc="segments", unit="seg"):
        if (work / "cands" / f"var{beams}" / f"{ref.stem}.wav").exists():
            continue  # done by an earlier run (the last candidate is written last)
        for i, g in enumerate(pipe.generate(ref, variations=beams, seed=seed, settings=settings), 1):
            out = work / "cands" / f"var{i}"
            out.mkdir(parents=True, exist_ok=True)
            write_audio(out / f"{ref.stem}.wav", g.wav, g.sample_rate)
    (work / "generate.json").write_text(json.dumps({"beams": beams, "seed": seed, "settings": settings_args,
                                                    "cpu_s_this_run": round(time.process_time() - t0, 1)}, indent=1))


def stage_rank(model: str, work: Path) -> None:
    import torch

    from maskvat.media import read_audio
    from maskvat.pipeline.generate import Pipeline

    pipe = Pipeline.load(model, scav="lab")  # the pipeline's own SCAV; its sync judge too
    cands = sorted((work / "cands").iterdir(), key=lambda p: int(p.name[3:]))
    scores = {}
    for ref in sorted((work / "refs").glob("*.mp4")):
        if not (cands[-1] / f"{ref.stem}.wav").exists():
            continue
        wavs = torch.as_tensor(np.stack([read_audio(c / f"{ref.stem}.wav") for c in cands]))
        feats = pipe.features.visual(ref, 0.0, wavs.shape[-1] / 44100, context=pipe.feature_context,
                                     edge=pipe.feature_edge)
        scores[ref.stem] = {s: pipe.beam_distances(feats, wavs, s).tolist() for s in ("scav", "judge")}
    (work / "scores.json").write_text(json.dumps(scores, indent=1))


def stage_score(work: Path) -> dict:
    from maskvat.evaluation.alignment import onset_track, pair_alignment
    from maskvat.media import read_audio, write_audio

    scores = json.loads((work / "scores.json").read_text())
    cands = sorted((work / "cands").iterdir(), key=lambda p: int(p.name[3:]))
    per_clip, picks = {}, {s: {} for s in SELECTORS}
    for stem, sc in sorted(scores.items()):
        ref_wav = read_audio(work / "refs" / f"{stem}.mp4")
        ref = onset_track(ref_wav, 44100)
        figures = []
        for c in cands:
            wav = read_audio(c / f"{stem}.wav")
            span = min(len(ref_wav), len(wav)) / 44100
            figures.append(pair_alignment(ref, onset_track(wav, 44100), span))
        f1 = [f["onset_f1_100"] for f in figures]
        chosen = {"first": 0, "scav": int(np.argmin(sc["scav"])), "judge": int(np.argmin(sc["judge"])),
                  "oracle": int(np.argmax(f1))}
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
    for key, sign in (("scav", -1), ("judge", -1)):
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
    ap.add_argument("--stage", nargs="+", default=["generate", "rank", "score"], choices=["generate", "rank", "score"])
    args = ap.parse_args()
    work = Path(args.work)
    if not (work / "refs").is_dir():
        raise SystemExit(f"{work / 'refs'}: no such folder (make it with benchmarks/fit_show.py --stage refs)")
    if "generate" in args.stage:
        stage_generate(args.model, work, args.beams, args.seed, {"temperature": args.temperature})
    if "rank" in args.stage:
        stage_rank(args.model, work)
    if "score" in args.stage:
        stage_score(work)


if __name__ == "__main__":
    main()
