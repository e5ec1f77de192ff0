"""The paper's configuration, end to end, on this machine, with nothing downloaded (issue 20).

    python benchmarks/paper_dry_run.py                      # --small (the default): see below
    python benchmarks/paper_dry_run.py --full               # the paper's generator widths (GPU-sized memory)
    python benchmarks/paper_dry_run.py --workdir DIR --keep # keep the folder (weights, videos, runs)

What it does, in a temporary folder, each stage a real ``maskvat`` command in its own process:
1. weights: every published architecture with *random* weights, in its published on-disk layout
   - CLIP ViT-B/32: transformers ``CLIPModel`` (text and image towers, as openai/clip-vit-base-patch32
     is published; transformers' CLIPConfig defaults are ViT-B/32's values) saved with ``save_pretrained``;
   - SparseSync: a checkpoint ``.pt`` as SparseSync's training writes it: the AVSyncModel state dict
     under "model" (its module tree, restated in tests/encoders/test_sparsesync.py), plus "epoch",
     "metrics" (numpy floats) and "args" (SparseSync stores its OmegaConf config object there; here
     an object of a class the loading process cannot import, as omegaconf is not installed);
   - BEATs: ``{"cfg": ..., "model": ...}`` with BEATs_iter3_plus_AS2M.pt's cfg (tests/encoders/test_beats.py);
   - DAC 44 kHz: transformers ``DacModel`` of the project's ``dac_44khz`` preset, ``AudioTokenizer.save_pretrained``.
2. videos: 10 s clips cut with PyAV from /work/shared/data/greatesthits (real footage) and re-encoded
   as users' files come: 25 and 29.97 fps, 16 / 44.1 / 48 kHz, mono and stereo, landscape, portrait
   and 4:3 sizes; a training folder (4 videos), a validation folder (1) and one 10.01 s video to
   generate for.
3. ``maskvat extract`` with the published encoders (``--encoders clip-vit-b32=... s3d-sparsesync=...
   beats=...``) and the DAC folder, for the training and the validation folder.
4. ``maskvat train --config configs/paper-*.json`` for each of the four variants, a few steps, under
   ``torchrun --nproc_per_node 2`` (two processes, DDP over gloo on the CPU), bf16 as configured (on
   a CPU without bf16 units the training loop uses fp32 and says so: emulated bf16 is slower).
   ``--small`` (the default) writes a copy of each config whose ``model_overrides`` shrink only the
   generator (d_model, n_layers, enc_layers) and whose ``batch_size`` is 4 clips per process, not
   the paper's 50: the paper widths (0.5-0.7 G parameters) with AdamW do not fit twice in 24 GB,
   and a step of 50 clips takes minutes on a shared 2-core CPU (the paper's batch and widths are
   timed on a GPU by benchmarks/paper_gpu.py). Encoders and codec stay full size. Everything else
   is the config's own.
5. ``maskvat scav train`` on the same cache, paper-style (``--no-sync``: CLIP on the video side),
   10 s windows.
6. ``maskvat pipeline save``: the Hybrid run's model + the DAC folder + SCAV + encoder weights as
   one pipeline folder; then ``maskvat generate --model PIPELINE --beams 2`` on the 10.01 s video.

Prints each command as it runs it, then a summary with every stage's wall time; exits 1 if any
stage fails (its output is shown). Nothing here works around the project: a failure is a bug.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FOOTAGE = Path("/work/shared/data/greatesthits")
VARIANTS = ("adaln-a", "adaln-b", "seq2seq", "hybrid")
SMALL = {"d_model": 256, "n_layers": 2, "enc_layers": 1}  # --small: the generator's widths
SMALL_BATCH = 4  # --small: clips per process and step (the paper's 50 is timed on the H200: benchmarks/paper_gpu.py)
BIN = Path(sys.executable).parent

# (name, source file, start s, seconds, fps, (width, height), audio rate, channels)
TRAIN_VIDEOS = [
    ("a_25fps_850x480_44k_mono", "2015-02-16-16-49-06_mic.mp4", 5.0, 10.0, Fraction(25), (850, 480), 44100, 1),
    ("b_2997fps_720x480_48k_stereo", "2015-09-23-15-20-31-595_mic.mp4", 3.0, 10.0, Fraction(30000, 1001),
     (720, 480), 48000, 2),
    ("c_25fps_360x640_48k_stereo", "2015-03-12-20-11-15_mic.mp4", 8.0, 10.0, Fraction(25), (360, 640), 48000, 2),
    ("d_2997fps_320x240_16k_stereo", "2015-09-29-14-45-11-1_mic.mp4", 2.0, 10.0, Fraction(30000, 1001),
     (320, 240), 16000, 2),
]
VAL_VIDEOS = [
    ("val_a_25fps_640x360_16k_mono", "2015-03-20-01-53-21_mic.mp4", 6.0, 10.0, Fraction(25), (640, 360), 16000, 1),
]
GEN_VIDEO = ("gen_10.01s_2997fps_720x480_48k_stereo", "2015-10-06-19-09-57-1_mic.mp4", 4.0, 10.01,
             Fraction(30000, 1001), (720, 480), 48000, 2)


# ---- 1. weights ------------------------------------------------------------------------------
def build_weights(folder: Path) -> dict[str, Path]:
    """Random weights of every published architecture, in its published layout."""
    import torch
    from transformers import CLIPConfig, CLIPModel

    sys.path.insert(0, str(ROOT / "src"))
    sys.path.insert(0, str(ROOT / "tests"))
    sys.path.insert(0, str(ROOT / "tests" / "encoders"))
    from checkpoint_helpers import foreign_object  # an object of a class the loading process cannot import
    from test_beats import PUBLISHED_CFG, _state  # the reference BEATs layout, key by key
    from test_sparsesync import AVSyncVisualPart  # SparseSync's module tree and key names

    from maskvat.codec.tokenizer import AudioTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    out = {"clip": folder / "clip-vit-base-patch32", "sparsesync": folder / "sparsesync" / "22-09-21T21-00-52.pt",
           "beats": folder / "BEATs_iter3_plus_AS2M.pt", "dac": folder / "dac_44khz"}
    torch.manual_seed(0)
    if not out["clip"].is_dir():
        CLIPModel(CLIPConfig()).save_pretrained(out["clip"])  # the hub's layout: both towers
    if not out["sparsesync"].is_file():
        out["sparsesync"].parent.mkdir(exist_ok=True)
        # SparseSync keeps its OmegaConf config under "args": an object of a library the loading
        # process does not have (omegaconf); foreign_object stands for it.
        ckpt = {"model": AVSyncVisualPart().state_dict(), "epoch": 23,
                "metrics": {"accuracy_1": np.float64(0.4), "accuracy_1_tol1": np.float64(0.7)},
                "args": foreign_object("sparsesync_omegaconf_stand_in")}
        torch.save(ckpt, out["sparsesync"])
    if not out["beats"].is_file():
        torch.save({"cfg": PUBLISHED_CFG, "model": _state(PUBLISHED_CFG)}, out["beats"])
    if not out["dac"].is_dir():
        AudioTokenizer.from_preset("dac_44khz").save_pretrained(out["dac"])
    return out


# ---- 2. videos -------------------------------------------------------------------------------
def cut_video(src: Path, dst: Path, start: float, seconds: float, fps: Fraction, size: tuple[int, int],
              rate: int, channels: int) -> None:
    """``seconds`` of ``src`` from ``start``, re-encoded: H.264 at ``fps`` and ``size``, AAC at
    ``rate`` Hz with ``channels`` channels (PyAV)."""
    import av

    frames, t_frames = [], []
    with av.open(str(src)) as inp:
        inp.seek(int(max(0.0, start - 2.0) / inp.streams.video[0].time_base), stream=inp.streams.video[0])
        for frame in inp.decode(video=0):
            t = float(frame.pts * frame.time_base)
            if t > start + seconds + 0.1:
                break
            if t >= start - 0.1:
                frames.append(frame.to_ndarray(format="rgb24"))
                t_frames.append(t)
    with av.open(str(src)) as inp:
        layout = "stereo" if channels == 2 else "mono"
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
        chunks = []
        for frame in inp.decode(audio=0):
            frame.pts = None
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray())
        audio = np.concatenate(chunks, axis=1)[:, int(start * rate):int(round((start + seconds) * rate))]
    t_frames = np.asarray(t_frames)
    with av.open(str(dst), "w") as out:
        vs = out.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = size[0], size[1], "yuv420p"
        vs.options = {"crf": "23", "preset": "veryfast"}
        ast = out.add_stream("aac", rate=rate, layout=layout)
        n_out = int(round(seconds * fps))
        for i in range(n_out):  # each output frame shows the source frame on screen at its time
            j = max(0, int(np.searchsorted(t_frames, start + float(i / fps) + 1e-6)) - 1)
            frame = av.VideoFrame.from_ndarray(frames[j], format="rgb24").reformat(size[0], size[1], format="yuv420p")
            frame.pts = i
            for packet in vs.encode(frame):
                out.mux(packet)
        for packet in vs.encode():
            out.mux(packet)
        for a in range(0, audio.shape[1], 1024):
            block = np.ascontiguousarray(audio[:, a:a + 1024], dtype=np.float32)
            frame = av.AudioFrame.from_ndarray(block, format="fltp", layout=layout)
            frame.sample_rate, frame.pts = rate, a
            for packet in ast.encode(frame):
                out.mux(packet)
        for packet in ast.encode():
            out.mux(packet)


def build_videos(folder: Path) -> dict[str, Path]:
    out = {}
    for split, specs in (("train", TRAIN_VIDEOS), ("val", VAL_VIDEOS), ("gen", [GEN_VIDEO])):
        (folder / split).mkdir(parents=True, exist_ok=True)
        for name, src, start, seconds, fps, size, rate, channels in specs:
            dst = folder / split / f"{name}.mp4"
            if not dst.is_file():
                cut_video(FOOTAGE / src, dst, start, seconds, fps, size, rate, channels)
        out[split] = folder / split
    out["gen_video"] = folder / "gen" / f"{GEN_VIDEO[0]}.mp4"
    return out


# ---- running the stages ----------------------------------------------------------------------
class Stages:
    def __init__(self):
        self.rows: list[dict] = []

    def run(self, name: str, cmd: list[str], *, env: dict | None = None) -> bool:
        shown = " ".join(str(c) for c in cmd)
        print(f"\n== {name}\n$ {shown}", flush=True)
        t0 = time.perf_counter()
        proc = subprocess.run([str(c) for c in cmd], cwd=ROOT, env={**os.environ, **(env or {})},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        wall = time.perf_counter() - t0
        tail = "\n".join(proc.stdout.strip().splitlines()[-12:])
        print(tail, flush=True)
        ok = proc.returncode == 0
        print(f"-- {name}: {'ok' if ok else f'FAILED (exit {proc.returncode})'} in {wall:.0f} s", flush=True)
        self.rows.append({"stage": name, "seconds": round(wall, 1), "ok": ok, "command": shown})
        return ok

    def timed(self, name: str, fn) -> object:
        print(f"\n== {name}", flush=True)
        t0 = time.perf_counter()
        try:
            result = fn()
            ok = True
        except Exception as exc:  # noqa: BLE001 - reported in the summary
            result, ok = None, False
            print(f"{type(exc).__name__}: {exc}")
        wall = time.perf_counter() - t0
        print(f"-- {name}: {'ok' if ok else 'FAILED'} in {wall:.0f} s", flush=True)
        self.rows.append({"stage": name, "seconds": round(wall, 1), "ok": ok, "command": "(in this script)"})
        return result


def paper_config(variant: str, folder: Path, small: bool) -> Path:
    """configs/paper-VARIANT.json, with the generator's widths overridden under --small."""
    src = ROOT / "configs" / f"paper-{variant}.json"
    if not small:
        return src
    cfg = json.loads(src.read_text())
    cfg["_dry_run"] = (f"{src.name} with model_overrides {SMALL} and batch_size {SMALL_BATCH} (benchmarks/"
                       "paper_dry_run.py --small): the generator's widths and the batch only; encoders, codec, "
                       "data and schedule are the config's")
    cfg["model_overrides"] = dict(SMALL)
    cfg["batch_size"] = SMALL_BATCH
    dst = folder / f"paper-{variant}-small.json"
    dst.write_text(json.dumps(cfg, indent=1))
    return dst


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    size = ap.add_mutually_exclusive_group()
    size.add_argument("--small", dest="small", action="store_true", default=True,
                      help=f"generator widths {SMALL}, batch {SMALL_BATCH} (default; encoders and codec stay full size)")
    size.add_argument("--full", dest="small", action="store_false", help="the paper's generator widths")
    ap.add_argument("--steps", type=int, default=3, help="training steps per variant")
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    ap.add_argument("--workdir", default=None, help="folder to work in (default: a new temporary folder)")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    args = ap.parse_args()

    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="maskvat-paper-dry-run-"))
    work.mkdir(parents=True, exist_ok=True)
    maskvat = [sys.executable, "-m", "maskvat"]
    torchrun = [BIN / "torchrun", "--nproc_per_node", "2", "--master_port", "29561", "-m", "maskvat"]
    print(f"paper dry run in {work} ({platform.node()}, {os.cpu_count()} CPUs, torch threads as set by the environment)")
    print(f"generator: {f'--small: model_overrides {json.dumps(SMALL)}, batch_size {SMALL_BATCH}' if args.small else 'the paper widths and batch'}; "
          "encoders (CLIP ViT-B/32, SparseSync S3D, BEATs) and codec (DAC 44 kHz) at full size, random weights")
    stages = Stages()
    t_all = time.perf_counter()
    try:
        w = stages.timed("weights: CLIP, SparseSync, BEATs, DAC in their published layouts",
                         lambda: build_weights(work / "weights"))
        v = stages.timed("videos: 10 s clips of real footage, 25/29.97 fps, 16/44.1/48 kHz, mono/stereo",
                         lambda: build_videos(work / "videos"))
        if w is None or v is None:
            return summary(stages, t_all, work, args)
        encoders = [f"clip-vit-b32={w['clip']}", f"s3d-sparsesync={w['sparsesync']}", f"beats={w['beats']}"]
        caches = {s: work / "cache" / s for s in ("train", "val")}
        for split in ("train", "val"):
            if not stages.run(f"extract {split}", [*maskvat, "extract", v[split], "--out", caches[split],
                                                   "--codec", w["dac"], "--workers", "1", "--encoders", *encoders]):
                return summary(stages, t_all, work, args)
        for variant in args.variants:
            cfg = paper_config(variant, work, args.small)
            stages.run(f"train paper-{variant} (2 processes)",
                       [*torchrun, "train", "--config", cfg, "--out", work / "runs" / variant, "--steps", args.steps,
                        "--train-cache", caches["train"], "--val-cache", caches["val"], "--codec", w["dac"]])
        stages.run("scav train (--no-sync)", [*maskvat, "scav", "train", "--cache", caches["train"], "--val-cache",
                                              caches["val"], "--no-sync", "--window-seconds", "10", "--steps",
                                              args.steps, "--out", work / "runs" / "scav"])
        model = "hybrid" if "hybrid" in args.variants else args.variants[-1]
        pipe = work / "pipeline"
        if stages.run("pipeline save", [*maskvat, "pipeline", "save", pipe, "--model", work / "runs" / model / "model",
                                        "--codec", w["dac"], "--scav", work / "runs" / "scav" / "scav",
                                        "--encoder-weights", *encoders]):
            out = work / "generated"
            if stages.run("generate --beams 2", [*maskvat, "generate", v["gen_video"], "-o", out, "--model", pipe,
                                                 "--beams", "2"]):
                stages.timed("check the generated sound", lambda: check_output(out, v["gen_video"]))
    finally:
        pass
    return summary(stages, t_all, work, args)


