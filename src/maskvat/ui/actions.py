"""What the workstation (``maskvat ui``) does, without a browser: the page's callbacks
(``maskvat.ui.app``) call these, and the tests call them directly with a tiny model.

One browser session works on one clip at a time, in *takes*:

- take 1: N candidates for the whole clip, sampled side by side
  (``Pipeline.generate(video, variations=N)``);
- take k + 1: N variations of one or more time ranges regenerated in a candidate of take k,
  chosen by the user, sampled with seed + k (``take_seed``) (``Pipeline.generate(video, keep=<that candidate's Generation>,
  regenerate=[(t0, t1), ...], variations=N)``). The kept candidate's tokens are taken as they
  are, so outside ``Generation.changed`` each new candidate's samples are the chosen one's.

Every candidate's sound is written at once as a 16-bit wav for the page's player; its picture
(frames of the clip over the sound's spectrogram, with the detected onsets and the regenerated
range) is drawn separately, so the players appear before the pictures. ``export`` writes the
chosen sound (wav or flac) and a copy of the clip with it muxed in (the video stream copied
untouched), as ``maskvat generate`` does. All files go to the session's own folder; the input
video is only read. Every problem a user can cause is a one-line MaskvatError.
"""

from __future__ import annotations

import re
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from maskvat.errors import MaskvatError
from maskvat.sampling.sampler import SamplerSettings

PAPER = SamplerSettings()  # the paper's sampler defaults, defined once in maskvat.sampling.sampler

MAX_CANDIDATES = 4  # candidate slots on the page
STRIP_FRAMES = 8  # frames of the clip drawn above each spectrogram
SOUND_FORMATS = ("wav", "flac")


@dataclass(frozen=True)
class Settings:
    """The sampler's settings (the paper's defaults) and how many candidates to make."""

    steps: int = PAPER.steps
    guidance: float = PAPER.guidance
    diversity: float = PAPER.diversity
    beams: int = 1
    seed: int = 0
    candidates: int = 2

    @classmethod
    def from_page(cls, steps, guidance, diversity, beams, seed, candidates) -> "Settings":
        """Settings from the page's fields (numbers or text; empty fields take the defaults);
        a one-line MaskvatError for a value out of range."""
        d = cls()
        s = cls(steps=_number(steps, "steps", int, d.steps), guidance=_number(guidance, "guidance", float, d.guidance),
                diversity=_number(diversity, "diversity", float, d.diversity),
                beams=_number(beams, "beams", int, d.beams), seed=_number(seed, "seed", int, d.seed),
                candidates=_number(candidates, "candidates", int, d.candidates))
        for name, value, lo, hi in [("steps", s.steps, 1, 256), ("beams", s.beams, 1, 64),
                                    ("candidates", s.candidates, 1, MAX_CANDIDATES), ("seed", s.seed, 0, 2 ** 63 - 1)]:
            if not lo <= value <= hi:
                raise MaskvatError(f"{name} must be between {lo} and {hi}, not {value}")
        for name, value in [("guidance", s.guidance), ("diversity", s.diversity)]:
            if not (np.isfinite(value) and value >= 0):
                raise MaskvatError(f"{name} must be a number >= 0, not {value:g}")
        return s

    def sampler(self):
        return SamplerSettings(steps=self.steps, guidance=self.guidance, diversity=self.diversity)


def _number(value, name: str, kind, default):
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise MaskvatError(f"{name}: {value!r} is not a number") from None
    if kind is int:
        if not np.isfinite(x) or x != int(x):
            raise MaskvatError(f"{name} must be a whole number, not {value}")
        return int(x)
    return x


_RANGE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*-\s*(\d+(?:\.\d*)?|\.\d+)\s*$")


def parse_ranges(text: str) -> list[tuple[float, float]]:
    """``"1.0-2.0"`` or ``"1-2, 3-3.5"`` -> [(1.0, 2.0), (3.0, 3.5)]: seconds on the clip's
    timeline. Whether they fit the clip and each other is checked by the pipeline
    (``maskvat.pipeline.edit.check_ranges``). A one-line MaskvatError for anything else."""
    pieces = [p for p in re.split(r"[,;]", text or "") if p.strip()]
    if not pieces:
        raise MaskvatError("give the range to regenerate in seconds, START-END, e.g. 1.0-2.0")
    out = []
    for piece in pieces:
        m = _RANGE.match(piece)
        if not m:
            raise MaskvatError(f"range {piece.strip()!r}: expected START-END in seconds, e.g. 1.0-2.0")
        out.append((float(m.group(1)), float(m.group(2))))
    return out


