"""What ``maskvat extract`` reads: folders of videos, CSV/JSONL lists, or lab builds.

    items = list_sources(["videos/", "more.csv"])     # [SourceItem], in a fixed order

A CSV needs a ``path`` (or ``video``) column and may have ``start`` and ``end`` (seconds);
a JSONL file holds one object per line with the same keys. Relative paths are relative to
the list file. Both are read as UTF-8 with or without a byte-order mark (Excel's "CSV
UTF-8" writes one). A lab split (a folder with manifest.json) contributes its clips in
order. ``maskvat generate`` reads its lists with the same :func:`read_list`.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from pathlib import Path

from maskvat.errors import MaskvatError
from maskvat.media.formats import VIDEO_SUFFIXES


@dataclass(frozen=True)
class SourceItem:
    """One video to cut into clips; ``start``/``end`` (seconds) limit the part used.
    ``name`` is its stable label in cache keys (path relative to the source it came from)."""

    path: Path
    name: str
    start: float = 0.0
    end: float | None = None


LIST_SUFFIXES = (".csv", ".jsonl", ".ndjson")


def is_list_file(path: str | os.PathLike) -> bool:
    """True if ``path`` names a file list (.csv, .jsonl) rather than a video."""
    return Path(path).suffix.lower() in LIST_SUFFIXES


def read_list(path: str | os.PathLike) -> list[SourceItem]:
    """The videos a .csv (``path`` or ``video`` column) or .jsonl list names, in order."""
    p = Path(path)
    if not p.is_file():
        raise MaskvatError(f"{p}: no such file")
    try:
        return _rows(p, _csv_rows(p) if p.suffix.lower() == ".csv" else _jsonl_rows(p))
    except UnicodeDecodeError as exc:
        raise MaskvatError(f"{p}: not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8") from None
    except OSError as exc:
        raise MaskvatError(f"{p}: cannot be read ({exc.strerror or exc})") from None


def list_sources(sources: list[str | os.PathLike]) -> list[SourceItem]:
    items: list[SourceItem] = []
    for source in sources:
        p = Path(source)
        if p.is_dir():
            items += _lab_split(p) if (p / "manifest.json").is_file() else _folder(p)
        elif is_list_file(p) and p.is_file():
            items += read_list(p)
        elif p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES:
            items.append(SourceItem(p, p.name))
        elif not p.exists():
            raise MaskvatError(f"{p}: no such file or folder")
        else:
            raise MaskvatError(f"{p}: not a folder, a video, a .csv or a .jsonl list")
    names = [i.name + f"@{i.start:g}" for i in items]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})[:3]
        raise MaskvatError(f"the sources name the same video part twice: {', '.join(dup)}")
    return items


def _folder(folder: Path) -> list[SourceItem]:
    videos = sorted(p for p in folder.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file())
    if not videos:
        raise MaskvatError(f"{folder}: no videos ({', '.join(sorted(VIDEO_SUFFIXES))}) in it")
    return [SourceItem(p, f"{folder.name}/{p.relative_to(folder).as_posix()}") for p in videos]


def _lab_split(folder: Path) -> list[SourceItem]:
    try:
        clips = json.loads((folder / "manifest.json").read_text())["clips"]
        return [SourceItem(folder / c["video"], f"{folder.name}/{c['video']}") for c in clips]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise MaskvatError(f"{folder / 'manifest.json'}: not a lab manifest ({exc})") from None


def _csv_rows(path: Path):
    with open(path, newline="", encoding="utf-8-sig") as f:  # -sig: Excel's "CSV UTF-8" starts with a BOM
        reader = csv.DictReader(f)
        if not {"path", "video"} & set(reader.fieldnames or ()):
            raise MaskvatError(f"{path}: a list of videos needs a 'path' (or 'video') column, "
                               f"found {', '.join(reader.fieldnames or []) or 'no header'}")
        yield from enumerate(reader, start=2)


def _jsonl_rows(path: Path):
    with open(path, encoding="utf-8-sig") as f:
        for n, line in enumerate(f, start=1):
            if line.strip():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise MaskvatError(f"{path}:{n}: not JSON ({exc.msg})") from None
                if not isinstance(row, dict):
                    raise MaskvatError(f"{path}:{n}: expected an object with a 'path' key")
                yield n, row


def _rows(listing: Path, rows) -> list[SourceItem]:
    items = []
    for line, row in rows:
        video = row.get("path") or row.get("video")
        if not video:
            raise MaskvatError(f"{listing}:{line}: no 'path' (or 'video') value")
        try:
            start = float(row.get("start") or 0.0)
            end = float(row["end"]) if row.get("end") not in (None, "") else None
        except (TypeError, ValueError):
            raise MaskvatError(f"{listing}:{line}: start/end must be numbers of seconds") from None
        if start < 0 or (end is not None and end <= start):
            raise MaskvatError(f"{listing}:{line}: needs 0 <= start < end (got {start}, {end})")
        path = Path(video) if Path(video).is_absolute() else listing.parent / video
        items.append(SourceItem(path, str(video), start, end))
    if not items:
        raise MaskvatError(f"{listing}: lists no videos")
    return items
