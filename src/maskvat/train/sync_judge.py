"""Training the sync judge on a lab build: resumable, logged, with curves.

OUT/checkpoint.pt   model + optimiser + step (written atomically; resumed automatically)
OUT/log.csv         step, loss, and each evaluation's accuracies
OUT/curves.png      training loss and validation accuracy
OUT/sync_judge/     the trained judge (config.json + model.safetensors, fp16)
With ``level_loss`` > 0, linear probes on each tower's (normalised) per-frame features are
trained to read the lab's truth: each frame's fan speed and tap flow, and their change over
``LEVEL_SPAN`` frames either side. That pushes both towers to encode a glide, which is what
pins the offset where a fan or tap hums through a window. The probes exist only in training:
the saved judge reads video and audio, never the truth.
Batches are drawn from a generator seeded by (seed, step): a resumed run sees exactly the
batches the uninterrupted run would have.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from maskvat.data.lab_clips import LabClips, load_lab_split, sample_sync_batch
from maskvat.encoders.sync import (
    OffsetGrid,
    SyncConfig,
    SyncJudge,
    load_judge,
    save_judge,
)
from maskvat.errors import MaskvatError
from maskvat.train.augment import augment_windows
from maskvat.train.loop import LoopConfig, Trainer
from maskvat.train.runlog import plot_curves
from maskvat.weights import resolve

LEVEL_SPAN = 5  # frames either side for the level-change targets (0.2 s at 25 fps)


@dataclass
class SyncTrainConfig(LoopConfig):
    """The sync judge's training (``maskvat encoders train --what sync``); ``model``: its SyncConfig."""

    steps: int = 1500
    lr: float = 2e-3
    lr_end: float = 1e-4
    warmup: int = 100
    weight_decay: float = 1e-4
    batch: int = 32
    eval_windows: int = 630  # 30 per offset class
    level_loss: float = 0.0  # weight of the level probes' loss (0: offsets only)
    init_from: str | None = None  # start from these weights ("lab": the shipped judge, or a folder) instead of random
    augment: bool | dict = False  # change each training window at random (train.augment.Augment: true, or its fields)
    model: dict = field(default_factory=lambda: asdict(SyncConfig()))


def level_targets(levels: np.ndarray, idx: np.ndarray, start: np.ndarray, window: int) -> torch.Tensor:
    """levels [C, 2, F] (``LabClips.levels``) -> targets [B, window, 4] for windows of clips
    ``idx`` starting at frames ``start``: each frame's fan and tap level, then each one's change
    from LEVEL_SPAN frames before to LEVEL_SPAN frames after (clamped at the clip's ends)."""
    n = levels.shape[-1]
    t = start[:, None] + np.arange(window)[None]  # [B, window]
    later, earlier = np.minimum(t + LEVEL_SPAN, n - 1), np.maximum(t - LEVEL_SPAN, 0)
    rows = levels[idx]  # [B, 2, F]
    take = lambda frames: np.take_along_axis(rows, frames[:, None, :], axis=2)  # noqa: E731
    out = np.concatenate([take(t), take(later) - take(earlier)], axis=1)  # [B, 4, window]
    return torch.from_numpy(out.transpose(0, 2, 1).astype(np.float32))


class LevelProbes(nn.Module):
    """Linear read-outs of ``level_targets`` from each tower's normalised features [B, F, D]."""

    def __init__(self, dim: int):
        super().__init__()
        self.video, self.audio = nn.Linear(dim, 4), nn.Linear(dim, 4)

    def loss(self, v: torch.Tensor, a: torch.Tensor, v_target: torch.Tensor, a_target: torch.Tensor) -> torch.Tensor:
        return (F.mse_loss(self.video(F.normalize(v, dim=-1)), v_target)
                + F.mse_loss(self.audio(F.normalize(a, dim=-1)), a_target))


def fixed_windows(clips: LabClips, grid: OffsetGrid, n: int, seed: int, return_index: bool = False):
    """A deterministic evaluation set: n windows, the offset classes in equal numbers."""
    classes = np.arange(n) % grid.n_classes
    return sample_sync_batch(clips, grid, n, np.random.default_rng(seed), classes=classes, return_index=return_index)


@torch.no_grad()
def predict_classes(model: SyncJudge, video, mel, batch: int = 105) -> torch.Tensor:
    """Offset class per window: [N]."""
    model.eval()
    return torch.cat([model(video[i : i + batch], mel[i : i + batch]).argmax(-1) for i in range(0, len(video), batch)])


