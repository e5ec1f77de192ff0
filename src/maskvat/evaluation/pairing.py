"""Which generated file goes with which reference, and what is skipped (``maskvat evaluate``).

A generated file pairs with reference ``X`` (any media file ``REF/X.*``) when it is named
``X.<audio or video suffix>`` or ``X_maskvat.<video suffix>`` (what ``maskvat generate``
writes). When one clip has several generated files (``X.wav`` and ``X_maskvat.mp4`` hold the
same sound), the first in this order is scored: sound files (.wav, .flac, then the other audio
suffixes), then videos; the others are listed as skipped. Files of neither kind (a stray
``captions.json``), generated files with no reference and references with no generated file
are listed, never fatal; only "nothing pairs at all" is an error.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from maskvat.errors import MaskvatError
from maskvat.media.formats import AUDIO_SUFFIXES, VIDEO_SUFFIXES

MUXED_TAG = "_maskvat"  # maskvat generate writes X.wav and X_maskvat.<video suffix>
LAB_SIDE_FILES = ("manifest.json",)  # a lab split's own files, not clips
_ORDER = (".wav", ".flac", *sorted(AUDIO_SUFFIXES - {".wav", ".flac"}), *sorted(VIDEO_SUFFIXES))


@dataclass
class Pairing:
    """pairs: [(generated, reference)] sorted by stem; skipped: [(file, reason)];
    unpaired_references: references with no generated file (not an error: a run may cover a subset)."""

    pairs: list[tuple[Path, Path]]
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    unpaired_references: list[Path] = field(default_factory=list)


def require_folder(path: str | os.PathLike) -> Path:
    """``path`` as a Path; MaskvatError "PATH: no such folder" or "PATH: is a file, not a folder"."""
    path = Path(path)
    if path.is_file():
        raise MaskvatError(f"{path}: is a file, not a folder (give the folder that holds it)")
    if not path.is_dir():
        raise MaskvatError(f"{path}: no such folder")
    return path


def media_files(folder: Path) -> tuple[dict[str, Path], list[tuple[Path, str]]]:
    """{stem: file} of the reference media files in ``folder`` (a video before a sound file of
    the same stem: the video metrics need the picture) and [(file, reason)] for the rest (lab
    truth JSONs beside same-stem clips and a lab manifest are neither listed nor used here)."""
    found: dict[str, list[Path]] = {}
    other = []
    for p in sorted(folder.iterdir()):
        if p.name.startswith(".") or p.is_dir():
            continue
        if p.suffix.lower() in AUDIO_SUFFIXES | VIDEO_SUFFIXES:
            found.setdefault(p.stem, []).append(p)
        else:
            other.append(p)
    stems = set(found)
    skipped = [(p, "not a media file") for p in other
               if not (p.name in LAB_SIDE_FILES or (p.suffix == ".json" and p.stem in stems))]
    out = {}
    for stem, files in found.items():
        files.sort(key=lambda p: (p.suffix.lower() not in VIDEO_SUFFIXES, _ORDER.index(p.suffix.lower())))
        out[stem] = files[0]
        skipped += [(p, f"another file of clip {stem!r} is used ({files[0].name})") for p in files[1:]]
    return out, skipped


def pair_files(generated: str | Path, reference: str | Path) -> Pairing:
    """Pair the files of two folders (see the module doc); MaskvatError when a folder is missing
    or nothing pairs."""
    generated, reference = Path(generated), Path(reference)
    for d in (generated, reference):
        require_folder(d)
    refs, skipped_refs = media_files(reference)
    gens: dict[str, list[Path]] = {}
    skipped: list[tuple[Path, str]] = []
    for p in sorted(generated.iterdir()):
        if p.name.startswith(".") or p.is_dir():
            continue
        suffix = p.suffix.lower()
        stem = p.stem
        if suffix in VIDEO_SUFFIXES and stem.endswith(MUXED_TAG) and stem not in refs:
            stem = stem[: -len(MUXED_TAG)]
        if suffix not in AUDIO_SUFFIXES | VIDEO_SUFFIXES:
            skipped.append((p, "not a media file"))
        elif stem not in refs:
            skipped.append((p, f"no reference named {stem}.* in {reference}"))
        else:
            gens.setdefault(stem, []).append(p)
    pairs = []
    for stem, files in sorted(gens.items()):
        files.sort(key=lambda p: (_ORDER.index(p.suffix.lower()), p.name))
        pairs.append((files[0], refs[stem]))
        skipped += [(p, f"same clip as {files[0].name} (that file is scored)") for p in files[1:]]
    if not pairs:
        raise MaskvatError(f"no file of {generated} has a same-name reference in {reference} "
                           f"(generated X.wav, X.mp4 or X_maskvat.mp4 pairs with reference X.*)")
    return Pairing(pairs, skipped + [(p, f"reference folder: {why}") for p, why in skipped_refs],
                   [refs[s] for s in sorted(set(refs) - set(gens))])
