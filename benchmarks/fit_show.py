"""What a `maskvat fit` model does on its held-out files (issue 21, "Show"): alignment against
the real recorded sound with its controls, B = 10 against B = 1, the fitted codec against
libopus, a contact sheet per file, and the fit's time per stage.

    python benchmarks/fit_show.py MODEL --work DIR [--stage refs rows sheets table] [--rows ...]

MODEL is the folder `maskvat fit` wrote (MODEL/fit/split.json names the test files, which no
stage read). Each test file is cut into 8 s segments (starts 0, 8, 16, ..., and one ending
0.5 s before the file's end for a remainder of 4 s or more), so that every segment's sound can
also be read 0.5 s later from the source. Stages (each writes under --work; run them in order,
or alone when their inputs exist):

- refs: DIR/refs/NAME_sS.mp4, the segment's picture (re-encoded, H.264) with its real sound
  (ALAC, lossless, as recorded); DIR/rows/shifted/NAME_sS.wav, the real sound read 0.5 s
  later from the source (nothing padded).
- rows: the sound of each segment by each row, DIR/rows/ROW/NAME_sS.wav:
  b1 / b10  `maskvat generate refs/ --model MODEL` with 1 / 10 beams (32 steps, guidance 3, the
            paper's defaults; SCAV keeps one of the 10);
  lab       the same with the shipped lab model (the floor: it never saw a real video);
  codec     the real sound through MODEL's codec (encode, decode: the ceiling of any generator
            over this codec);
  retrieval the real sound of the training window nearest in MODEL's visual features (the
            pooled semantic and sync features of MODEL/fit/cache/train against the segment's);
  chance    b1's sound of a segment of *another* test file (the same generated sounds, scored
            against a real sound they were not made for).
  Each model row records its CPU seconds (DIR/rows/ROW.json).
- sheets: DIR/sheets/NAME.png per test file: frames of its first segment, the spectrogram of
  the b10 sound and of the real sound, the onsets detected in each (the detector of the
  alignment metrics, ``maskvat.evaluation.alignment.onset_track``).
- table: `maskvat evaluate` of every row against refs/ (bootstrap intervals over segments),
  the fitted codec's and libopus 8 kbps's round-trip mel distance on the test files' sound,
  and the fit's seconds per stage; DIR/show.json and DIR/show.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

SEGMENT = 8.0  # seconds
SHIFT = 0.5  # seconds: the shifted control
ROWS = ("b1", "b10", "lab", "codec", "retrieval", "chance")


def segments(duration: float) -> list[float]:
    """Starts of SEGMENT-long segments of a file of ``duration`` s whose sound can also be read
    SHIFT s later: every SEGMENT s, and one ending at duration - SHIFT for a remainder of half a
    segment or more (a smaller one would mostly repeat the segment before it)."""
    last = duration - SHIFT - SEGMENT
    starts = list(np.arange(0.0, last + 1e-9, SEGMENT))
    if starts and last - starts[-1] >= SEGMENT / 2:
        starts.append(round(last, 2))
    return [float(s) for s in starts]


def test_files(model: Path, part: str = "test") -> list[Path]:
    """The files of one part of MODEL's split (``test``: read by no stage; ``val``: read only to
    choose checkpoints, so the place to choose sampler settings without touching the test files)."""
    split = json.loads((model / "fit" / "split.json").read_text())
    return [Path(split["paths"][n]) if n in split.get("paths", {}) else Path(n) for n in split["files"][part]]


def stage_refs(model: Path, work: Path, part: str = "test") -> None:
    from maskvat.media import probe, read_audio, write_audio
    from maskvat.media.video import decode_frames
    from maskvat.media.write import write_video

    refs, shifted = work / "refs", work / "rows" / "shifted"
    refs.mkdir(parents=True, exist_ok=True)
    shifted.mkdir(parents=True, exist_ok=True)
    for src in test_files(model, part):
        src = _resolve(model, src)
        info = probe(src)
        for s in segments(info.video.duration):
            name = f"{src.stem}_s{s:05.1f}"
            out = refs / f"{name}.mp4"
            if not out.exists():
                # the project's own media layer (PyAV), so no ffmpeg program is needed: the source's
                # frames at its own rate, its sound as read for every model (mono, 44.1 kHz), ALAC
                frames = decode_frames(src, float(info.video.fps), start=s, duration=SEGMENT).frames
                sound = read_audio(src, start=s, duration=SEGMENT)
                write_video(out, frames, info.video.fps, sound, 44100, audio_codec="alac")
            wav = read_audio(src, start=s + SHIFT, duration=SEGMENT)
            write_audio(shifted / f"{name}.wav", wav, 44100)
    print(f"refs: {len(list(refs.glob('*.mp4')))} segments of {SEGMENT:g} s", flush=True)


def fitted_codec(model: Path) -> Path:
    """The codec folder MODEL's pipeline names, or (before its pipeline stage) the codec stage's."""
    from maskvat.weights import pipeline_index

    index = pipeline_index(model) or {}
    return model / index["codec"] if "codec" in index else model / "fit" / "codec" / "codec"


def _resolve(model: Path, path: Path) -> Path:
    if path.is_absolute() or path.exists():
        return path
    split = json.loads((model / "fit" / "split.json").read_text())
    raise SystemExit(f"{path}: not found; split.json records {split.get('paths')}")


def _generate_row(work: Path, name: str, model: str, beams: int, extra: list[str] = ()) -> None:
    out = work / "rows" / name
    cmd = [sys.executable, "-m", "maskvat", "generate", str(work / "refs"), "-o", str(out), "--model", model,
           "--no-video", "--overwrite", "--steps", "32", "--seed", "0", "--beams", str(beams), *extra]
    log = work / "rows" / f"{name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    with open(log, "w") as f:
        proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"{' '.join(cmd)} failed:\n{log.read_text()[-2000:]}")
    n = len(list((work / "refs").glob("*.mp4")))
    record = {"command": " ".join(cmd[1:]), "wall_s": round(time.perf_counter() - t, 1),
              "cpu_s": round(usage.ru_utime + usage.ru_stime, 1), "segments": n}
    (work / "rows" / f"{name}.json").write_text(json.dumps(record, indent=1))
    print(f"{name}: {record}", flush=True)


def _codec_row(model: Path, work: Path) -> None:
    from maskvat.codec.tokenizer import AudioTokenizer
    from maskvat.media import read_audio, write_audio
    tok = AudioTokenizer.from_pretrained(fitted_codec(model))
    out = work / "rows" / "codec"
    out.mkdir(parents=True, exist_ok=True)
    for ref in sorted((work / "refs").glob("*.mp4")):
        wav = read_audio(ref)
        back = tok.decode(tok.encode(wav), num_samples=len(wav))[0].numpy()
        write_audio(out / f"{ref.stem}.wav", back, 44100)


def _retrieval_row(model: Path, work: Path) -> dict:
    import torch

    from maskvat.data.dataset import CacheDataset
    from maskvat.evaluation.bench import nearest, pooled
    from maskvat.media import read_audio, write_audio
    from maskvat.pipeline.generate import Pipeline

    ds = CacheDataset(model / "fit" / "cache" / "train")
    keys, where = [], []
    for i in range(len(ds)):
        meta = ds.meta(i)
        if meta["duration"] < SEGMENT - 1e-3:
            continue
        item = ds.item(i)
        keys.append(pooled(*(item[r][None] if r in item else None for r in ("semantic", "sync")))[0])
        where.append((meta["source"], meta["start"]))
    keys = torch.stack(keys)
    pipe = Pipeline.load(str(model), scav=None)
    out = work / "rows" / "retrieval"
    out.mkdir(parents=True, exist_ok=True)
    picked = {}
    for ref in sorted((work / "refs").glob("*.mp4")):
        feats = pipe.features.visual(ref, 0.0, SEGMENT)
        q = pooled(None if feats.semantic is None else feats.semantic[None],
                   None if feats.sync is None else feats.sync[None])
        source, start = where[int(nearest(q, keys)[0])]
        picked[ref.stem] = f"{Path(source).name}@{start:.1f}"
        write_audio(out / f"{ref.stem}.wav", read_audio(source, start=start, duration=SEGMENT), 44100)
    (work / "rows" / "retrieval.json").write_text(json.dumps({"picked": picked, "keys": len(where)}, indent=1))
    return picked


def _chance_row(work: Path) -> None:
    """b1's sound of a segment of another test file, for each segment (rotating over the files)."""
    import shutil

    src, out = work / "rows" / "b1", work / "rows" / "chance"
    out.mkdir(parents=True, exist_ok=True)
    stems = sorted(p.stem for p in (work / "refs").glob("*.mp4"))
    files = sorted({s.rsplit("_s", 1)[0] for s in stems})
    by_file = {f: [s for s in stems if s.rsplit("_s", 1)[0] == f] for f in files}
    for stem in stems:
        f = stem.rsplit("_s", 1)[0]
        other = by_file[files[(files.index(f) + 1) % len(files)]]
        k = by_file[f].index(stem) % len(other)
        shutil.copyfile(src / f"{other[k]}.wav", out / f"{stem}.wav")