def check_video(video) -> float:
    """Seconds of the clip (the whole clip is generated), after the checks ``maskvat generate``
    makes before the model loads: a readable video of 0.25 s to 4 h that some container can
    hold with new sound. A one-line MediaError naming the file otherwise."""
    from maskvat.media import muxed_suffix
    from maskvat.pipeline.limits import requested_duration

    if not video:
        raise MaskvatError("upload a video first")
    if not Path(video).is_file():
        raise MaskvatError(f"{video}: no such file")
    duration = requested_duration(video)
    muxed_suffix(video)
    return duration


@dataclass
class Candidate:
    """One sound for the clip: ``generation`` (Pipeline.generate's), its 16-bit wav ``sound`` for
    the player, its ``picture`` (None until drawn), the ``ranges`` regenerated to make it ([] for
    a whole-clip candidate) and the candidate it was made from (``parent``, a name)."""

    take: int
    number: int
    generation: object
    sound: Path
    ranges: list[tuple[float, float]] = field(default_factory=list)
    parent: str | None = None
    frame_seconds: float = 512 / 44100  # the codec's frame, for ``generation.changed``
    picture: Path | None = None

    @property
    def name(self) -> str:
        return f"take {self.take}, candidate {self.number}"

    @property
    def label(self) -> str:
        """What the page calls it, e.g. "Candidate 1 (take 2: 1-2 s anew in take 1, candidate 2)"."""
        if not self.ranges:
            return f"Candidate {self.number} (take {self.take})"
        spans = ", ".join(f"{a:g}-{b:g} s" for a, b in self.ranges)
        return f"Candidate {self.number} (take {self.take}: {spans} anew in {self.parent})"


@dataclass
class Work:
    """One browser session's work: its output ``folder``, the clip and the current take's candidates."""

    folder: Path
    video: Path | None = None
    duration: float = 0.0
    takes: int = 0
    candidates: list[Candidate] = field(default_factory=list)
    strip: object = None  # the clip's frames for the pictures (maskvat.media.Frames), read once

    def open(self, video) -> float:
        """Work on ``video`` from now on (checked; a new clip starts over at take 1)."""
        duration = check_video(video)
        if self.video != Path(video):
            self.video, self.duration, self.takes, self.candidates, self.strip = Path(video), duration, 0, [], None
        return duration

    def candidate(self, number) -> Candidate:
        """The current take's candidate ``number`` (1-based), or a one-line MaskvatError."""
        if not self.candidates:
            raise MaskvatError("generate candidates first")
        try:
            i = int(number)
        except (TypeError, ValueError):
            raise MaskvatError("choose a candidate first") from None
        if not 1 <= i <= len(self.candidates):
            raise MaskvatError(f"there is no candidate {i} (take {self.takes} has {len(self.candidates)})")
        return self.candidates[i - 1]