def check_output(out: Path, video: Path) -> None:
    import soundfile

    sys.path.insert(0, str(ROOT / "src"))
    from maskvat.media import probe

    wav, sr = soundfile.read(out / f"{video.stem}.wav")
    want = probe(video).video.duration
    print(f"{out / (video.stem + '.wav')}: {len(wav) / sr:.3f} s at {sr} Hz (video {want:.3f} s), "
          f"RMS {float(np.sqrt(np.mean(np.square(wav)))):.4f}")
    if sr != 44100 or abs(len(wav) / sr - want) > 1 / sr + 1e-6 or not np.isfinite(wav).all():
        raise RuntimeError("the generated sound does not cover the video at 44.1 kHz")
    if not (out / f"{video.stem}_maskvat.mp4").is_file():
        raise RuntimeError("no muxed copy")


def summary(stages: Stages, t_all: float, work: Path, args) -> int:
    total = time.perf_counter() - t_all
    print("\n== summary")
    print(f"| stage | wall s | result |\n| --- | ---: | --- |")
    for r in stages.rows:
        print(f"| {r['stage']} | {r['seconds']:.0f} | {'ok' if r['ok'] else 'FAILED'} |")
    print(f"| all | {total:.0f} | |")
    (work / "dry_run.json").write_text(json.dumps({"small": args.small, "steps": args.steps, "stages": stages.rows,
                                                    "total_seconds": round(total, 1)}, indent=1))
    failed = [r["stage"] for r in stages.rows if not r["ok"]]
    print(f"{'FAILED: ' + ', '.join(failed) if failed else 'every stage ran'}; work folder {work}"
          f"{'' if args.keep or args.workdir else ' (removed)'}")
    if not (args.keep or args.workdir):
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
