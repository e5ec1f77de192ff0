"""Codes files: a codegram plus what is needed to decode it, in one safetensors file.

Layout: tensor ``codes`` (int16, [K, L] or [B, K, L]); header metadata (strings):
``maskvat_codes`` (format version), ``codec_name``, ``sample_rate``, ``hop_length``,
``num_samples`` (the audio length before padding to a multiple of the hop).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from maskvat.atomic import atomic_path
from maskvat.errors import MediaError

FORMAT_VERSION = "1"
INT_FIELDS = ("sample_rate", "hop_length", "num_samples")
INT16_MAX = 32767


def save_codes(
    path: str | os.PathLike,
    codes: torch.Tensor,
    *,
    codec_name: str,
    sample_rate: int,
    hop_length: int,
    num_samples: int,
) -> None:
    """Save integer codes [K, L] or [B, K, L] with values in [0, 32767] atomically, as int16."""
    codes = torch.as_tensor(codes)
    if codes.ndim not in (2, 3) or codes.is_floating_point() or codes.is_complex():
        raise MediaError(path, f"codes must be integer [K, L] or [B, K, L], got {codes.dtype} {tuple(codes.shape)}")
    if codes.numel() and (codes.min() < 0 or codes.max() > INT16_MAX):
        raise MediaError(path, f"codes must lie in [0, {INT16_MAX}], got [{int(codes.min())}, {int(codes.max())}]")
    meta = {"maskvat_codes": FORMAT_VERSION, "codec_name": str(codec_name)}
    meta.update({key: str(int(value)) for key, value in zip(INT_FIELDS, (sample_rate, hop_length, num_samples))})
    with atomic_path(path) as tmp:
        save_file({"codes": codes.to(torch.int16).cpu().contiguous()}, str(tmp), metadata=meta)


def load_codes(path: str | os.PathLike) -> tuple[torch.Tensor, dict]:
    """-> (codes int64 [K, L] or [B, K, L] as saved, metadata with ints for sample_rate, hop_length, num_samples)."""
    p = Path(path)
    if not p.is_file():
        raise MediaError(p, "no such file" if not p.exists() else "is not a file")
    try:
        with safe_open(str(p), framework="pt") as f:
            meta = dict(f.metadata() or {})
            codes = f.get_tensor("codes") if "codes" in f.keys() else None
    except (SafetensorError, OSError, ValueError) as exc:
        raise MediaError(p, f"is not a codes file (safetensors): {_first_line(exc)}") from None
    if meta.get("maskvat_codes") != FORMAT_VERSION or codes is None:
        raise MediaError(p, "is a safetensors file but not a maskvat codes file")
    return _checked_codes(p, codes), _parsed_meta(p, meta)


def _checked_codes(path: Path, codes: torch.Tensor) -> torch.Tensor:
    if codes.ndim not in (2, 3) or codes.is_floating_point():
        raise MediaError(path, f"holds codes of {codes.dtype} {tuple(codes.shape)}, not integer [K, L] or [B, K, L]")
    return codes.long()


def _parsed_meta(path: Path, meta: dict) -> dict:
    try:
        for key in INT_FIELDS:
            meta[key] = int(meta[key])
    except (KeyError, ValueError):
        raise MediaError(path, f"codes file has missing or bad metadata {key!r}") from None
    meta.setdefault("codec_name", "unknown")
    return meta


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:120] if text else type(exc).__name__
