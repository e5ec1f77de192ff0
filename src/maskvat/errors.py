"""User-facing errors.

Every error that a user can cause (a bad file, a bad option) is a :class:`MaskvatError`
whose message is one line. The CLI prints it as ``maskvat: error: <message>`` and exits
with status 2, without a traceback.
"""

from __future__ import annotations

import os


class MaskvatError(Exception):
    """An error caused by the user's input; ``str(err)`` is one readable line."""


class MediaError(MaskvatError):
    """A media file that cannot be used: names the file and the problem."""

    def __init__(self, path: str | os.PathLike, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")
