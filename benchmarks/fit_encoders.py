"""The encoders of several ``maskvat fit`` folders, scored on one set of windows of their val files.

A fit's curves score its sync judge and semantic pair on windows cut from its own clips
(``clip_seconds``), so two fits with other clip lengths are not scored alike. Here every folder's
judge and pair meet the same clips of the val files (``--clip-seconds``, default 4 s, the fit
default): the sync judge on ``--windows`` fixed windows (offset classes in equal numbers, seed
1234, as the trainer's validation), the semantic pair on audio -> video retrieval among the clips.
The folders must share their split (the val files are read from the first folder's split.json).

    python benchmarks/fit_encoders.py /work/runs/hits /work/scratch/aug/c12 /work/scratch/aug/c12aug
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from maskvat.data.footage import load_footage
from maskvat.encoders.semantic import load_semantic
from maskvat.encoders.sync import load_judge
from maskvat.train.semantic import clip_embeddings, retrieval
from maskvat.train.sync_judge import evaluate, fixed_windows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folders", nargs="+", type=Path, help="maskvat fit --out folders (a sync stage done; semantic optional)")
    p.add_argument("--clip-seconds", type=float, default=4.0)
    p.add_argument("--windows", type=int, default=630, help="sync windows (a multiple of the offset classes)")
    p.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = p.parse_args()
    torch.manual_seed(0)
    split = json.loads((args.folders[0] / "fit" / "split.json").read_text())
    for f in args.folders[1:]:
        other = json.loads((f / "fit" / "split.json").read_text())
        if other["files"] != split["files"]:
            raise SystemExit(f"{f}: another split than {args.folders[0]}; its val files differ")
    names = split["files"]["val"]
    paths = [split["paths"][n] for n in names]
    clips: dict[int, object] = {}
    rows = []
    print(f"val files: {len(names)}; clips of {args.clip_seconds} s")
    print("| folder | sync exact | sync within one | true-pair mean abs offset (s) | semantic r@1 | r@5 | clips |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for folder in args.folders:
        row = {"folder": str(folder)}
        judge_dir = folder / "fit" / "sync" / "sync_judge"
        judge = load_judge(judge_dir)
        size = judge.cfg.size
        if size not in clips:
            clips[size] = load_footage(paths, clip_seconds=args.clip_seconds, size=size, names=names, progress=False)
        windows = fixed_windows(clips[size], judge.grid, args.windows, seed=1234)
        row.update(evaluate(judge, windows))
        sem_dir = folder / "fit" / "semantic" / "semantic"
        if sem_dir.is_dir():
            pair = load_semantic(sem_dir)
            if pair.cfg.size not in clips:
                clips[pair.cfg.size] = load_footage(paths, clip_seconds=args.clip_seconds, size=pair.cfg.size,
                                                    names=names, progress=False)
            r = retrieval(*clip_embeddings(pair, clips[pair.cfg.size]))
            row.update({"r1": r["r1"], "r5": r["r5"], "clips": len(clips[pair.cfg.size].frames)})
        rows.append(row)
        sem = (f"{row['r1']:.3f} | {row['r5']:.3f} | {row['clips']}" if "r1" in row else "- | - | -")
        print(f"| {folder} | {row['acc']:.3f} | {row['acc_within_1']:.3f} | {row['true_pair_mean_abs_offset_s']:.3f} | "
              f"{sem} |")
    grid = judge.grid
    n = grid.n_classes
    print(f"(a uniform guess: exact {1 / n:.3f}, within one {(3 * n - 2) / n ** 2:.3f}; {args.windows} windows)")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