class Workstation:
    """The models (loaded once, shared by the sessions) and the folder the sessions write under."""

    def __init__(self, model: str = "lab", device: str = "cpu", out_dir=None, loader=None):
        self.model, self.device = str(model), device
        self._temporary = not out_dir  # a folder of our own: removed at the end if nothing was written in it
        self.out_dir = Path(out_dir) if out_dir else Path(tempfile.mkdtemp(prefix="maskvat-ui-"))
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._loader = loader  # (model, device, scav) -> Pipeline; default Pipeline.load
        self._pipes: dict[tuple[str, bool], object] = {}
        self._lock = threading.Lock()

    def close(self) -> bool:
        """Remove ``out_dir`` if the workstation made it (no ``out_dir`` given) and no file was
        written under it (only empty session folders); returns whether it was removed. A folder
        holding any file is kept: it may be a user's saved sound."""
        if not self._temporary or not self.out_dir.is_dir():
            return False
        if any(p.is_file() or p.is_symlink() for p in self.out_dir.rglob("*")):
            return False
        for d in sorted(self.out_dir.rglob("*"), key=lambda p: len(p.parts), reverse=True):
            d.rmdir()
        self.out_dir.rmdir()
        return True

    def new_work(self) -> Work:
        """A new session's Work, in a folder of its own under ``out_dir``."""
        return Work(Path(tempfile.mkdtemp(prefix="session-", dir=self.out_dir)))

    def pipeline(self, model: str | None = None, beams: int = 1):
        """The pipeline for ``model`` (default the one the workstation started with), loaded once;
        with its SCAV beam selector when ``beams`` > 1."""
        model = (model or "").strip() or self.model
        scored = beams > 1
        with self._lock:
            pipe = self._pipes.get((model, True)) or (None if scored else self._pipes.get((model, False)))
            if pipe is None:
                if self._loader is not None:
                    pipe = self._loader(model, self.device, "lab" if scored else None)
                else:
                    from maskvat.pipeline.generate import Pipeline

                    pipe = Pipeline.load(model, device=self.device, scav="lab" if scored else None)
                self._pipes[(model, scored)] = pipe
        return pipe

    # ---- the work ------------------------------------------------------------------------------
    def generate(self, work: Work, video, settings: Settings, model: str | None = None,
                 progress: bool = False) -> list[Candidate]:
        """Take 1 (or a fresh take): ``settings.candidates`` candidates for the whole clip."""
        work.open(video)
        pipe = self.pipeline(model, settings.beams)
        out = pipe.generate(work.video, settings=settings.sampler(), seed=settings.seed, beams=settings.beams,
                            variations=settings.candidates, progress=progress)
        return self._new_take(work, out, [], None, pipe.frame_seconds)

    def regenerate(self, work: Work, chosen, ranges, settings: Settings, model: str | None = None,
                   progress: bool = False) -> list[Candidate]:
        """A new take: ``settings.candidates`` variations of ``ranges`` (text "1-2, 3-3.5" or
        pairs) regenerated in the current take's candidate ``chosen`` (1-based), all else kept."""
        parent = work.candidate(chosen)
        ranges = parse_ranges(ranges) if isinstance(ranges, str) else [tuple(r) for r in ranges]
        pipe = self.pipeline(model, settings.beams)
        out = pipe.generate(work.video, settings=settings.sampler(), seed=take_seed(settings.seed, work.takes + 1),
                            beams=settings.beams,
                            keep=parent.generation, regenerate=ranges, variations=settings.candidates,
                            progress=progress)
        return self._new_take(work, out, sorted(ranges), parent.name, pipe.frame_seconds)

    def _new_take(self, work: Work, generations, ranges, parent, frame_seconds: float) -> list[Candidate]:
        from maskvat.media import write_audio

        work.takes += 1
        cands = []
        for i, g in enumerate(generations, 1):
            sound = work.folder / f"{work.video.stem}_take{work.takes}_c{i}.wav"
            write_audio(sound, g.wav, g.sample_rate)
            cands.append(Candidate(work.takes, i, g, sound, list(ranges), parent, frame_seconds))
        work.candidates = cands
        return cands

    def draw(self, work: Work, cand: Candidate) -> Path:
        """``cand``'s picture (PNG, drawn once): frames of the clip over its sound's spectrogram,
        the onsets detected in it and, for an edit, the range regenerated."""
        if cand.picture is None:
            if work.strip is None:
                from maskvat.media import decode_frames

                work.strip = decode_frames(work.video, STRIP_FRAMES / work.duration)
            path = cand.sound.with_suffix(".png")
            draw_candidate(path, cand.generation.wav, cand.generation.sample_rate, work.strip, cand.label,
                           cand.ranges, frame_spans_seconds(cand.generation.changed, cand.frame_seconds, cand.generation.duration)
                           if cand.ranges else [])
            cand.picture = path
        return cand.picture

    def export(self, work: Work, chosen, audio_format: str = "wav") -> tuple[Path, Path]:
        """(sound file, the clip with that sound muxed in) of the current take's candidate
        ``chosen``, in the session's folder, as ``maskvat generate`` writes them: the sound
        records its span; the copy keeps the clip's container where it can hold the video stream
        untouched plus the sound (else .mkv, .mov for GIF)."""
        from maskvat.media import mux_audio, muxed_suffix, write_audio
        from maskvat.pipeline.span import Span

        cand = work.candidate(chosen)
        if audio_format not in SOUND_FORMATS:
            raise MaskvatError(f"sound format {audio_format!r}: choose wav or flac")
        g = cand.generation
        stem = f"{work.video.stem}_take{cand.take}_c{cand.number}"
        folder = work.folder / "export"
        folder.mkdir(exist_ok=True)
        sound = folder / f"{stem}.{audio_format}"
        muxed = folder / f"{stem}_maskvat{muxed_suffix(work.video)}"
        write_audio(sound, g.wav, g.sample_rate, comment=Span(0.0, g.duration).tag())
        mux_audio(work.video, g.wav, g.sample_rate, muxed, start=0.0, comment=Span(0.0, g.duration, offset=0.0).tag())
        return sound, muxed

    def generate_all(self, videos, settings: Settings, model: str | None = None, audio_format: str = "wav",
                     on_each=None) -> list[tuple[str, Path | None, Path | None, str]]:
        """The queue: for each video, one candidate (``settings.seed``) written as a sound file and
        a muxed copy under OUT_DIR/queue-N/; rows (clip, sound, copy, problem). A video that fails
        is reported in its row and the others go on. ``on_each(i, n, name)`` before each."""
        from maskvat.media import mux_audio, muxed_suffix, write_audio
        from maskvat.pipeline.span import Span

        if audio_format not in SOUND_FORMATS:
            raise MaskvatError(f"sound format {audio_format!r}: choose wav or flac")
        videos = [Path(v) for v in videos or []]
        if not videos:
            raise MaskvatError("upload videos first")
        folder = Path(tempfile.mkdtemp(prefix="queue-", dir=self.out_dir))
        pipe = None
        rows = []
        for i, video in enumerate(videos):
            if on_each:
                on_each(i, len(videos), video.name)
            try:
                check_video(video)
                pipe = pipe or self.pipeline(model, settings.beams)
                g = pipe.generate(video, settings=settings.sampler(), seed=settings.seed, beams=settings.beams)
                sound = folder / f"{video.stem}.{audio_format}"
                muxed = folder / f"{video.stem}_maskvat{muxed_suffix(video)}"
                if sound.exists() or muxed.exists():
                    raise MaskvatError(f"{video.name}: another clip of the same name was already done in this run")
                write_audio(sound, g.wav, g.sample_rate, comment=Span(0.0, g.duration).tag())
                mux_audio(video, g.wav, g.sample_rate, muxed, start=0.0,
                          comment=Span(0.0, g.duration, offset=0.0).tag())
                rows.append((video.name, sound, muxed, ""))
            except MaskvatError as exc:
                rows.append((video.name, None, None, str(exc)))
        return rows


