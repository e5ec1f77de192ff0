"""Building a lab split: clips (mp4), truth (json) and a manifest, deterministically, in parallel.

Layout: OUT/SPLIT/{clip_id}.mp4, OUT/SPLIT/{clip_id}.json, OUT/SPLIT/manifest.json.
Clip i of a split is rendered from SeedSequence((seed, split id, i)): splits never share
a stream, and neither the worker count nor the order of work changes a byte.
"""

from __future__ import annotations

import json
import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from tqdm import tqdm

from maskvat.atomic import atomic_path
from maskvat.errors import MaskvatError
from maskvat.lab.render import ClipSpec, render_clip
from maskvat.lab.sounds import make_bank
from maskvat.lab.vocab import SOUND_CLASSES
from maskvat.media import write_video

LAB_VERSION = "1"
SPLIT_IDS = {"train": 1, "val": 2, "test": 3}


def clip_specs(split: str, n: int, seed: int, duration: float = 4.0, bank: str = "procedural",
               fps: float = 25.0, size: int = 128) -> list[ClipSpec]:
    if split not in SPLIT_IDS:
        raise MaskvatError(f"unknown split {split!r} (choose from {', '.join(SPLIT_IDS)})")
    if n <= 0 or duration < 1.0 or duration > 60.0:
        raise MaskvatError(f"need n >= 1 and a duration in [1, 60] s (got n={n}, duration={duration})")
    return [ClipSpec(clip_id=f"{split}_{i:06d}", seed=(seed, SPLIT_IDS[split], i), duration=duration, fps=fps,
                     width=size, height=size, bank=bank) for i in range(n)]


def _write_clip(args) -> dict:
    spec, folder, audio_codec = args
    frames, audio, truth, used = render_clip(spec)
    folder = Path(folder)
    write_video(folder / f"{spec.clip_id}.mp4", frames, spec.fps, audio, spec.sample_rate, audio_codec=audio_codec)
    with atomic_path(folder / f"{spec.clip_id}.json") as tmp:
        tmp.write_text(truth.to_json())
    return {"clip_id": spec.clip_id, "video": f"{spec.clip_id}.mp4", "truth": f"{spec.clip_id}.json",
            "seed": list(spec.seed), "duration": truth.duration, "families": truth.families,
            "n_events": len(truth.onsets()), "samples": used}


def build_split(out: str | os.PathLike, split: str, n: int, seed: int, *, duration: float = 4.0,
                bank: str = "auto", workers: int | None = None, overwrite: bool = False,
                audio_codec: str = "alac", fps: float = 25.0, size: int = 128, progress: bool = True) -> Path:
    """Render ``n`` clips of ``split`` into OUT/SPLIT; returns that folder."""
    bank_name = make_bank(bank).name  # resolve "auto" once, so every worker uses the same bank
    specs = clip_specs(split, n, seed, duration, bank_name, fps, size)
    folder = Path(out) / split
    if folder.exists() and any(folder.iterdir()):
        if not overwrite:
            raise MaskvatError(f"{folder} already holds files; pass --overwrite to replace it")
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    workers = workers or min(os.cpu_count() or 1, 8)
    jobs = [(spec, str(folder), audio_codec) for spec in specs]
    bar = tqdm(total=n, desc=f"lab {split}", unit="clip", disable=not progress)
    if workers == 1:
        rows = []
        for job in jobs:
            rows.append(_write_clip(job))
            bar.update()
    else:
        with ProcessPoolExecutor(workers) as pool:
            rows = []
            for row in pool.map(_write_clip, jobs, chunksize=4):
                rows.append(row)
                bar.update()
    bar.close()
    manifest = {
        "lab_version": LAB_VERSION, "split": split, "seed": seed, "n": n, "duration": duration, "fps": fps,
        "size": [size, size], "sample_rate": 44100, "audio_codec": audio_codec, "bank": bank_name,
        "sound_classes": list(SOUND_CLASSES), "licences": _licences(rows), "clips": rows,
    }
    with atomic_path(folder / "manifest.json") as tmp:
        tmp.write_text(json.dumps(manifest, indent=1))
    return folder


def _licences(rows: list[dict]) -> list[dict]:
    """Every distinct sound used, with its source and licence."""
    seen: dict[str, dict] = {}
    for row in rows:
        for info in row["samples"]:
            seen.setdefault(info["name"], {k: info[k] for k in ("name", "source", "license")})
    return sorted(seen.values(), key=lambda d: d["name"])
