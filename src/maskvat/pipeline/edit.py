"""Keep a take, redo a second: what ``Pipeline.generate(keep=..., regenerate=[...])`` reads and checks.

    take = pipe.generate("clip.mp4", seed=0)
    fixed = pipe.generate("clip.mp4", keep=take, regenerate=[(2.0, 3.5)], seed=1)            # one Generation
    takes = pipe.generate("clip.mp4", keep="take1.wav", regenerate=[(2.0, 3.5)], variations=3)  # a list of 3

**The kept sound** is the sound of the span generated: its first sample plays at ``start`` on
the video's timeline and it lasts ``duration`` seconds, as the wav that ``maskvat generate
--start S --duration D`` writes (``read_keep`` takes a sound file at any rate, a waveform
array [T] at ``keep_rate``, a codes tensor [K, L] or [1, K, L], a codes file ``.safetensors``
as ``maskvat codec encode`` writes it, or a previous ``Generation``, whose codes are taken
as they are). Its length must match the span to within one codegram frame
(``check_keep_length``). A sound is encoded once, whole, with the pipeline's codec.

**Ranges** ``[(t0, t1), ...]`` are seconds on the video's timeline, inside
``[start, start + duration]``, and may not overlap (``check_ranges``). ``range_frames`` is
the one place where they become codegram frames: frame i covers
``[start + i * hop / sr, start + (i + 1) * hop / sr)`` and a range takes every frame it
touches, widened by ``widen`` frames on each side.

**Range edges.** Two receptive fields reach across a range's edge:
- the codec's *encoder*: the tokens within ``codec_edge_frames`` frames of a change in the
  waveform change with it (7 frames, 81 ms, for the shipped lab codec; 4 for the debug
  pipeline's). Kept tokens that close to a range describe, in part, the kept sound inside
  it; so the pipeline samples ``widen = Pipeline.edge_frames`` more frames on each side of
  each range (the same frames a long video's windows sample again at their joins), letting
  the model re-pick them to suit the new sound.
- the codec's *decoder*: a decoded sample depends on the tokens ``codec_decoder_reach``
  frames around its own (``Pipeline.decoder_reach``: 10 frames, 116 ms, for the lab codec;
  9 for the debug pipeline's), so the samples that far outside the sampled tokens mix the
  new tokens with the kept ones.

So with a range of frames [f0, f1) the tokens sampled are [f0 - widen, f1 + widen)
(``Generation.regenerated``) and every other token is the kept one exactly; the output's
samples outside frames ``[f0 - widen - reach, f1 + widen + reach)`` (``Generation.changed``;
with the lab codec, 17 frames = 197 ms either side of the range) are those of the kept
sound's codec round trip (``codec.decode(codec.encode(keep))``) exactly (bit for bit in the
tests, on CPU; a batched decode, of variations or beams, on other hardware may differ by float
rounding); within them the new
and the kept sound meet, decoded together once, with no crossfade. ``Pipeline.edit_widen = 0``
samples the range alone (the sound then changes only within ``reach`` frames of it).
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from maskvat.codec.codes_io import load_codes
from maskvat.codec.presets import CODEC_PRESETS, DEFAULT_CODEC
from maskvat.errors import MaskvatError, MediaError
from maskvat.media import read_audio, resample

CODES_SUFFIX = ".safetensors"  # a codes file; any other file is read as sound
_NUMBER = r"\s*(\d+(?:\.\d*)?|\.\d+)\s*"
_RANGE = re.compile(f"^{_NUMBER}-{_NUMBER}$")
_EPS = 1e-6  # seconds: slack for times given in decimal


@dataclass
class Keep:
    """A kept sound, read: ``wav`` [T] float32 at ``sample_rate``, or ``codes`` [K, L] int64 made
    by a codec of ``sample_rate`` and ``hop_length``. ``name`` labels it in messages."""

    name: str
    sample_rate: int
    wav: np.ndarray | None = None
    codes: torch.Tensor | None = None
    hop_length: int | None = None

    @property
    def seconds(self) -> float:
        """Its length: samples / rate, or frames * hop / rate."""
        if self.codes is not None:
            return self.codes.shape[-1] * self.hop_length / self.sample_rate
        return len(self.wav) / self.sample_rate


def default_frame_seconds() -> float:
    """One codegram frame of the shipped codec's grid (hop 512 at 44.1 kHz, every preset's): what
    the command line checks a keep's length with before the model (and its codec) loads."""
    cfg = CODEC_PRESETS[DEFAULT_CODEC].config
    return cfg["hop_length"] / cfg["sampling_rate"]


