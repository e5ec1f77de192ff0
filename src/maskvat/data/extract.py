"""``maskvat extract``: videos -> clips -> codec codes and feature sequences in cache shards.

    summary = extract(["videos/"], "cache/", ExtractConfig(clip_seconds=10), shard=(0, 4))

Source items are grouped in chunks of ``chunk_size`` in the order of ``list_sources``;
chunk j belongs to shard ``j % n`` of ``--shard i/n``, so machines split the work with no
coordination and n shards together hold exactly the clips of one unsharded run. A chunk
is decoded (in worker processes), encoded, written to one shard file (atomically), and
then recorded in the manifest. A killed run re-run with the same settings skips the
recorded chunks and redoes the rest from their first item: the cache it finishes is the
one a clean run writes, byte for byte.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from maskvat.atomic import atomic_path
from maskvat.codec.tokenizer import AudioTokenizer
from maskvat.data.filters import plan_clips, silence, too_low_fps
from maskvat.data.sources import SourceItem, list_sources
from maskvat.encoders.base import decode_size, frame_geometry
from maskvat.encoders.registry import ENCODERS, load_encoder
from maskvat.errors import MaskvatError, MediaError
from maskvat.media import decode_frames, probe, read_audio

FORMAT = "maskvat-shards/1"
ROLES = ("semantic", "sync", "audio")
DROP_KINDS = ("unreadable", "no video stream", "no audio stream", "low frame rate", "too short", "silent audio")


@dataclass
class ExtractConfig:
    """Settings fixed when a cache is created (saved in CACHE/cache.json)."""

    clip_seconds: float = 10.0
    min_seconds: float | None = None  # shortest clip kept (default: clip_seconds, as the paper)
    min_fps: float = 15.0
    silence_dbfs: float | None = -60.0  # None: keep silent clips (the lab, where silence is a right answer)
    max_clips_per_video: int = 0  # 0: every clip of each video
    chunk_size: int = 16  # source items per shard file
    codec: str = "lab"
    semantic: str | None = "lab-semantic"
    sync: str | None = "lab-sync"
    audio: str | None = "lab-logmel"

    @property
    def shortest(self) -> float:
        return self.clip_seconds if self.min_seconds is None else self.min_seconds

    def check(self) -> None:
        if not 0.25 <= self.clip_seconds <= 600:
            raise MaskvatError(f"clip length {self.clip_seconds} s is outside 0.25-600 s")
        if not 0 < self.shortest <= self.clip_seconds:
            raise MaskvatError(f"min seconds {self.shortest} must be in (0, clip seconds]")
        if self.chunk_size < 1:
            raise MaskvatError("chunk size must be at least 1")


def parse_shard(text: str) -> tuple[int, int]:
    """"i/n" -> (i, n) with 0 <= i < n."""
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise MaskvatError(f"--shard {text!r}: expected i/n, e.g. 0/4") from None
    if not 0 <= i < n:
        raise MaskvatError(f"--shard {text!r}: needs 0 <= i < n")
    return i, n


def chunk_ids(n_items: int, chunk_size: int, shard: tuple[int, int]) -> list[int]:
    """The chunks (of ``chunk_size`` items) that shard (i, n) owns: j with j % n == i."""
    i, n = shard
    return [j for j in range(math.ceil(n_items / chunk_size)) if j % n == i]


# --- decoding: runs in worker processes, numpy and PyAV only ------------------------------

def decode_item(item: SourceItem, cfg: dict, video_specs: dict) -> tuple[list[dict], list[dict]]:
    """Cut one source video into clips and decode them. Returns (clips, dropped): each clip
    {"key", "meta", "wav" [T], "frames": {role: [N, S, S, 3] uint8}}; each drop {"key", "path", "kind", "reason"}."""

    path = str(item.path)
    try:
        info = probe(item.path)
    except MediaError as exc:
        return [], [_drop(item.name, path, "unreadable", f"unreadable: {exc.problem}")]
    except OSError as exc:
        return [], [_drop(item.name, path, "unreadable", f"unreadable: {exc.strerror or exc}")]
    if info.video is None:
        return [], [_drop(item.name, path, "no video stream")]
    if info.audio is None:
        return [], [_drop(item.name, path, "no audio stream")]
    low = too_low_fps(float(info.video.fps), cfg["min_fps"])
    if low:
        return [], [_drop(item.name, path, "low frame rate", low)]
    end = min(info.video.duration, info.audio.duration, item.end if item.end is not None else math.inf)
    plan = plan_clips((item.start, end), cfg["clip_seconds"], cfg["shortest"], cfg["max_clips_per_video"])
    if not plan:
        return [], [_drop(item.name, path, "too short",
                          f"too short ({max(0.0, end - item.start):.2f} s, under {cfg['shortest']:g} s)")]
    clips, dropped = [], []
    for start, duration in plan:
        key = f"{item.name}@{start:.3f}"
        try:
            wav = read_audio(item.path, start=start, duration=duration)
            quiet = silence(wav, cfg["silence_dbfs"]) if cfg["silence_dbfs"] is not None else None
            if quiet:
                dropped.append(_drop(key, path, "silent audio", quiet))
                continue
            frames = {role: decode_frames(item.path, spec["fps"], size=_frame_size(spec, info.video), start=start,
                                          duration=duration).frames for role, spec in video_specs.items()}
        except MediaError as exc:
            dropped.append(_drop(key, path, "unreadable", f"unreadable: {exc.problem}"))
            continue
        meta = {"key": key, "source": path, "start": round(start, 6), "duration": round(duration, 6),
                "fps": str(info.video.fps), "width": info.video.width, "height": info.video.height,
                "audio_sample_rate": info.audio.sample_rate}
        clips.append({"key": key, "meta": meta, "wav": wav, "frames": frames})
    return clips, dropped


def _frame_size(spec: dict, video) -> tuple[int, int]:
    """(width, height) to decode ``video`` at for an encoder's ``video_specs`` entry."""

    return decode_size(*video.display_size, size=spec["size"], resize=spec.get("resize"),
                       keep_aspect=spec.get("keep_aspect", True))


