"""Lab clips after a trip through a codec, as features: what a generator over that codec can
at best give back. Encoders and classifiers trained on these as well as on the true sound
hear the sound's content, not the codec's timbre.

    mels = codec_round_trips(LAB / "train", "lab", feature=lambda wav: log_mel(wav))
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from maskvat.codec.tokenizer import AudioTokenizer
from maskvat.media import read_audio


@torch.no_grad()
def codec_round_trips(split: str | os.PathLike, codec: str, feature: Callable[[torch.Tensor], torch.Tensor],
                      progress: bool = True, limit: int | None = None) -> torch.Tensor:
    """``feature(wav [b, T])`` of the first ``limit`` clips (default all) of a lab split after a
    trip through ``codec``, concatenated over clips. Uses the codegrams of
    LAB/cache/<split>/codes.safetensors when that cache was made with this codec; decodes two
    clips at a time (larger batches are slower on a CPU)."""
    from tqdm import tqdm

    split = Path(split)
    tok = AudioTokenizer.from_pretrained(codec)
    all_clips = json.loads((split / "manifest.json").read_text())["clips"]
    clips = all_clips[:limit] if limit else all_clips
    cache = split.parent / "cache" / split.name / "codes.safetensors"
    codes = None
    if cache.is_file():
        from safetensors import safe_open

        with safe_open(str(cache), "pt") as f:
            info = json.loads(f.metadata()["info"])
            if info.get("codec") == tok.name and info["clips"] == [c["clip_id"] for c in all_clips]:
                codes = f.get_tensor("codes").long()
    out = []
    for i in tqdm(range(0, len(clips), 2), desc=f"codec round trip {split.name}", unit="pair", disable=not progress):
        part = clips[i:i + 2]
        wavs = [read_audio(split / c["video"]) for c in part]
        n = max(len(w) for w in wavs)
        grid = codes[i:i + 2] if codes is not None else tok.encode(torch.stack(
            [torch.from_numpy(np.pad(w, (0, n - len(w)))) for w in wavs]))
        rec = tok.decode(grid, num_samples=n).reshape(len(part), -1)
        out.append(feature(rec.float()))
    return torch.cat(out)
