"""Read a shard cache: a random-access PyTorch Dataset, windows cropped at random, padded batches.

    ds = CacheDataset("cache/", split="train", window_seconds=4.0)   # one clip: a dict of tensors
    loader = make_loader("cache/", "train", batch_size=16, window_seconds=4.0, workers=2)
    batch = next(iter(loader))   # codes [B, K, L] long, codes_mask [B, L] bool, semantic [B, Ns, Ds], ...
    steps = StepBatches("cache/", batch_size=16, window_seconds=4.0, seed=0)
    batch = steps.batch(123)     # the batch of training step 123: the same whenever it is asked for

Every trainer reads training data this way: clips are read from the shards when a batch needs
them (memory-mapped safetensors), so memory stays flat however large the cache grows.

The split is by a hash of each clip's key (stable as the cache grows: a clip never moves
between train and val). Each stream is cut at its own rate (CACHE/cache.json), so a window
holds the same span of time in the codes and in every feature sequence.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from maskvat.data.extract import FORMAT, ROLES, read_manifest
from maskvat.errors import MaskvatError


@dataclass(frozen=True)
class CachedClip:
    key: str
    shard: str  # file name under CACHE/shards
    index: int  # position in the shard


def read_cache_info(cache: str | os.PathLike) -> dict:
    path = Path(cache) / "cache.json"
    if not path.is_file():
        raise MaskvatError(f"{cache}: not a shard cache (no cache.json); build one with `maskvat extract`")
    info = json.loads(path.read_text())
    if info.get("format") != FORMAT:
        raise MaskvatError(f"{path}: format {info.get('format')!r}, this version reads {FORMAT!r}")
    return info


def is_shard_cache(cache: str | os.PathLike) -> bool:
    return (Path(cache) / "cache.json").is_file()


def list_clips(cache: str | os.PathLike) -> list[CachedClip]:
    """Every clip the manifest records, in chunk order."""
    out = []
    for rec in read_manifest(Path(cache)):
        out += [CachedClip(k, rec["shard"], i) for i, k in enumerate(rec["clips"])]
    return out


def split_of(key: str, val_fraction: float) -> str:
    """'val' for a stable ``val_fraction`` of keys (by SHA-1), else 'train'."""
    h = int.from_bytes(hashlib.sha1(key.encode()).digest()[:8], "big") / 2**64
    return "val" if h < val_fraction else "train"


def window_slices(rates: dict[str, float], lengths: dict[str, int], start_s: float, window_s: float) -> dict[str, slice]:
    """Per stream, the slice holding [start_s, start_s + window_s): ``round(rate * t)`` frames,
    clamped to the stream's length. Pure function."""
    out = {}
    for name, rate in rates.items():
        n = max(1, int(round(window_s * rate)))
        a = min(int(round(start_s * rate)), max(0, lengths[name] - n))
        out[name] = slice(a, a + n)
    return out


def cut_window(item: dict, rates: dict[str, float], start_s: float, window_s: float) -> dict:
    """The same span of time from every stream of one clip: "codes" [K, L] is cut on its last
    axis, each feature sequence [N, D] on its first; other keys pass through."""
    streams = {k: v for k, v in item.items() if k in rates}
    lengths = {k: (v.shape[-1] if k == "codes" else v.shape[0]) for k, v in streams.items()}
    cuts = window_slices({k: rates[k] for k in streams}, lengths, start_s, window_s)
    return {**item, **{k: (v[:, cuts[k]] if k == "codes" else v[cuts[k]]) for k, v in streams.items()}}


class CacheDataset(torch.utils.data.Dataset):
    """Clips of a shard cache. Item: {"key", "codes" [K, L] long, and per stored role
    [N, D] float32}; with ``window_seconds``, a window at a random start (seeded by
    ``seed``, the epoch and the index) is cut from clips longer than it."""

    def __init__(self, cache: str | os.PathLike, split: str = "all", *, val_fraction: float = 0.05,
                 window_seconds: float | None = None, seed: int = 0):
        if split not in ("train", "val", "all"):
            raise MaskvatError(f"split must be train, val or all, not {split!r}")
        self.cache = Path(cache)
        self.info = read_cache_info(cache)
        clips = list_clips(cache)
        self.clips = clips if split == "all" else [c for c in clips if split_of(c.key, val_fraction) == split]
        self.window, self.seed, self.epoch = window_seconds, seed, 0
        self.rates = {"codes": self.info["codec"]["rate"],
                      **{r: e["rate"] for r, e in self.info["encoders"].items()}}
        self._open: dict[str, object] = {}
        self._keys: dict[str, set[str]] = {}
        self._meta: dict[str, list[dict]] = {}

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.clips)

    def _shard(self, name: str):
        from safetensors import safe_open

        if name not in self._open:
            self._open[name] = safe_open(str(self.cache / "shards" / name), "pt")
            self._keys[name] = set(self._open[name].keys())
        return self._open[name]

    def meta(self, idx: int) -> dict:
        """Clip ``idx``'s record (key, source, start, duration, ...), from its shard's metadata."""
        c = self.clips[idx]
        if c.shard not in self._meta:
            self._meta[c.shard] = json.loads(self._shard(c.shard).metadata()["clips"])
        return self._meta[c.shard][c.index]

    def item(self, idx: int) -> dict:
        """Clip ``idx`` whole: {"key", "codes" [K, L] long, each stored role [N, D] float32}."""
        c = self.clips[idx]
        f = self._shard(c.shard)
        item = {"codes": f.get_tensor(f"{c.index}.codes").long()} if f"{c.index}.codes" in self._keys[c.shard] else {}
        for role in ROLES:
            if role in self.info["encoders"]:
                item[role] = f.get_tensor(f"{c.index}.{role}").float()
        item["key"] = c.key
        return item

    def __getitem__(self, idx: int) -> dict:
        c = self.clips[idx]
        item = self.item(idx)
        if self.window is not None:
            duration = self.meta(idx)["duration"]
            slack = max(0.0, duration - self.window)
            rng = random.Random(f"{self.seed}/{self.epoch}/{c.key}")
            item = cut_window(item, self.rates, rng.uniform(0, slack), self.window)
        item["key"] = c.key
        return item

    def __getstate__(self):  # DataLoader workers open their own shard handles
        state = dict(self.__dict__)
        state["_open"], state["_keys"], state["_meta"] = {}, {}, {}
        return state