def _drop(key: str, path: str, kind: str, reason: str | None = None) -> dict:
    """A dropped clip (or whole video): ``kind`` is one of DROP_KINDS, ``reason`` the details."""
    return {"key": key, "path": path, "kind": kind, "reason": reason or kind}


def _decode_star(args):
    return decode_item(*args)


# --- the cache ------------------------------------------------------------------------------

class Extractor:
    """The codec and encoders of one cache, loaded once."""

    def __init__(self, cfg: ExtractConfig, device: str = "cpu", sources: dict[str, str] | None = None):
        self.cfg = cfg
        self.codec = AudioTokenizer.from_pretrained(cfg.codec, device=device)
        self.encoders = {}
        for role in ROLES:
            name = getattr(cfg, role)
            if name is None:
                continue
            if name not in ENCODERS:
                raise MaskvatError(f"unknown encoder {name!r} (choose from {', '.join(sorted(ENCODERS))})")
            if ENCODERS[name].role != role:
                raise MaskvatError(f"encoder {name!r} has the {ENCODERS[name].role} role, not {role}")
            self.encoders[role] = load_encoder(name, (sources or {}).get(role))

    @property
    def video_specs(self) -> dict:
        return {r: {"fps": e.config.fps, **frame_geometry(e.config)} for r, e in self.encoders.items() if r != "audio"}

    def description(self) -> dict:
        """What cache.json records beside the settings: names, versions and rates of every stream."""
        enc = {r: {"name": e.config.name, "dim": e.config.dim, "rate": e.config.rate, "source": e.config.source}
               for r, e in self.encoders.items()}
        c = self.codec
        return {"codec": {"name": c.name, "levels": c.n_levels, "codebook_size": c.codebook_size,
                          "sample_rate": c.sample_rate, "hop_length": c.hop_length,
                          "rate": c.sample_rate / c.hop_length},
                "encoders": enc}

    @torch.no_grad()
    def encode(self, clips: list[dict]) -> dict[str, torch.Tensor]:
        """Tensors of one shard: "{i}.codes" [K, L] int16 and "{i}.{role}" [N, D] f16 per clip i."""
        out: dict[str, torch.Tensor] = {}
        by_len: dict[int, list[int]] = {}
        for i, c in enumerate(clips):
            by_len.setdefault(len(c["wav"]), []).append(i)
        for idx in by_len.values():  # clips of one length are encoded together
            wav = torch.from_numpy(np.stack([clips[i]["wav"] for i in idx]))
            codes = self.codec.encode(wav).to(torch.int16).cpu()
            for j, i in enumerate(idx):
                out[f"{i}.codes"] = codes[j].contiguous()
        for i, c in enumerate(clips):
            for role, enc in self.encoders.items():
                if role == "audio":
                    feats = enc.encode_audio(torch.from_numpy(c["wav"])[None])[0]
                else:
                    feats = enc.encode_frames(c["frames"][role][None])[0]
                out[f"{i}.{role}"] = feats.float().cpu().half().contiguous()
        return out