def stage_rows(model: Path, work: Path, rows: list[str], generate_model: str | None = None,
               extra: list[str] = ()) -> None:
    for row in rows:
        if row in ("b1", "b10"):
            _generate_row(work, row, generate_model or str(model), 1 if row == "b1" else 10, list(extra))
        elif row == "lab":
            _generate_row(work, row, "lab", 1)
        elif row == "codec":
            _codec_row(model, work)
        elif row == "retrieval":
            _retrieval_row(model, work)
        elif row == "chance":
            _chance_row(work)
        print(f"row {row}: done", flush=True)


def stage_sheets(work: Path, row: str = "b10") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from maskvat.evaluation.alignment import onset_track
    from maskvat.lab.sheet import display_mel_db
    from maskvat.media import decode_frames, read_audio

    out = work / "sheets"
    out.mkdir(exist_ok=True)
    firsts = {}
    for ref in sorted((work / "refs").glob("*.mp4")):
        firsts.setdefault(ref.stem.rsplit("_s", 1)[0], ref)
    for name, ref in firsts.items():
        frames = decode_frames(ref, 8 / SEGMENT)
        real = read_audio(ref)
        gen_path = work / "rows" / row / f"{ref.stem}.wav"
        if not gen_path.exists():
            row, gen_path = "b1", work / "rows" / "b1" / f"{ref.stem}.wav"
        gen = read_audio(gen_path)
        fig = plt.figure(figsize=(12, 7), dpi=100)
        grid = fig.add_gridspec(3, 8, height_ratios=[1, 1.2, 1.2], hspace=0.35, wspace=0.04)
        for i in range(min(8, len(frames))):
            ax = fig.add_subplot(grid[0, i])
            ax.imshow(frames.frames[i])
            ax.set_title(f"{frames.source_times[i]:.1f} s", fontsize=8)
            ax.axis("off")
        for k, (label, wav) in enumerate([(f"generated ({row})", gen), ("real recorded sound", real)]):
            ax = fig.add_subplot(grid[1 + k, :])
            db, times = display_mel_db(wav, 44100)
            ax.imshow(db, origin="lower", aspect="auto", cmap="magma", extent=[times[0], times[-1], 0, db.shape[0]],
                      vmin=db.max() - 80, vmax=db.max())
            for j, t in enumerate(onset_track(wav, 44100).onsets):
                ax.axvline(t, ymin=0.88, ymax=1.0, color="white", lw=2, label="detected onset" if j == 0 else None)
            for t in onset_track(real if k == 0 else gen, 44100).onsets:
                ax.axvline(t, ymin=0.0, ymax=0.12, color="cyan", lw=2)
            ax.set_xlim(0, SEGMENT)
            ax.set_ylabel("mel band")
            ax.set_title(f"{label}: white = its onsets, cyan = the other's", fontsize=9)
        ax.set_xlabel("time (s)")
        fig.suptitle(f"{name} (held out), {ref.stem.rsplit('_s', 1)[1]} s to +{SEGMENT:g} s", fontsize=10)
        fig.savefig(out / f"{name}.png", bbox_inches="tight")
        plt.close(fig)
    print(f"sheets: {sorted(p.name for p in out.glob('*.png'))}", flush=True)


