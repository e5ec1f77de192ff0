"""Ground truth: the events of a clip and the JSON they are stored in."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from maskvat.errors import MediaError
from maskvat.lab.vocab import class_id

TRUTH_VERSION = 1


@dataclass
class Event:
    """One sound-making event, caused by something visible on frame ``frame``.

    time = frame / fps exactly; sample = round(time * sample_rate) is where its sound starts.
    ``kind`` is "onset" for hits and starts, "offset" for the end of a continuous sound.
    """

    time: float
    frame: int
    sample: int
    family: str
    sound_class: str
    class_id: int
    source: int  # index of the on-screen source that made it
    strength: float  # 0..1 (impact speed, stroke force, flow)
    pitch: int | None = None  # MIDI note for pitched events
    kind: str = "onset"


@dataclass
class ClipTruth:
    clip_id: str
    fps: float
    sample_rate: int
    duration: float
    width: int
    height: int
    seed: list[int]
    sources: list[dict]  # per source: family, class, screen box, family-specific fields
    events: list[Event] = field(default_factory=list)
    version: int = TRUTH_VERSION

    @property
    def families(self) -> list[str]:
        return sorted({s["family"] for s in self.sources})

    def onsets(self) -> list[Event]:
        """The events that onset scoring counts: hits and the starts of continuous sounds."""
        return [e for e in self.events if e.kind == "onset"]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)


def make_event(frame: int, fps: float, sample_rate: int, sound_class: str, source: int, strength: float,
               pitch: int | None = None, kind: str = "onset") -> Event:
    time = frame / fps
    return Event(time=time, frame=frame, sample=int(round(time * sample_rate)), family=sound_class.split("/")[0],
                 sound_class=sound_class, class_id=class_id(sound_class), source=source,
                 strength=float(round(strength, 4)), pitch=pitch, kind=kind)


def load_truth(path: str | os.PathLike) -> ClipTruth:
    """Read a clip's truth JSON (MediaError if missing or not a lab truth file)."""
    p = Path(path)
    try:
        d = json.loads(p.read_text())
        d["events"] = [Event(**e) for e in d["events"]]
        return ClipTruth(**d)
    except FileNotFoundError:
        raise MediaError(p, "no such file") from None
    except (json.JSONDecodeError, TypeError, KeyError, UnicodeDecodeError) as exc:
        raise MediaError(p, f"is not a lab truth file ({exc})") from None
