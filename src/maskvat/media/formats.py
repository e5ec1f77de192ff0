"""Which files are media: the one list of file-name suffixes the whole project scans folders for.

Folder scans (``maskvat generate``, ``maskvat extract``, the codec's audio corpus,
``maskvat evaluate``) take a file when its lower-cased suffix is in these sets; a file that
turns out not to be readable media is then reported by whoever reads it.
"""

from __future__ import annotations

from pathlib import Path

VIDEO_SUFFIXES = frozenset({
    ".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".ts", ".m2ts", ".mts", ".gif",
    ".mpg", ".mpeg", ".3gp", ".flv", ".wmv",
})
AUDIO_SUFFIXES = frozenset({".wav", ".flac", ".ogg", ".mp3", ".aif", ".aiff", ".m4a", ".opus"})


def is_video_file(path: str | Path) -> bool:
    """True if ``path`` is a regular file whose suffix names a video container."""
    p = Path(path)
    return p.suffix.lower() in VIDEO_SUFFIXES and p.is_file()
