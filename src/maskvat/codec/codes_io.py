"""Codes files: a codegram plus what is needed to decode it, in one safetensors file.

Layout: tensor ``codes`` (int16, [K, L] or [B, K, L]); header metadata ``maskvat_codes``
(format version), ``codec_name``, ``sample_rate``, ``hop_length``, ``num_samples``.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from safetensors import safe_open

from maskvat.errors import MediaError
from maskvat.media.atomic import atomic_path

FORMAT_VERSION = "1"


def save_codes(
    path: str | os.PathLike,
    codes: torch.Tensor,
    *,
    codec_name: str,
    sample_rate: int,
    hop_length: int,
    num_samples: int,
) -> None:
    """Save codes [K, L] or [B, K, L] (values < 32768) atomically."""
    codes = torch.as_tensor(codes)
    if codes.ndim not in (2, 3) or (codes.numel() and (codes.min() < 0 or codes.max() > 32767)):
        raise MediaError(path, f"codes must be [K, L] or [B, K, L] in [0, 32767], got {tuple(codes.shape)}")
    meta = {
        "maskvat_codes": FORMAT_VERSION,
        "codec_name": codec_name,
        "sample_rate": str(sample_rate),
        "hop_length": str(hop_length),
        "num_samples": str(num_samples),
    }
    with atomic_path(path) as tmp:
        save_file({"codes": codes.to(torch.int16).contiguous()}, str(tmp), metadata=meta)


def load_codes(path: str | os.PathLike) -> tuple[torch.Tensor, dict]:
    """(codes int64 as saved, metadata with ints for sample_rate, hop_length, num_samples)."""
    p = Path(path)
    if not p.is_file():
        raise MediaError(p, "no such file" if not p.exists() else "is not a file")
    try:
        with safe_open(str(p), framework="pt") as f:
            meta = dict(f.metadata() or {})
        tensors = load_file(str(p))
    except (SafetensorError, OSError, ValueError) as exc:
        raise MediaError(p, f"is not a codes file (safetensors): {str(exc).splitlines()[0][:120]}") from None
    if meta.get("maskvat_codes") != FORMAT_VERSION or "codes" not in tensors:
        raise MediaError(p, "is a safetensors file but not a maskvat codes file")
    for key in ("sample_rate", "hop_length", "num_samples"):
        meta[key] = int(meta[key])
    return tensors["codes"].long(), meta