def take_seed(seed: int, take: int) -> int:
    """The seed take ``take`` samples with: ``seed`` for take 1, ``seed + take - 1`` after, so that
    redoing a range never draws the very tokens of the take it edits (with one seed, the same
    positions would get the same noise: a redo could sound exactly like the take)."""
    return seed + take - 1


def frame_spans_seconds(spans, frame_seconds: float, duration: float) -> list[tuple[float, float]]:
    """Codegram frame spans [(f0, f1), ...] -> seconds on the clip, cut to ``duration``."""
    return [(a * frame_seconds, min(b * frame_seconds, duration)) for a, b in spans]


def draw_candidate(path: Path, wav: np.ndarray, sample_rate: int, strip, title: str,
                   ranges: list[tuple[float, float]] = (), changed: list[tuple[float, float]] = ()) -> Path:
    """A PNG at ``path``: ``strip``'s frames (``maskvat.media.Frames``) above the mel spectrogram
    of ``wav``, the onsets detected in it (``maskvat.evaluation.alignment.onset_track``, the
    detector ``maskvat evaluate`` scores with) as white ticks, and the ``ranges`` regenerated
    shaded, with the span that may differ from the kept sound (``changed``) between dashed lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from maskvat.atomic import atomic_path
    from maskvat.evaluation.alignment import onset_track
    from maskvat.lab.sheet import display_mel_db

    duration = len(wav) / sample_rate
    onsets = onset_track(wav, sample_rate).onsets
    db, times = display_mel_db(np.asarray(wav, np.float32), sample_rate)
    frames = strip.frames if strip is not None else []
    n = max(1, len(frames))
    fig = plt.figure(figsize=(7.2, 3.6), dpi=100)
    grid = fig.add_gridspec(2, n, height_ratios=[1, 1.6], hspace=0.12, wspace=0.03)
    for i in range(len(frames)):
        ax = fig.add_subplot(grid[0, i])
        ax.imshow(frames[i])
        ax.set_title(f"{strip.source_times[i]:.1f} s", fontsize=7, pad=2)
        ax.axis("off")
    ax = fig.add_subplot(grid[1, :])
    top = float(db.max()) if db.size else 0.0
    ax.imshow(db, origin="lower", aspect="auto", cmap="magma", extent=[0, times[-1] if len(times) else duration,
                                                                         0, db.shape[0]],
              vmin=top - 80, vmax=top)
    for j, (a, b) in enumerate(ranges):
        ax.axvspan(a, b, color="#5fd3ff", alpha=0.22, lw=0, label="regenerated" if j == 0 else None)
    for j, (a, b) in enumerate(changed):
        for t in (a, b):
            ax.axvline(t, color="#5fd3ff", ls="--", lw=1, label="may differ from the kept take" if j == 0 and t == a
                       else None)
    for j, t in enumerate(onsets):
        ax.axvline(t, ymin=0.88, ymax=1.0, color="white", lw=2, label="detected onset" if j == 0 else None)
    ax.set_xlim(0, duration)
    ax.set_yticks([])
    ax.set_xlabel("time (s)", fontsize=8)
    ax.tick_params(labelsize=7)
    if len(onsets) or ranges:
        ax.legend(loc="lower right", fontsize=6.5, ncol=3, framealpha=0.6)
    fig.suptitle(f"{title}: {len(onsets)} onset{'s' if len(onsets) != 1 else ''}", fontsize=9, y=0.99)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", bbox_inches="tight")
    plt.close(fig)
    return path