def _fingerprint(items: list[SourceItem]) -> str:
    h = hashlib.sha256()
    for it in items:
        h.update(f"{it.name}\t{it.start}\t{it.end}\n".encode())
    return h.hexdigest()[:16]


def open_cache(cache: Path, cfg: ExtractConfig, extractor: Extractor, items: list[SourceItem]) -> dict:
    """Create CACHE/cache.json, or check that an existing cache was made with the same settings
    and the same list of sources (otherwise resuming would mix two caches)."""
    want = {"format": FORMAT, "settings": asdict(cfg), "sources": {"items": len(items), "fingerprint": _fingerprint(items)},
            **extractor.description()}
    meta_path = cache / "cache.json"
    if meta_path.is_file():
        try:
            have = json.loads(meta_path.read_text())
        except json.JSONDecodeError:
            raise MaskvatError(f"{meta_path}: unreadable; this folder is not a maskvat cache") from None
        for key in ("format", "settings", "sources", "codec", "encoders"):
            if have.get(key) != want[key]:
                raise MaskvatError(f"{cache}: holds a cache made with other {key} "
                                   f"({json.dumps(have.get(key))[:200]}); extract into a new folder")
        return have
    if cache.exists() and any(p for p in cache.iterdir()):
        raise MaskvatError(f"{cache}: exists and is not a maskvat cache; choose an empty or new folder")

    cache.mkdir(parents=True, exist_ok=True)
    with atomic_path(meta_path) as tmp:  # first, so that a second machine sees a cache, not a stranger
        tmp.write_text(json.dumps(want, indent=1))
    for sub in ("shards", "manifest"):
        (cache / sub).mkdir(exist_ok=True)
    return want


def read_manifest(cache: Path) -> list[dict]:
    """Every finished chunk's record, from all parts, sorted by chunk. A torn last line (a kill
    during the append) is ignored: its chunk is redone."""
    records = {}
    for part in sorted((cache / "manifest").glob("part-*.jsonl")):
        for line in part.read_text().splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            records[rec["chunk"]] = rec
    return [records[k] for k in sorted(records)]


def _append_line(path: Path, record: dict) -> None:
    text = path.read_text() if path.is_file() else ""
    with open(path, "a") as f:
        if text and not text.endswith("\n"):
            f.write("\n")  # after a torn line
        f.write(json.dumps(record, sort_keys=True) + "\n")
        f.flush()
        os.fsync(f.fileno())


