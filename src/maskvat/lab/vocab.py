"""The lab's fixed vocabulary: families and sound classes.

Class ids are positions in ``SOUND_CLASSES`` and never change meaning: append, never
reorder (the class-accuracy metric and trained classifiers depend on them).
"""

from __future__ import annotations

FAMILIES = ("impact", "percussion", "pitched", "continuous", "distractor")

SOUND_CLASSES = (
    "impact/metal",
    "impact/wood",
    "impact/glass",
    "impact/rubber",
    "percussion/kick",
    "percussion/snare",
    "percussion/hihat",
    "percussion/tom",
    "percussion/cymbal",
    "pitched/xylophone",
    "continuous/fan",
    "continuous/tap",
)

MATERIALS = ("metal", "wood", "glass", "rubber")
DRUMS = ("kick", "snare", "hihat", "tom", "cymbal")
# Xylophone bars left to right: a C major scale from C5 (MIDI 72) up one octave.
BAR_PITCHES = (72, 74, 76, 77, 79, 81, 83, 84)


def class_id(name: str) -> int:
    """Stable integer id of a sound class name such as ``"percussion/snare"``."""
    return SOUND_CLASSES.index(name)
