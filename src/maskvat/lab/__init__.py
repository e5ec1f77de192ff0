"""The lab: procedural audio-visual clips whose sound events are known exactly.

Five scene families (impacts, percussion, pitched, continuous, distractors), real recorded
sounds where the machine has them (Debian packages) and synthesis otherwise, per-clip
JSON truth, an onset detector and scorer, and contact sheets.
"""

from maskvat.lab.build import build_split, clip_specs
from maskvat.lab.onsets import detect_onsets
from maskvat.lab.render import ClipSpec, render_clip
from maskvat.lab.score import score_dirs, score_onsets
from maskvat.lab.truth import ClipTruth, Event, load_truth
from maskvat.lab.vocab import FAMILIES, SOUND_CLASSES, class_id

__all__ = [
    "FAMILIES", "SOUND_CLASSES", "ClipSpec", "ClipTruth", "Event", "build_split", "class_id", "clip_specs",
    "detect_onsets", "load_truth", "render_clip", "score_dirs", "score_onsets",
]