def parse_range(text: str) -> tuple[float, float]:
    """``"2.0-3.5"`` -> (2.0, 3.5): seconds START-END on the video's timeline; a one-line
    MaskvatError for anything else (the command line's ``--regenerate``)."""
    m = _RANGE.match(str(text))
    if not m:
        raise MaskvatError(f"--regenerate {text}: expected START-END in seconds, e.g. 2.0-3.5")
    return float(m.group(1)), float(m.group(2))


def check_ranges(ranges, start: float, duration: float, name: str = "") -> list[tuple[float, float]]:
    """The ranges, sorted, or a one-line MaskvatError (prefixed with ``name``): each must be a
    pair (t0, t1) of seconds with t0 < t1, inside the span [start, start + duration] generated,
    and no two may overlap (touching is fine)."""
    where = f"{name}: " if name else ""
    end = start + duration
    out = []
    if ranges is None or isinstance(ranges, (str, bytes)) or len(ranges) == 0:
        raise MaskvatError(f"{where}regenerate needs at least one range (t0, t1) in seconds")
    for r in ranges:
        try:
            t0, t1 = (float(t) for t in r)
        except (TypeError, ValueError):
            raise MaskvatError(f"{where}range {r!r} is not a pair (t0, t1) of seconds") from None
        if not (math.isfinite(t0) and math.isfinite(t1)) or t0 >= t1:
            raise MaskvatError(f"{where}range {t0:g}-{t1:g} s is empty or reversed: it needs t0 < t1")
        if t0 < start - _EPS or t1 > end + _EPS:
            raise MaskvatError(f"{where}range {t0:g}-{t1:g} s is outside the span generated, "
                               f"{start:.2f}-{end:.2f} s of the video")
        out.append((t0, t1))
    out.sort()
    for (a0, a1), (b0, b1) in zip(out, out[1:]):
        if b0 < a1 - _EPS:
            raise MaskvatError(f"{where}ranges {a0:g}-{a1:g} s and {b0:g}-{b1:g} s overlap: give them as one range")
    return out


def range_frames(ranges, start: float, frame_seconds: float, total: int, widen: int = 0) -> list[tuple[int, int]]:
    """Codegram frame spans [(f0, f1), ...] (end exclusive, sorted, merged where they touch)
    that the ranges (seconds on the video's timeline; checked by ``check_ranges``) cover, each
    widened by ``widen`` frames on either side and clipped to [0, total). Frame i covers
    [start + i * frame_seconds, start + (i + 1) * frame_seconds). Pure function."""
    spans = []
    for t0, t1 in ranges:
        f0 = math.floor((t0 - start) / frame_seconds + 1e-9)
        f1 = max(math.ceil((t1 - start) / frame_seconds - 1e-9), f0 + 1)
        spans.append((max(0, f0 - widen), min(total, f1 + widen)))
    return merge_spans([(a, b) for a, b in spans if a < b])


def spans_of(frames: torch.Tensor) -> list[tuple[int, int]]:
    """[(f0, f1), ...]: the runs of True in ``frames`` [L] bool (end exclusive). Pure function."""
    flags = frames.to(torch.int8).tolist()
    out, begin = [], None
    for i, f in enumerate(flags + [0]):
        if f and begin is None:
            begin = i
        elif not f and begin is not None:
            out.append((begin, i))
            begin = None
    return out