def collate_clips(items: list[dict]) -> dict:
    """Pad to the longest clip of the batch: codes [B, K, L] (pad 0) with codes_mask [B, L]
    (True on real frames), each role [B, N, D] with ``{role}_mask`` [B, N]; keys: list."""
    out: dict = {"keys": [it["key"] for it in items]}
    for name in (k for k in items[0] if k != "key"):
        seqs = [it[name] if name != "codes" else it[name].T for it in items]  # time first
        n = max(s.shape[0] for s in seqs)
        batch = seqs[0].new_zeros((len(seqs), n, *seqs[0].shape[1:]))
        mask = torch.zeros(len(seqs), n, dtype=torch.bool)
        for i, s in enumerate(seqs):
            batch[i, : s.shape[0]] = s
            mask[i, : s.shape[0]] = True
        out[name] = batch.transpose(1, 2).contiguous() if name == "codes" else batch
        out[f"{name}_mask"] = mask
    return out


def make_loader(cache: str | os.PathLike, split: str = "train", *, batch_size: int = 16,
                window_seconds: float | None = None, workers: int = 0, shuffle: bool | None = None,
                seed: int = 0, val_fraction: float = 0.05) -> torch.utils.data.DataLoader:
    """A DataLoader over ``CacheDataset`` with ``collate_clips`` (shuffled for train by default)."""
    ds = CacheDataset(cache, split, val_fraction=val_fraction, window_seconds=window_seconds, seed=seed)
    if not len(ds):
        raise MaskvatError(f"{cache}: the {split} split holds no clips")
    gen = torch.Generator().manual_seed(seed)
    return torch.utils.data.DataLoader(ds, batch_size=batch_size, shuffle=(split == "train") if shuffle is None else shuffle,
                                       num_workers=workers, collate_fn=collate_clips, generator=gen,
                                       persistent_workers=workers > 0)


class StepBatches:
    """The batches of a training run, one per step: step s draws ``batch_size`` clips and a
    window start in each from a generator seeded by (seed, s), so a resumed run sees exactly
    the batches an uninterrupted one would. Clips shorter than the window come whole (padded,
    with ``*_mask``: see ``collate_clips``); ``window_seconds=None`` takes whole clips.

    ``fixed(n)``: the first n clips, windows from their start: a validation set that does not change.
    """

    def __init__(self, cache: str | os.PathLike, split: str = "all", *, batch_size: int,
                 window_seconds: float | None, seed: int = 0, val_fraction: float = 0.05):
        self.ds = CacheDataset(cache, split, val_fraction=val_fraction)
        if not len(self.ds):
            raise MaskvatError(f"{cache}: the {split} split of the cache holds no clips")
        self.batch_size, self.window, self.seed = batch_size, window_seconds, seed
        self.durations = [float(self.ds.meta(i)["duration"]) for i in range(len(self.ds))]

    def __len__(self) -> int:
        return len(self.ds)

    @property
    def rates(self) -> dict[str, float]:
        return self.ds.rates

    @property
    def encoders(self) -> dict[str, str]:
        """Role -> name of the encoder that made each stored feature stream."""
        return {r: e["name"] for r, e in self.ds.info["encoders"].items()}

    def _window(self, idx: int, start: float) -> dict:
        item = self.ds.item(idx)
        return item if self.window is None else cut_window(item, self.rates, start, self.window)

    def batch(self, step: int) -> dict:
        rng = np.random.default_rng([self.seed, step])
        n = len(self.ds)
        idx = rng.choice(n, self.batch_size, replace=n < self.batch_size)
        starts = [rng.uniform(0.0, max(0.0, self.durations[i] - (self.window or 0.0))) for i in idx]
        return collate_clips([self._window(int(i), s) for i, s in zip(idx, starts)])

    def fixed(self, n: int, batch_size: int | None = None) -> list[dict]:
        """Batches of the first ``n`` clips, each window from the clip's start."""
        ids = list(range(min(n, len(self.ds))))
        size = batch_size or self.batch_size
        return [collate_clips([self._window(i, 0.0) for i in ids[j:j + size]]) for j in range(0, len(ids), size)]