def extract(sources: list[str | os.PathLike], cache: str | os.PathLike, cfg: ExtractConfig = ExtractConfig(), *,
            shard: tuple[int, int] = (0, 1), workers: int = 0, device: str = "cpu", progress: bool = True,
            encoder_sources: dict[str, str] | None = None) -> dict:
    """Fill ``cache`` with the clips of ``sources`` that shard ``shard`` owns (see the module doc).
    workers: decoding processes (0: decode in this process). encoder_sources: role -> weights
    of the encoders ``cfg`` names (hub id, folder or file; default: each entry's own).
    Returns a summary dict."""
    from safetensors.torch import save_file
    from tqdm import tqdm

    cfg.check()
    cache = Path(cache)
    items = list_sources(list(sources))
    extractor = Extractor(cfg, device, encoder_sources)
    open_cache(cache, cfg, extractor, items)
    done = {r["chunk"] for r in read_manifest(cache)}
    mine = chunk_ids(len(items), cfg.chunk_size, shard)
    todo = [j for j in mine if j not in done]
    part = cache / "manifest" / f"part-{shard[0]}-of-{shard[1]}.jsonl"
    for sub in ("shards", "manifest"):
        (cache / sub).mkdir(exist_ok=True)
    for j in todo:  # files of an unrecorded chunk are orphans of a killed run
        (cache / "shards" / f"chunk-{j:06d}.safetensors").unlink(missing_ok=True)
        for tmp in (cache / "shards").glob(f".chunk-{j:06d}.partial-*"):
            tmp.unlink(missing_ok=True)
    knobs = {k: v for k, v in asdict(cfg).items() if k in ("min_fps", "clip_seconds", "silence_dbfs",
                                                             "max_clips_per_video")}
    knobs["shortest"] = cfg.shortest
    specs = extractor.video_specs
    pool = None
    if workers > 0:
        import multiprocessing as mp

        pool = mp.get_context("spawn").Pool(workers)
    n_clips, reasons, unreadable = 0, Counter(), []
    t0 = time.perf_counter()
    n_items = sum(len(items[j * cfg.chunk_size:(j + 1) * cfg.chunk_size]) for j in todo)
    bar = tqdm(total=n_items, desc=f"extract {shard[0]}/{shard[1]}", unit="video", disable=not progress)
    try:
        for j in todo:
            chunk = items[j * cfg.chunk_size:(j + 1) * cfg.chunk_size]
            args = [(it, knobs, specs) for it in chunk]
            decoded = pool.map(_decode_star, args) if pool else [decode_item(*a) for a in args]
            clips = [c for cs, _ in decoded for c in cs]
            dropped = [d for _, ds in decoded for d in ds]
            shard_name = None
            if clips:
                shard_name = f"chunk-{j:06d}.safetensors"
                tensors = extractor.encode(clips)
                with atomic_path(cache / "shards" / shard_name) as tmp:
                    save_file(tensors, str(tmp), metadata={"clips": json.dumps([c["meta"] for c in clips])})
            _append_line(part, {"chunk": j, "shard": shard_name, "clips": [c["key"] for c in clips],
                                "dropped": dropped})
            n_clips += len(clips)
            for d in dropped:
                reasons[d["kind"]] += 1
                if d["kind"] == "unreadable":
                    unreadable.append(d)
            bar.update(len(chunk))
            bar.set_postfix(clips=n_clips, clips_per_s=f"{n_clips / max(time.perf_counter() - t0, 1e-9):.2f}")
    finally:
        bar.close()
        if pool is not None:
            pool.terminate()
    records = read_manifest(cache)
    return {"cache": str(cache), "shard": f"{shard[0]}/{shard[1]}", "items": len(items), "chunks_mine": len(mine),
            "chunks_done_before": len(mine) - len(todo), "clips_added": n_clips,
            "clips_in_cache": sum(len(r["clips"]) for r in records), "dropped_now": dict(reasons),
            "unreadable_now": [f"{d['path']}: {d['reason']}" for d in unreadable],
            "seconds": round(time.perf_counter() - t0, 2)}


def write_cache(cache: str | os.PathLike, clips: list[dict], *, encoders: dict[str, dict],
                codec: dict | None = None, settings: dict | None = None) -> Path:
    """A one-chunk shard cache (the format ``maskvat extract`` writes) from tensors in memory:
    synthetic data, tests, or features computed elsewhere.

    clips: [{"key": str, "codes": [K, L] int (optional), role: [N, D] float, ...}] with the roles
    named in ``encoders`` ({role: {"name", "dim", "rate"}}); codec: {"name", "levels",
    "codebook_size", "sample_rate", "hop_length", "rate"} (needed when clips hold codes)."""
    from safetensors.torch import save_file

    cache = Path(cache)
    if cache.exists() and any(cache.iterdir()):
        raise MaskvatError(f"{cache}: exists and is not empty; write the cache into a new folder")
    (cache / "shards").mkdir(parents=True)
    (cache / "manifest").mkdir()
    codec = codec or {"name": "none", "rate": 86.1328125}
    info = {"format": FORMAT, "settings": settings or {}, "sources": {"items": len(clips), "fingerprint": "in-memory"},
            "codec": codec, "encoders": encoders}
    tensors, metas = {}, []
    for i, clip in enumerate(clips):
        if "codes" in clip:
            tensors[f"{i}.codes"] = torch.as_tensor(clip["codes"]).to(torch.int16).contiguous()
        for role in encoders:
            tensors[f"{i}.{role}"] = torch.as_tensor(clip[role]).half().contiguous()
        length = clip["codes"].shape[-1] / codec["rate"] if "codes" in clip else \
            max(clip[r].shape[0] / e["rate"] for r, e in encoders.items())
        metas.append({"key": clip["key"], "source": clip.get("source", clip["key"]), "start": 0.0,
                      "duration": round(float(clip.get("duration", length)), 6)})
    save_file(tensors, str(cache / "shards" / "chunk-000000.safetensors"), metadata={"clips": json.dumps(metas)})
    _append_line(cache / "manifest" / "part-0-of-1.jsonl",
                 {"chunk": 0, "shard": "chunk-000000.safetensors", "clips": [c["key"] for c in clips], "dropped": []})
    (cache / "cache.json").write_text(json.dumps(info, indent=1))
    return cache
