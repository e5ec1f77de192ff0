"""Training the sync judge on a lab build: resumable, logged, with curves.

OUT/checkpoint.pt   model + optimiser + step (written atomically; resumed automatically)
OUT/log.csv         step, loss, and each evaluation's accuracies
OUT/curves.png      training loss and validation accuracy
OUT/sync_judge/     the trained judge (config.json + model.safetensors, fp16)
Batches are drawn from a generator seeded by (seed, step): a resumed run sees exactly the
batches the uninterrupted run would have.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from maskvat.encoders.lab_data import (
    LabClips,
    OffsetGrid,
    load_lab_split,
    sample_sync_batch,
)
from maskvat.encoders.run_loop import LoopConfig, run_loop
from maskvat.encoders.sync import SyncConfig, SyncJudge
from maskvat.runlog import plot_curves


@dataclass
class SyncTrainConfig(LoopConfig):
    batch: int = 32
    eval_windows: int = 630  # 30 per offset class


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


def train_sync(lab_dir: str | os.PathLike, out_dir: str | os.PathLike, cfg: SyncTrainConfig | None = None,
               model_cfg: SyncConfig | None = None, *, progress: bool = True, clips: tuple | None = None) -> dict:
    """Train (or resume) the sync judge on LAB/train, evaluating on LAB/val; returns the last evaluation."""
    cfg, model_cfg = cfg or SyncTrainConfig(), model_cfg or SyncConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    train, val = clips or (load_lab_split(Path(lab_dir) / s, size=model_cfg.size, progress=progress) for s in ("train", "val"))
    torch.manual_seed(cfg.seed)
    model = SyncJudge(model_cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    val_windows = fixed_windows(val, model.grid, cfg.eval_windows, seed=1234)

    def step_loss(step: int) -> torch.Tensor:
        video, mel, cls = sample_sync_batch(train, model.grid, cfg.batch, np.random.default_rng([cfg.seed, step]))
        return F.cross_entropy(model(video, mel), cls)

    log = run_loop(out, model, opt, cfg, model_cfg, step_loss, lambda: evaluate(model, val_windows),
                   desc="sync judge", show="acc", progress=progress)
    plot_curves(log, out / "curves.png", loss_key="loss", loss_label="cross-entropy", loss_title="training loss",
                series=[("acc", "exact offset"), ("acc_within_1", "within one class")], series_label="accuracy",
                series_title="validation (lab val split)", ylim=(0, 1))
    save_judge(model, out / "sync_judge")
    return next((r for r in reversed(log) if "acc" in r), {})


def save_judge(model: SyncJudge, folder: Path) -> None:
    """config.json + model.safetensors (fp16 weights; BatchNorm counters dropped)."""
    from maskvat.weights import save_module

    save_module(folder, model, "sync_judge", model.config_dict())


def load_judge(folder: str | os.PathLike) -> SyncJudge:
    from maskvat.weights import load_module

    meta, state = load_module(folder, "sync_judge", "a saved sync judge")
    model = SyncJudge(SyncConfig(**meta))
    model.load_state_dict(state, strict=False)
    return model.eval()