def merge_spans(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted spans, those that overlap or touch merged. Pure function."""
    out: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def read_keep(keep, sample_rate: int, hop_length: int | None = None, keep_rate: int | None = None) -> Keep:
    """What ``keep`` holds, read (not encoded): a ``Keep`` as it is; a path (a sound or video
    file with sound, read whole as mono at ``sample_rate``; a ``.safetensors`` codes file);
    an integer tensor/array of codes [K, L] or [1, K, L] (made by a codec of ``sample_rate``
    and ``hop_length``); a float waveform [T] (or [1, T]) at ``keep_rate`` (default
    ``sample_rate``), resampled; or a ``Generation`` (its codes).
    A one-line MediaError/MaskvatError for a missing, unreadable or misshapen keep."""
    if isinstance(keep, Keep):
        return keep
    if isinstance(keep, (str, os.PathLike)):
        path = Path(keep)
        if not path.exists():
            raise MediaError(path, "no such file (the sound to keep)")
        if path.suffix.lower() == CODES_SUFFIX:
            codes, meta = load_codes(path)
            return Keep(str(path), meta["sample_rate"], codes=_one_codegram(str(path), codes),
                        hop_length=meta["hop_length"])
        return Keep(str(path), sample_rate, wav=read_audio(path, sample_rate=sample_rate))
    if hop_length is None:
        raise ValueError("read_keep: codes and generations need the codec's hop_length")
    if hasattr(keep, "codes") and hasattr(keep, "wav") and hasattr(keep, "sample_rate"):  # a Generation
        return Keep("the kept generation", sample_rate, codes=_one_codegram("the kept generation", keep.codes),
                    hop_length=hop_length)
    arr = keep if isinstance(keep, torch.Tensor) else np.asarray(keep)
    floating = arr.is_floating_point() if isinstance(arr, torch.Tensor) else np.issubdtype(arr.dtype, np.floating)
    if not floating:
        return Keep("the kept codes", sample_rate, codes=_one_codegram("the kept codes", torch.as_tensor(arr)),
                    hop_length=hop_length)
    wav = arr.detach().cpu().numpy() if isinstance(arr, torch.Tensor) else arr
    wav = np.asarray(wav, dtype=np.float32)
    if wav.ndim == 2 and 1 in wav.shape:
        wav = wav.reshape(-1)
    if wav.ndim != 1 or not len(wav):
        raise MaskvatError(f"the kept waveform must be mono [T], not of shape {tuple(wav.shape)}")
    if not np.isfinite(wav).all():
        raise MaskvatError("the kept waveform holds NaN or infinite samples")
    rate = sample_rate if keep_rate is None else int(keep_rate)
    if rate <= 0:
        raise MaskvatError(f"keep_rate must be a positive sample rate, not {keep_rate}")
    return Keep(f"the kept waveform ({rate} Hz)", sample_rate, wav=resample(wav, rate, sample_rate))


def _one_codegram(name: str, codes: torch.Tensor) -> torch.Tensor:
    codes = codes.long().cpu()
    if codes.ndim == 3 and codes.shape[0] == 1:
        codes = codes[0]
    if codes.ndim != 2:
        raise MaskvatError(f"{name}: codes must be one codegram [K, L], not of shape {tuple(codes.shape)}")
    return codes


def check_keep_length(keep: Keep, start: float, duration: float, frame_seconds: float) -> None:
    """A one-line MaskvatError, saying both lengths, unless the kept sound lasts the span
    generated (``duration`` s from ``start``) to within one codegram frame (``frame_seconds``);
    codes are compared in whole frames (their length against the span's frame count)."""
    span = duration
    if keep.codes is not None:
        span = math.ceil(duration / frame_seconds - 1e-9) * frame_seconds
    if abs(keep.seconds - span) > frame_seconds + _EPS:
        raise MaskvatError(f"{keep.name}: the kept sound is {keep.seconds:.3f} s long but the span generated is "
                           f"{duration:.3f} s ({start:.2f}-{start + duration:.2f} s of the video); they must match "
                           f"to within one codegram frame ({frame_seconds * 1000:.1f} ms)")


def kept_codes(keep: Keep, codec, total: int) -> tuple[torch.Tensor, int]:
    """(codes [K, n] with n <= total, n): the kept sound's codegram made by ``codec`` (a sound
    encoded once, whole; codes checked against the codec's grid), cut to ``total`` frames. A
    sound or codes one frame short leave the last frame to be sampled (n = total - 1)."""
    if keep.codes is not None:
        codes = keep.codes
        if (keep.sample_rate, keep.hop_length) != (codec.sample_rate, codec.hop_length):
            raise MaskvatError(f"{keep.name}: codes for {keep.sample_rate} Hz, hop {keep.hop_length}; the codec is "
                               f"{codec.sample_rate} Hz, hop {codec.hop_length}")
        fits = codes.numel() and 0 <= int(codes.min()) and int(codes.max()) < codec.codebook_size
        if codes.shape[0] != codec.n_levels or not fits:
            raise MaskvatError(f"{keep.name}: codes of shape {tuple(codes.shape)} do not fit the codec "
                               f"({codec.n_levels} levels of {codec.codebook_size} codes)")
    else:
        codes = codec.encode(torch.from_numpy(keep.wav)[None].to(codec.device))[0].cpu()
    n = min(codes.shape[-1], total)
    return codes[:, :n], n
