"""The lab's whole-in-memory feature cache (``maskvat features``): one file per kind.

    CACHE/features.safetensors  semantic [N, Ns, Ds] f16, sync [N, Ny, Dy] f16, audio [N, Na, Da] f16
    CACHE/codes.safetensors     codes [N, K, L] int16 (the codec named in its metadata)
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from maskvat.atomic import atomic_path
from maskvat.data.dataset import CacheDataset, cut_window, is_shard_cache
from maskvat.errors import MaskvatError
from maskvat.media import read_audio
from maskvat.pipeline.features import FeaturePipeline


def _manifest(split: Path) -> dict:
    path = split / "manifest.json"
    if not path.is_file():
        raise MaskvatError(f"{split}: not a clip folder (no manifest.json); build one with `maskvat lab build`")
    return json.loads(path.read_text())


def build_feature_cache(split: str | os.PathLike, cache: str | os.PathLike, pipe: FeaturePipeline, *,
                        progress: bool = True) -> Path:
    """Visual and audio features of every clip of a lab split -> CACHE/features.safetensors."""
    from safetensors.torch import save_file

    split, cache = Path(split), Path(cache)
    meta = _manifest(split)
    duration = float(meta["duration"])
    rows: dict[str, list] = {"semantic": [], "sync": [], "audio": []}
    for clip in tqdm(meta["clips"], desc=f"features {split.name}", unit="clip", disable=not progress):
        video = split / clip["video"]
        f = pipe.visual(video, 0.0, duration)
        rows["semantic"].append(f.semantic)
        rows["sync"].append(f.sync)
        rows["audio"].append(pipe.audio_features(read_audio(video, duration=duration)))
    tensors = {k: torch.stack(v).half().contiguous() for k, v in rows.items() if v and v[0] is not None}
    info = {"clips": [c["clip_id"] for c in meta["clips"]], "duration": duration,
            "encoders": {k: getattr(pipe, k).config.name for k in ("semantic", "sync", "audio") if getattr(pipe, k)}}
    cache.mkdir(parents=True, exist_ok=True)
    with atomic_path(cache / "features.safetensors") as tmp:
        save_file(tensors, str(tmp), metadata={"info": json.dumps(info)})
    return cache / "features.safetensors"


def build_codes_cache(split: str | os.PathLike, cache: str | os.PathLike, codec, *, batch: int = 8,
                      progress: bool = True) -> Path:
    """Codegrams of every clip of a lab split -> CACHE/codes.safetensors (int16 [N, K, L])."""
    from safetensors.torch import save_file

    split, cache = Path(split), Path(cache)
    meta = _manifest(split)
    duration = float(meta["duration"])
    clips = meta["clips"]
    out = []
    for i in tqdm(range(0, len(clips), batch), desc=f"codes {split.name}", unit="batch", disable=not progress):
        wav = np.stack([read_audio(split / c["video"], duration=duration) for c in clips[i:i + batch]])
        out.append(codec.encode(torch.from_numpy(wav)).to(torch.int16))
    info = {"clips": [c["clip_id"] for c in clips], "duration": duration, "codec": codec.name}
    cache.mkdir(parents=True, exist_ok=True)
    with atomic_path(cache / "codes.safetensors") as tmp:
        save_file({"codes": torch.cat(out).contiguous()}, str(tmp), metadata={"info": json.dumps(info)})
    return cache / "codes.safetensors"


@dataclass
class TrainingSet:
    """codes [N, K, L] long; semantic [N, Ns, Ds], sync [N, Ny, Dy], audio [N, Na, Da] float (or None)."""

    codes: torch.Tensor | None
    semantic: torch.Tensor | None
    sync: torch.Tensor | None
    audio: torch.Tensor | None
    clips: list[str]
    encoders: dict[str, str] = field(default_factory=dict)  # role -> encoder name that made the features

    def __len__(self) -> int:
        return len(self.clips)

    def check_encoders(self, expected: dict[str, str | None], cache: str | os.PathLike, what: str) -> None:
        """Raise a one-line error when a role's features were made by another encoder than
        ``expected`` names (None: the role is not used). Caches that do not record their
        encoders pass."""
        wrong = [f"{role}: {self.encoders[role]} (expects {name})" for role, name in expected.items()
                 if name is not None and role in self.encoders and self.encoders[role] != name]
        if wrong:
            raise MaskvatError(f"{cache}: its features come from other encoders than {what} reads: "
                               f"{'; '.join(wrong)}. Rebuild the features with the right encoders "
                               "(`maskvat features visual --model NAME` or `maskvat extract --encoders`)")

    def batch(self, idx) -> dict:
        pick = lambda t: None if t is None else t[idx].float()  # noqa: E731
        return {"codes": None if self.codes is None else self.codes[idx], "semantic": pick(self.semantic),
                "sync": pick(self.sync), "audio": pick(self.audio)}


def load_training_set(cache: str | os.PathLike, *, codes: bool = True) -> TrainingSet:
    """Read CACHE/features.safetensors and CACHE/codes.safetensors (same clips, same order).

    ``codes=False``: the features only (SCAV training needs no codec). A shard cache written
    by ``maskvat extract`` is read too: every clip cut to the shortest one's span, from its start."""
    from safetensors import safe_open

    cache = Path(cache)
    if is_shard_cache(cache):
        return _from_shards(cache, codes)
    loaded = {}
    for name in ("features", "codes") if codes else ("features",):
        path = cache / f"{name}.safetensors"
        if not path.is_file():
            raise MaskvatError(f"{cache}: no {path.name}; build it with `maskvat features`")
        with safe_open(str(path), "pt") as f:
            info = json.loads(f.metadata()["info"])
            loaded[name] = ({k: f.get_tensor(k) for k in f.keys()}, info)
    feats, finfo = loaded["features"]
    grid = None
    if codes:
        grid, cinfo = loaded["codes"]
        if finfo["clips"] != cinfo["clips"]:
            raise MaskvatError(f"{cache}: features and codes list different clips; rebuild one of them")
        grid = grid["codes"].long()
    return TrainingSet(grid, feats.get("semantic"), feats.get("sync"), feats.get("audio"), finfo["clips"],
                       dict(finfo.get("encoders", {})))


def _from_shards(cache: Path, codes: bool) -> TrainingSet:
    ds = CacheDataset(cache)
    if not len(ds):
        raise MaskvatError(f"{cache}: the cache holds no clips yet")
    items = [ds[i] for i in range(len(ds))]
    span = min(it["codes"].shape[-1] for it in items) / ds.rates["codes"]
    items = [cut_window(it, ds.rates, 0.0, span) for it in items]
    get = lambda k: torch.stack([it[k] if k == "codes" else it[k].half() for it in items]) if k in items[0] else None  # noqa: E731
    return TrainingSet(get("codes") if codes else None, get("semantic"), get("sync"), get("audio"),
                       [it["key"] for it in items], {r: e["name"] for r, e in ds.info["encoders"].items()})
