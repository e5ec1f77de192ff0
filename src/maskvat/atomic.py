"""Write-then-rename, so that a failed or interrupted write never leaves a partial file.

    with atomic_path("out.mp4") as tmp:
        write_something(tmp)        # tmp lies beside out.mp4 and keeps its suffix
    # out.mp4 now exists, complete; on any exception it is untouched and tmp is gone
"""

from __future__ import annotations

import errno
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from maskvat.errors import MediaError


@contextmanager
def atomic_path(final_path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``final_path`` (same suffix); rename it into place on success."""
    final = Path(final_path)
    if final.exists() and final.is_dir():
        raise MediaError(final, "is a directory, expected a file path to write")
    parent = final.parent if str(final.parent) else Path(".")
    if not parent.exists():
        raise MediaError(final, f"cannot write: folder {parent} does not exist")
    tmp = parent / f".{final.stem}.partial-{os.getpid()}{final.suffix}"
    try:
        yield tmp
        os.replace(tmp, final)
    except OSError as exc:
        _remove_quietly(tmp)
        if exc.errno == errno.ENOSPC:
            raise MediaError(final, "cannot write: no space left on device") from None
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise MediaError(final, f"cannot write: {exc.strerror}") from None
        raise
    except BaseException:
        _remove_quietly(tmp)
        raise


def _remove_quietly(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
