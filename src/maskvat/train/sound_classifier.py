"""Training the lab sound-class classifier (``maskvat lab classifier``): multi-label targets
from the truth's class sets, trained on the true audio (and its codec round trip).
The classifier itself and the accuracy it measures are in ``maskvat.evaluation.sound_class``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from torch import nn

from maskvat.encoders.lab import LogMelAudioEncoder
from maskvat.errors import MaskvatError
from maskvat.evaluation.sound_class import SoundClassifier, class_set, set_accuracy
from maskvat.lab.round_trip import codec_round_trips
from maskvat.lab.truth import load_truth
from maskvat.lab.vocab import SOUND_CLASSES
from maskvat.media import read_audio


def class_targets(sets: list[set[int]], n_classes: int = len(SOUND_CLASSES)) -> torch.Tensor:
    """Multi-hot [N, n_classes] of class-id sets."""
    y = torch.zeros(len(sets), n_classes)
    for i, s in enumerate(sets):
        y[i, sorted(s)] = 1.0
    return y


def split_features(split: str | os.PathLike, progress: bool = True) -> tuple[torch.Tensor, list[set[int]]]:
    """Log-mel [N, Na, 64] of every clip's true audio in a lab split, and their class sets."""
    from tqdm import tqdm

    split = Path(split)
    manifest = split / "manifest.json"
    if not manifest.is_file():
        raise MaskvatError(f"{split}: not a lab split (no manifest.json)")
    clips = json.loads(manifest.read_text())["clips"]
    enc = LogMelAudioEncoder()
    mels, sets = [], []
    for c in tqdm(clips, desc=f"log-mel {split.name}", unit="clip", disable=not progress):
        mels.append(enc.encode_audio(read_audio(split / c["video"])[None])[0])
        sets.append(class_set(load_truth(split / c["truth"])))
    return torch.stack(mels), sets


def augment(mel: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Training-time jitter of log-mel [B, N, 64] (natural log of power): gain +-2.6 dB per clip, a circular shift of up to
    +-0.8 s (class presence does not depend on when): trained on true audio alone, it reached
    set accuracy 0.965 on the lab validation split (BENCHMARKS.md)."""
    gain = (torch.rand(len(mel), 1, 1, generator=gen) - 0.5) * 1.2  # +-0.6 in ln(power)
    return torch.roll(mel + gain, int(torch.randint(-20, 21, (1,), generator=gen)), 1)


def codec_round_trip_features(split: str | os.PathLike, codec: str, progress: bool = True,
                               limit: int | None = None) -> torch.Tensor:
    """Log-mel [N, Na, 64] of the first ``limit`` clips (default all) of a lab split after a trip
    through ``codec`` (``maskvat.lab.round_trip``)."""

    return codec_round_trips(split, codec, LogMelAudioEncoder().encode_audio, progress, limit)


def train_classifier(lab: str | os.PathLike, out: str | os.PathLike, *, steps: int = 1200, batch: int = 64,
                     lr: float = 2e-3, weight_decay: float = 1e-2, codec: str | None = None,
                     codec_clips: int = 600, seed: int = 0, progress: bool = True) -> dict:
    """Train on LAB/train, report set accuracy on LAB/val (and LAB/test if present); save to OUT.

    ``codec``: also train on every clip after a trip through this codec, so that the classifier
    hears classes, not the codec's timbre (generated sound always comes through a codec);
    ``codec_clips``: how many training clips to round-trip (decoding is the slow part)."""
    from tqdm import tqdm

    lab = Path(lab)
    x_train, s_train = split_features(lab / "train", progress)
    if codec is not None:
        x_train = torch.cat([x_train, codec_round_trip_features(lab / "train", codec, progress, codec_clips)])
        s_train = s_train + s_train[:codec_clips]
    y_train = class_targets(s_train)
    torch.manual_seed(seed)
    model = SoundClassifier()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    gen = torch.Generator().manual_seed(seed)
    loss_fn = nn.BCEWithLogitsLoss()
    for _ in tqdm(range(steps), desc="classifier", unit="step", disable=not progress):
        idx = torch.randint(len(x_train), (batch,), generator=gen)
        loss = loss_fn(model(augment(x_train[idx], gen)), y_train[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    report = {"train_clips": len(s_train), "steps": steps, "final_loss": float(loss.detach())}
    if codec is not None:
        report["codec"] = codec
    for name in ("val", "test"):
        if (lab / name / "manifest.json").is_file():
            x, s = split_features(lab / name, progress)
            report[f"{name}_set_accuracy"] = set_accuracy(model.predict_sets(x), s)
            report[f"{name}_clips"] = len(s)
            if codec is not None and name == "val":
                rt = codec_round_trip_features(lab / name, codec, progress)
                report[f"{name}_set_accuracy_codec_round_trip"] = set_accuracy(model.predict_sets(rt), s)
    model.save_pretrained(out)
    Path(out, "report.json").write_text(json.dumps(report, indent=1))
    return report