def evaluate(model: SyncJudge, windows) -> dict:
    """Exact and within-one-class accuracy; mean |predicted offset| (s) on the true pairs."""
    video, mel, cls = windows[:3]
    pred = predict_classes(model, video, mel)
    grid = model.grid
    true_pairs = cls == grid.half
    return {
        "acc": (pred == cls).float().mean().item(),
        "acc_within_1": ((pred - cls).abs() <= 1).float().mean().item(),
        "true_pair_mean_abs_offset_s": ((pred[true_pairs] - grid.half).abs().float() * grid.step_s).mean().item(),
        "n_windows": int(len(cls)),
    }


class SyncJudgeTrainer(Trainer):
    """Offsets classified on lab windows (LAB/train), validated on fixed LAB/val windows."""

    desc, show, loss_label = "sync judge", "acc", "cross-entropy"
    val_title = "validation (lab val split)"  # the curves' right panel (``maskvat fit``: the val files)

    def __init__(self, cfg: SyncTrainConfig, out, lab_dir=None, *, clips: tuple | None = None, progress: bool = True):
        super().__init__(cfg, out, progress=progress)
        self.lab_dir, self.clips = lab_dir, clips

    def build(self) -> nn.Module:
        cfg = self.cfg
        model_cfg = SyncConfig(**cfg.model)
        self.train_clips, val = self.clips or (load_lab_split(Path(self.lab_dir) / s, size=model_cfg.size,
                                                              progress=self.progress) for s in ("train", "val"))
        torch.manual_seed(cfg.seed)
        self.judge = SyncJudge(model_cfg)
        if cfg.init_from:
            start = load_judge(resolve(cfg.init_from, "sync_judge"))
            if not isinstance(start, SyncJudge) or start.cfg != model_cfg:
                raise MaskvatError(f"sync init_from {cfg.init_from}: not a single judge of this run's model {cfg.model}")
            self.judge.load_state_dict(start.state_dict())
        self.val_windows = fixed_windows(val, self.judge.grid, cfg.eval_windows, seed=1234)
        if cfg.level_loss <= 0:
            return self.judge
        if self.train_clips.levels is None:
            raise MaskvatError("sync judge: --level-loss needs the clips' levels (lab truth); these clips have none")
        return nn.ModuleDict({"judge": self.judge, "probes": LevelProbes(model_cfg.dim)})  # checkpointed together

    def batch(self, step: int) -> dict:
        rng = np.random.default_rng([self.cfg.seed, step])
        video, mel, cls, idx, start = sample_sync_batch(self.train_clips, self.judge.grid, self.cfg.batch, rng,
                                                        return_index=True)
        video, mel = augment_windows(video, mel, self.cfg.augment, self.cfg.seed, step)
        out = {"video": video, "mel": mel, "cls": cls}
        if self.cfg.level_loss > 0:
            grid = self.judge.grid
            audio_start = start + grid.shift_frames(cls.numpy())
            out["v_target"] = level_targets(self.train_clips.levels, idx, start, grid.window_frames)
            out["a_target"] = level_targets(self.train_clips.levels, idx, audio_start, grid.window_frames)
        return out

    def loss(self, module: nn.Module, batch: dict):
        judge = module["judge"] if isinstance(module, nn.ModuleDict) else module
        v, a = judge.video(batch["video"]), judge.audio(batch["mel"])
        loss = F.cross_entropy(judge.logits_from(v, a), batch["cls"])
        if isinstance(module, nn.ModuleDict):
            probes = module["probes"].loss(v, a, batch["v_target"], batch["a_target"])
            return loss + self.cfg.level_loss * probes, {"level": probes.detach()}
        return loss, {}

    def validate(self) -> dict:
        return evaluate(self.judge, self.val_windows)

    def plot(self, log: list[dict], path: Path) -> None:
        plot_curves(log, path, loss_key="loss", loss_label="cross-entropy", loss_title="training loss",
                    series=[("acc", "exact offset"), ("acc_within_1", "within one class")], series_label="accuracy",
                    series_title=self.val_title, ylim=(0, 1))

    def finish(self) -> None:
        save_judge(self.judge, self.out / "sync_judge")


def train_sync(lab_dir: str | os.PathLike, out_dir: str | os.PathLike, cfg: SyncTrainConfig | None = None,
               model_cfg: SyncConfig | None = None, *, progress: bool = True, clips: tuple | None = None) -> dict:
    """Train (or resume) the sync judge on LAB/train, evaluating on LAB/val; returns the last
    evaluation. ``model_cfg`` overrides ``cfg.model``."""
    cfg = cfg or SyncTrainConfig()
    if model_cfg is not None:
        cfg = replace(cfg, model=asdict(model_cfg))
    return SyncJudgeTrainer(cfg, out_dir, lab_dir, clips=clips, progress=progress).run(device="cpu")
