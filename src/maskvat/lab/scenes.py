"""Scene families: what happens on screen, frame by frame, and the events it causes.

A source lives in a screen region, simulates itself on the video's frame grid, draws
frame k, and makes the sound its events imply. Every event is caused by something
visible on its frame: the ball touches the floor, the stick touches the pad, the mallet
touches the bar, the fan or tap switches on or off.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from maskvat.lab import draw
from maskvat.lab.sounds import synth_fan, synth_tap
from maskvat.lab.truth import Event, make_event
from maskvat.lab.vocab import BAR_PITCHES, DRUMS, MATERIALS

BACKGROUND = (28, 30, 38)
FLOOR_COLOR = (90, 90, 96)
MATERIAL_COLORS = {"metal": (150, 152, 165), "wood": (140, 88, 40), "glass": (170, 232, 242), "rubber": (200, 36, 40)}
RESTITUTION = {"metal": 0.55, "wood": 0.45, "glass": 0.5, "rubber": 0.78}
DRUM_LOOKS = {  # colour, shape (rx, ry), height of the pad's top above the floor
    "kick": ((120, 30, 40), (13, 13), 26),
    "snare": ((225, 225, 215), (10, 6), 30),
    "hihat": ((215, 180, 60), (11, 3), 48),
    "tom": ((50, 90, 200), (10, 8), 34),
    "cymbal": ((240, 205, 80), (14, 3), 56),
}
BAR_COLORS = [tuple(int(c) for c in rgb) for rgb in (
    (230, 60, 60), (235, 140, 50), (230, 210, 60), (120, 200, 70),
    (60, 190, 170), (60, 130, 230), (120, 80, 220), (200, 70, 200))]


@dataclass
class Frame:
    """The clip's grid: frame rate, size, sample rate, number of frames."""

    fps: float
    width: int
    height: int
    sample_rate: int
    n_frames: int

    @property
    def floor(self) -> int:
        return self.height - 14

    @property
    def n_samples(self) -> int:
        return int(round(self.n_frames / self.fps * self.sample_rate))


@dataclass
class Source:
    """Base: a source in the region [x0, x0 + width) of the frame."""

    index: int
    x0: int
    width: int
    grid: Frame
    events: list[Event] = field(default_factory=list)
    family: ClassVar[str] = ""  # set by each family's class
    sound_class: ClassVar[str] = ""  # the source's class; instances may refine it

    def describe(self) -> dict:
        return {"family": self.family, "class": self.sound_class, "box": [self.x0, 0, self.x0 + self.width, self.grid.height]}

    def draw(self, canvas: np.ndarray, k: int) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def audio(self, bank, rng: np.random.Generator) -> tuple[np.ndarray, list[dict]]:
        """Mix of this source's one-shot sounds at their events: ([T] float32, samples used)."""
        out = np.zeros(self.grid.n_samples, np.float32)
        used = []
        for e in self.events:
            if e.kind != "onset":
                continue
            wav, info = bank.one_shot(e.sound_class, rng, pitch=e.pitch)
            gain = 0.25 + 0.75 * e.strength
            end = min(len(out), e.sample + len(wav))
            out[e.sample : end] += gain * wav[: end - e.sample]
            used.append(info)
        return out, used

    def _event(self, k: int, sound_class: str, strength: float, pitch=None, kind="onset") -> None:
        g = self.grid
        self.events.append(make_event(k, g.fps, g.sample_rate, sound_class, self.index, strength, pitch, kind))


def _hit_frames(rng, grid: Frame, min_gap_s: float, rate_hz: float, first_s: float = 0.2) -> list[int]:
    """Frames of hits: a Poisson-like train with a minimum gap and one silent stretch."""
    gap = max(2, int(math.ceil(min_gap_s * grid.fps)))
    duration = grid.n_frames / grid.fps
    pause_start = rng.uniform(0, duration)
    pause_end = pause_start + rng.uniform(0.4, 1.2)
    frames, t = [], first_s + rng.exponential(1 / rate_hz)
    while True:
        k = int(round(t * grid.fps))
        if k >= grid.n_frames - 3:
            return frames
        if not (pause_start <= t < pause_end) and (not frames or k - frames[-1] >= gap):
            frames.append(k)
        t += max(min_gap_s, rng.exponential(1 / rate_hz))


