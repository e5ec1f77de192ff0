"""Sound-class accuracy: which lab sound classes does a piece of audio contain?

A small classifier over the lab log-mel (64 bands at 25 frames/s), trained on the lab's
*true* audio with the truth's class sets as multi-label targets (12 classes, ``lab.vocab``).
On generated audio, a clip counts as right when the set of classes the classifier hears
(sigmoid > 0.5) equals the set the truth lists: the "class accuracy" of ``maskvat evaluate``.

    maskvat lab classifier --lab runs/lab --out runs/sound_classifier   # train (``maskvat.train.sound_classifier``)
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields

import numpy as np
import torch
from torch import nn

from maskvat.errors import MaskvatError
from maskvat.lab.vocab import SOUND_CLASSES
from maskvat.weights import load_module, resolve, save_module


@dataclass(frozen=True)
class ClassifierConfig:
    n_classes: int = len(SOUND_CLASSES)
    n_mels: int = 64
    hidden: int = 96


class SoundClassifier(nn.Module):
    """log-mel [B, N, 64] -> class logits [B, n_classes] (conv over time, max over time)."""

    def __init__(self, config: ClassifierConfig = ClassifierConfig()):
        super().__init__()
        self.config = config
        h = config.hidden
        self.net = nn.Sequential(
            nn.Conv1d(config.n_mels, h, 3, padding=1), nn.GELU(),
            nn.Conv1d(h, h, 3, padding=2, dilation=2), nn.GELU(),
            nn.Conv1d(h, h, 3, padding=4, dilation=4), nn.GELU(),
        )
        self.head = nn.Linear(h, config.n_classes)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        x = (mel.transpose(1, 2) + 5.0) / 5.0  # rough centring of log-mel values
        return self.head(self.net(x).amax(-1))

    @torch.no_grad()
    def predict_sets(self, mel: torch.Tensor) -> list[set[int]]:
        return [set(torch.nonzero(row > 0).flatten().tolist()) for row in self(mel)]

    def save_pretrained(self, folder: str | os.PathLike) -> None:
        save_module(folder, self, "sound_classifier", {"classes": list(SOUND_CLASSES), **asdict(self.config)})

    @classmethod
    def from_pretrained(cls, folder: str | os.PathLike) -> "SoundClassifier":
        meta, state = load_module(folder, "sound_classifier", "a sound-classifier folder")
        if meta.get("classes") != list(SOUND_CLASSES)[: len(meta.get("classes", []))]:
            raise MaskvatError(f"{folder}: trained on another class list than this version's lab")
        model = cls(ClassifierConfig(**{k: v for k, v in meta.items() if k in {f.name for f in fields(ClassifierConfig)}}))
        model.load_state_dict(state)
        return model.eval()


def class_set(truth) -> set[int]:
    """The class ids a lab truth lists (events of every family that makes sound)."""
    return {e.class_id for e in truth.events if e.class_id >= 0}


def set_accuracy(predicted: list[set[int]], truth: list[set[int]]) -> float:
    """Share of clips whose predicted class set equals the true one."""
    if len(predicted) != len(truth) or not truth:
        raise ValueError("need as many predictions as truths, and at least one")
    return float(np.mean([p == t for p, t in zip(predicted, truth)]))


def load_classifier(source: str | os.PathLike) -> SoundClassifier:
    """The classifier at ``source``: "lab" (shipped) or a folder."""
    return SoundClassifier.from_pretrained(resolve(source, "sound_classifier"))
