"""Opening media with PyAV, turning every FFmpeg/OS failure into a MediaError."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import av

from maskvat.errors import MediaError


def check_readable(path: str | os.PathLike) -> Path:
    """Return ``path`` as a Path if it names a non-empty regular file, else raise MediaError."""
    p = Path(path)
    if not p.exists():
        raise MediaError(p, "no such file")
    if p.is_dir():
        raise MediaError(p, "is a directory, expected a media file")
    if p.stat().st_size == 0:
        raise MediaError(p, "is empty (0 bytes)")
    if not os.access(p, os.R_OK):
        raise MediaError(p, "cannot be read (permission denied)")
    return p


@contextmanager
def open_media(path: str | os.PathLike) -> Iterator[av.container.InputContainer]:
    """Open ``path`` for reading; errors name the file and say what is wrong."""
    p = check_readable(path)
    try:
        container = av.open(str(p), mode="r")
    except av.error.InvalidDataError:
        raise MediaError(p, "is not a media file FFmpeg can read, or is truncated or corrupt") from None
    except av.error.FFmpegError as exc:
        raise MediaError(p, f"cannot be opened as media ({_ffmpeg_reason(exc)})") from None
    except OSError as exc:
        raise MediaError(p, f"cannot be opened ({exc.strerror or exc})") from None
    try:
        yield container
    finally:
        container.close()


def corrupt(path: str | os.PathLike, exc: Exception, at: float | None = None) -> MediaError:
    """The MediaError for a decode failure part-way through a stream."""
    where = f" at {at:.2f} s" if at is not None else ""
    return MediaError(path, f"is truncated or corrupt: decoding failed{where} ({_ffmpeg_reason(exc)})")


def _ffmpeg_reason(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