class Impact(Source):
    """A ball of a visible material drops, bounces and rests; each floor contact is an event."""

    family = "impact"

    def __init__(self, index, x0, width, grid, rng):
        super().__init__(index, x0, width, grid)
        self.material = MATERIALS[rng.integers(len(MATERIALS))]
        self.sound_class = f"impact/{self.material}"
        self.radius = float(rng.uniform(5.5, 8.0))
        self.cx = x0 + width / 2 + rng.uniform(-8, 8)
        self.y = np.full(grid.n_frames, np.nan)  # ball centre per frame; nan = not on screen
        self._simulate(rng)

    def _simulate(self, rng) -> None:
        g = self.grid
        dt, gravity, floor_y = 1.0 / g.fps, 900.0, g.floor - self.radius
        e = RESTITUTION[self.material]
        k = int(rng.uniform(0.1, 0.8) * g.fps)
        while k < g.n_frames - 4:
            y, v = floor_y - rng.uniform(35, 80), 0.0
            while k < g.n_frames:
                v_next = v + gravity * dt
                y_next = y + v * dt + 0.5 * gravity * dt * dt
                if y_next >= floor_y:  # reaches the floor during this frame: show the contact on it
                    y, speed = floor_y, v_next
                    self.y[k] = y
                    self._event(k, self.sound_class, min(1.0, speed / 420.0))
                    v = -e * speed
                    k += 1
                    if abs(v) < 90:  # comes to rest
                        break
                    continue
                y, v = y_next, v_next
                self.y[k] = y
                k += 1
            rest = int(rng.uniform(0.3, 1.0) * g.fps)
            self.y[k : k + rest] = floor_y
            k += rest + int(rng.uniform(0.0, 0.4) * g.fps)  # lifted away, then dropped again

    def describe(self) -> dict:
        return {**super().describe(), "material": self.material, "radius": round(self.radius, 2)}

    def draw(self, canvas, k) -> None:
        draw.rect(canvas, self.x0 + 2, self.grid.floor, self.x0 + self.width - 2, self.grid.floor + 3, FLOOR_COLOR)
        if np.isnan(self.y[k]):
            return
        cx, cy, r = self.cx, self.y[k], self.radius
        mask = draw.disc(canvas, cx, cy, r, MATERIAL_COLORS[self.material])
        if self.material == "metal":
            draw.disc(canvas, cx - r / 3, cy - r / 3, r / 3, (250, 250, 255))
        elif self.material == "wood":
            stripes = mask & ((np.arange(canvas.shape[0])[:, None] // 2) % 2 == 0)
            canvas[stripes] = (100, 60, 25)
        elif self.material == "glass":
            draw.disc(canvas, cx, cy, r * 0.55, (120, 190, 215))


class Percussion(Source):
    """A stick strikes one of two visibly different drums; the stick touches the pad on the hit frame."""

    family = "percussion"

    def __init__(self, index, x0, width, grid, rng):
        super().__init__(index, x0, width, grid)
        self.drums = [DRUMS[i] for i in rng.choice(len(DRUMS), size=2, replace=False)]
        self.sound_class = "percussion/" + "+".join(self.drums)
        self.pad_x = [x0 + width * 0.27, x0 + width * 0.73]
        self.hits = [(k, int(rng.integers(2)), float(rng.uniform(0.35, 1.0)))
                     for k in _hit_frames(rng, grid, 0.28, 2.2)]
        for k, pad, strength in self.hits:
            self._event(k, f"percussion/{self.drums[pad]}", strength)

    def describe(self) -> dict:
        return {**super().describe(), "drums": self.drums}

    def _pad_top(self, pad: int) -> float:
        return self.grid.floor - DRUM_LOOKS[self.drums[pad]][2]

    def _stick_tip(self, k: int) -> tuple[float, float]:
        """Tip position: on the pad at a hit frame, lifted (by the stroke's strength) around it."""
        upcoming = [h for h in self.hits if h[0] >= k - 2]
        k_hit, pad, strength = upcoming[0] if upcoming else self.hits[-1] if self.hits else (-99, 0, 0.5)
        lift = 10 + 22 * strength
        d = k - k_hit
        height = {0: 0.0, -1: 0.45, 1: 0.45, -2: 0.8, 2: 0.8}.get(d, 1.0) * lift
        return self.pad_x[pad], self._pad_top(pad) - 1 - height

    def draw(self, canvas, k) -> None:
        floor = self.grid.floor
        draw.rect(canvas, self.x0 + 2, floor, self.x0 + self.width - 2, floor + 3, FLOOR_COLOR)
        for pad, drum in enumerate(self.drums):
            color, (rx, ry), height = DRUM_LOOKS[drum]
            x, top = self.pad_x[pad], floor - height
            draw.rect(canvas, x - 1, top, x + 1, floor, (110, 110, 110))  # stand
            hit_now = any(h[0] == k and h[1] == pad for h in self.hits)
            draw.ellipse(canvas, x, top + ry, rx, ry, tuple(min(255, c + 50) for c in color) if hit_now else color)
        tx, ty = self._stick_tip(k)
        draw.segment(canvas, tx + 14, ty - 16, tx, ty, 2.5, (205, 160, 100))


class Pitched(Source):
    """A xylophone: the struck bar's position (and colour) sets the pitch."""

    family = "pitched"

    def __init__(self, index, x0, width, grid, rng):
        super().__init__(index, x0, width, grid)
        self.sound_class = "pitched/xylophone"
        self.bar_w = (width - 8) / len(BAR_PITCHES)
        melody = np.clip(np.cumsum(rng.integers(-2, 3, size=64)) + rng.integers(len(BAR_PITCHES)), 0, len(BAR_PITCHES) - 1)
        self.hits = [(k, int(melody[i]), float(rng.uniform(0.4, 1.0)))
                     for i, k in enumerate(_hit_frames(rng, grid, 0.2, 2.5))]
        for k, bar, strength in self.hits:
            self._event(k, self.sound_class, strength, pitch=BAR_PITCHES[bar])

    def _bar_box(self, bar: int) -> tuple[float, float, float, float]:
        x = self.x0 + 4 + bar * self.bar_w
        length = 40 - 2.2 * bar  # higher notes, shorter bars
        bottom = self.grid.floor - 8
        return x + 0.5, bottom - length, x + self.bar_w - 0.5, bottom

    def draw(self, canvas, k) -> None:
        struck = next((h for h in self.hits if h[0] == k), None)
        for bar, color in enumerate(BAR_COLORS[: len(BAR_PITCHES)]):
            x0, y0, x1, y1 = self._bar_box(bar)
            lit = struck is not None and struck[1] == bar
            draw.rect(canvas, x0, y0, x1, y1, tuple(min(255, c + 70) for c in color) if lit else color)
        upcoming = [h for h in self.hits if h[0] >= k - 1]
        if not upcoming:
            return
        k_hit, bar, strength = upcoming[0]
        x0, y0, x1, _ = self._bar_box(bar)
        height = {0: 0.0, -1: 0.5, 1: 0.5}.get(k - k_hit, 1.0) * (8 + 16 * strength)
        mx, my = (x0 + x1) / 2, y0 - 3 - height
        draw.segment(canvas, mx, my, mx + 10, my - 14, 1.5, (200, 200, 200))
        draw.disc(canvas, mx, my, 3, (245, 245, 245))


class Continuous(Source):
    """A fan (speed -> pitch) or a tap (flow -> loudness) switched on and off on screen."""

    family = "continuous"

    def __init__(self, index, x0, width, grid, rng):
        super().__init__(index, x0, width, grid)
        self.kind = ("fan", "tap")[rng.integers(2)]
        self.sound_class = f"continuous/{self.kind}"
        n = grid.n_frames
        duration = n / grid.fps
        t_on = rng.uniform(0.1, 0.4) * duration
        t_off = duration if rng.random() < 0.3 else rng.uniform(t_on + 0.25 * duration, duration - 0.1)
        self.k_on = int(t_on * grid.fps)
        self.k_off = min(n, int(round(t_off * grid.fps)))
        levels = rng.uniform(0.35, 1.0, size=2)
        k_change = int(rng.uniform(self.k_on, self.k_off))
        # The visible quantity per frame (speed or flow), 0 when off; on at once, then it
        # glides from one level to another over ~0.6 s (a step would sound like a new onset).
        k = np.arange(n)
        glide = np.clip((k - k_change) / (0.6 * grid.fps), 0.0, 1.0)
        self.level = np.where((k >= self.k_on) & (k < self.k_off), levels[0] + (levels[1] - levels[0]) * glide, 0.0)
        self._event(self.k_on, self.sound_class, float(levels[0]))
        if self.k_off < n:
            self._event(self.k_off, self.sound_class, 0.0, kind="offset")
        self.angle = np.cumsum(self.level * 0.55)  # fan blade angle per frame (< 60 deg/frame)

    def describe(self) -> dict:
        return {**super().describe(), "kind": self.kind, "level_per_frame": [round(float(v), 3) for v in self.level]}

    def audio(self, bank, rng) -> tuple[np.ndarray, list[dict]]:
        g = self.grid
        # The level glides smoothly between frames (held per frame, its steps would click);
        # the switch on and off are sharp, with 5 ms ramps.
        t = np.arange(g.n_samples) / g.sample_rate
        k = np.arange(g.n_frames)
        inside = (k >= self.k_on) & (k < self.k_off)
        per_sample = np.interp(t, k[inside] / g.fps, self.level[inside])
        on = int(round(self.k_on / g.fps * g.sample_rate))
        off = int(round(self.k_off / g.fps * g.sample_rate)) if self.k_off < g.n_frames else g.n_samples
        ramp = int(0.005 * g.sample_rate)
        gate = np.zeros(g.n_samples)
        gate[on:off] = 1.0
        gate[on : on + ramp] = np.linspace(0, 1, ramp)[: len(gate[on : on + ramp])]
        if off < g.n_samples:
            gate[max(on, off - ramp) : off] = np.linspace(1, 0, off - max(on, off - ramp))
        per_sample *= gate
        wav = synth_fan(per_sample, rng) if self.kind == "fan" else synth_tap(per_sample, rng)
        peak = np.abs(wav).max() or 1.0
        info = {"name": f"procedural:{self.sound_class}", "source": "maskvat procedural synthesis",
                "license": "Apache-2.0 (generated)"}
        return (0.45 * wav / peak).astype(np.float32), [info]

    def draw(self, canvas, k) -> None:
        cx = self.x0 + self.width / 2
        on = self.level[k] > 0
        if self.kind == "fan":
            cy = self.grid.height * 0.55
            draw.disc(canvas, cx, cy, 23, (70, 74, 84))
            draw.disc(canvas, cx, cy, 21, BACKGROUND)
            for b in range(3):
                a = self.angle[k] + b * 2 * math.pi / 3
                draw.segment(canvas, cx, cy, cx + 18 * math.cos(a), cy + 18 * math.sin(a), 6, (200, 200, 210))
            draw.disc(canvas, cx, cy, 3, (60, 60, 60))
            draw.disc(canvas, cx + 18, cy + 24, 3, (60, 220, 90) if on else (70, 40, 40))  # power light
        else:
            draw.rect(canvas, cx - 14, 24, cx + 4, 30, (160, 160, 170))  # pipe
            draw.rect(canvas, cx - 2, 30, cx + 4, 36, (160, 160, 170))  # spout
            draw.rect(canvas, cx - 16, self.grid.floor - 8, cx + 18, self.grid.floor, (120, 120, 130))  # basin
            if on:
                w = 1.0 + 7.0 * self.level[k]
                draw.rect(canvas, cx + 1 - w / 2, 36, cx + 1 + w / 2, self.grid.floor - 8, (80, 150, 240))


class Distractor(Source):
    """Visible motion that makes no sound: a shape sliding or bobbing."""

    family = "distractor"
    sound_class = ""

    def __init__(self, index, x0, width, grid, rng, strip: bool = False):
        super().__init__(index, x0, width, grid)
        self.strip = strip
        self.color = tuple(int(c) for c in rng.integers(60, 255, size=3))
        self.phase, self.speed = rng.uniform(0, 2 * math.pi), rng.uniform(1.0, 3.0)

    def describe(self) -> dict:
        return {**super().describe(), "motion": "slide" if self.strip else "bob"}

    def audio(self, bank, rng):
        return np.zeros(self.grid.n_samples, np.float32), []

    def draw(self, canvas, k) -> None:
        t = k / self.grid.fps
        if self.strip:  # a square sliding to and fro along the top
            x = self.x0 + (self.width - 12) * (0.5 + 0.5 * math.sin(self.phase + 0.8 * self.speed * t))
            draw.rect(canvas, x, 3, x + 10, 13, self.color)
        else:  # a disc bobbing up and down, never touching anything
            y = self.grid.height * 0.45 + 18 * math.sin(self.phase + self.speed * t)
            draw.disc(canvas, self.x0 + self.width / 2, y, 7, self.color)


SOUND_FAMILIES = {"impact": Impact, "percussion": Percussion, "pitched": Pitched, "continuous": Continuous}


def sample_sources(rng: np.random.Generator, grid: Frame) -> list[Source]:
    """One or two sound sources of different families in the two halves; maybe distractors."""
    half = grid.width // 2
    n_sound = 1 + int(rng.random() < 0.5)
    families = [list(SOUND_FAMILIES)[i] for i in rng.choice(len(SOUND_FAMILIES), size=n_sound, replace=False)]
    slots = rng.permutation(2)[:n_sound]
    sources: list[Source] = []
    for fam, slot in zip(families, slots):
        sources.append(SOUND_FAMILIES[fam](len(sources), int(slot) * half, half, grid, rng))
    if n_sound == 1 and rng.random() < 0.6:
        free = 1 - int(slots[0])
        sources.append(Distractor(len(sources), free * half, half, grid, rng))
    if rng.random() < 0.4:
        sources.append(Distractor(len(sources), 0, grid.width, grid, rng, strip=True))
    return sources