def stage_table(model: Path, work: Path) -> None:
    rows = [r for r in ("b1", "b10", "lab", "codec", "retrieval", "shifted", "chance") if (work / "rows" / r).is_dir()]
    cmd = [sys.executable, "-m", "maskvat", "evaluate", "--reference", str(work / "refs"),
           "--compare", *[f"{r}={work / 'rows' / r}" for r in rows],
           "--codec", "none", "--judge", "none", "--classifier", "none", "--csv", str(work / "show.csv")]
    table = subprocess.run(cmd, capture_output=True, text=True)
    if table.returncode:
        raise SystemExit(table.stderr[-3000:])
    codec = {}
    for name, source in (("fitted", str(fitted_codec(model))), ("lab", "lab")):
        run = subprocess.run([sys.executable, "-m", "maskvat", "codec", "eval", "--audio", str(work / "refs"),
                              "--codec", source, "--json"], capture_output=True, text=True)
        if run.returncode:
            raise SystemExit(run.stderr[-3000:])
        codec[name] = json.loads(run.stdout)
    stages = {}
    for done in sorted((model / "fit").glob("*/done.json")):
        d = json.loads(done.read_text())
        stages[d.get("stage", done.parent.name)] = d.get("seconds")
    costs = {r: json.loads((work / "rows" / f"{r}.json").read_text())
             for r in ("b1", "b10", "lab") if (work / "rows" / f"{r}.json").exists()}
    report = {"evaluate": " ".join(cmd[1:]), "table": table.stdout, "codec": codec, "fit_seconds": stages,
              "generation": costs}
    (work / "show.json").write_text(json.dumps(report, indent=1, default=str))
    (work / "show.md").write_text(table.stdout)
    print(table.stdout)
    print(json.dumps({"fit_seconds": stages, "generation": costs}, indent=1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("--work", required=True)
    ap.add_argument("--stage", nargs="+", default=["refs", "rows", "sheets", "table"],
                    choices=["refs", "rows", "sheets", "table"])
    ap.add_argument("--rows", nargs="+", default=list(ROWS), choices=ROWS)
    ap.add_argument("--generate-model", default=None,
                    help="what the b1/b10 rows generate with, if not MODEL (e.g. the shipped fp16 copy: hits)")
    ap.add_argument("--split", default="test", choices=["test", "val"],
                    help="which held-out files: test (the Show's; read by no stage) or val (to choose sampler "
                         "settings without looking at the test files)")
    ap.add_argument("--generate-args", default="",
                    help="more `maskvat generate` options for the b1/b10 rows, e.g. '--guidance 6'")
    args = ap.parse_args()
    model, work = Path(args.model), Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    if "refs" in args.stage:
        stage_refs(model, work, args.split)
    if "rows" in args.stage:
        stage_rows(model, work, args.rows, args.generate_model, args.generate_args.split())
    if "sheets" in args.stage:
        stage_sheets(work)
    if "table" in args.stage:
        stage_table(model, work)


if __name__ == "__main__":
    main()
