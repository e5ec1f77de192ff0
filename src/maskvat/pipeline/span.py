"""Where a generated sound belongs in its video: the span ``maskvat generate`` records in the files
it writes, so that ``maskvat evaluate`` scores the sound against the same seconds of the reference.

``maskvat generate v.mp4 -o out --start S --duration D`` writes ``out/v.wav``, the D seconds of
sound for S to S + D of v.mp4, and ``out/v_maskvat.mp4``, the whole video with that sound at S to
S + D. Each file's comment tag holds ``{"maskvat_span": {"start": S, "duration": D, "offset": O}}``
(JSON), O being where in that file the sound begins: 0 in the wav, S in the muxed copy.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass

from maskvat.errors import MaskvatError
from maskvat.media import read_comment

TAG_KEY = "maskvat_span"


@dataclass(frozen=True)
class Span:
    """start: seconds into the source video where the generated sound begins; duration: its
    seconds; offset: seconds into the file holding it where it begins (0 in the wav, ``start`` in
    the muxed copy of the whole video)."""

    start: float
    duration: float
    offset: float = 0.0

    def tag(self) -> str:
        """The comment tag that records this span (``write_audio``/``mux_audio``'s ``comment``)."""
        return json.dumps({TAG_KEY: asdict(self)})

    @classmethod
    def from_tag(cls, text: str | None) -> "Span | None":
        """The span a comment tag records, or None (no tag, another program's comment, or values
        that are not a span: negative, zero or not finite)."""
        try:
            d = json.loads(text)[TAG_KEY]
            span = cls(float(d["start"]), float(d["duration"]), float(d.get("offset", 0.0)))
        except (TypeError, ValueError, KeyError, IndexError):
            return None
        ok = all(math.isfinite(x) for x in asdict(span).values()) and span.start >= 0 and span.offset >= 0
        return span if ok and span.duration > 0 else None


def read_span(path: str | os.PathLike) -> Span | None:
    """The span the file at ``path`` records (see the module doc), or None, also when the file
    cannot be read (whoever reads its sound reports that)."""
    try:
        return Span.from_tag(read_comment(path))
    except MaskvatError:
        return None
