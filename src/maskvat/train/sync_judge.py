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
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from maskvat.data.lab_clips import (
    LabClips,
    OffsetGrid,
    load_lab_split,
    sample_sync_batch,
)
from maskvat.train.loop import LoopConfig, run_loop
from maskvat.encoders.sync import SyncConfig, SyncJudge, SyncJudgeEnsemble
from maskvat.errors import MaskvatError
from maskvat.train.runlog import plot_curves

LEVEL_SPAN = 5  # frames either side for the level-change targets (0.2 s at 25 fps)


@dataclass
class SyncTrainConfig(LoopConfig):
    batch: int = 32
    eval_windows: int = 630  # 30 per offset class
    level_loss: float = 0.0  # weight of the level probes' loss (0: offsets only)


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


def train_sync(lab_dir: str | os.PathLike, out_dir: str | os.PathLike, cfg: SyncTrainConfig | None = None,
               model_cfg: SyncConfig | None = None, *, progress: bool = True, clips: tuple | None = None) -> dict:
    """Train (or resume) the sync judge on LAB/train, evaluating on LAB/val; returns the last evaluation."""
    cfg, model_cfg = cfg or SyncTrainConfig(), model_cfg or SyncConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    train, val = clips or (load_lab_split(Path(lab_dir) / s, size=model_cfg.size, progress=progress) for s in ("train", "val"))
    torch.manual_seed(cfg.seed)
    model = SyncJudge(model_cfg)
    val_windows = fixed_windows(val, model.grid, cfg.eval_windows, seed=1234)

    probes, trained = None, model
    if cfg.level_loss > 0:
        if train.levels is None:
            raise MaskvatError("sync judge: --level-loss needs the clips' levels (lab truth); these clips have none")
        probes = LevelProbes(model_cfg.dim)
        trained = nn.ModuleDict({"judge": model, "probes": probes})  # checkpointed together
    opt = torch.optim.AdamW(trained.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)

    def step_loss(step: int) -> torch.Tensor:
        rng = np.random.default_rng([cfg.seed, step])
        video, mel, cls, idx, start = sample_sync_batch(train, model.grid, cfg.batch, rng, return_index=True)
        v, a = model.video(video), model.audio(mel)
        loss = F.cross_entropy(model.logits_from(v, a), cls)
        if probes is not None:
            w = model.grid.window_frames
            audio_start = start + model.grid.shift_frames(cls.numpy())
            targets = level_targets(train.levels, idx, start, w), level_targets(train.levels, idx, audio_start, w)
            loss = loss + cfg.level_loss * probes.loss(v, a, *targets)
        return loss

    log = run_loop(out, trained, opt, cfg, model_cfg, step_loss, lambda: evaluate(model, val_windows),
                   desc="sync judge", show="acc", progress=progress)
    plot_curves(log, out / "curves.png", loss_key="loss", loss_label="cross-entropy", loss_title="training loss",
                series=[("acc", "exact offset"), ("acc_within_1", "within one class")], series_label="accuracy",
                series_title="validation (lab val split)", ylim=(0, 1))
    save_judge(model, out / "sync_judge")
    return next((r for r in reversed(log) if "acc" in r), {})


def save_judge(model: SyncJudge | SyncJudgeEnsemble, folder: Path) -> None:
    """config.json + model.safetensors (fp16 weights; BatchNorm counters dropped). An ensemble
    is one folder too: its members' weights under ``members.<i>.``, their config once."""
    from maskvat.weights import save_module

    kind = "sync_judge_ensemble" if isinstance(model, SyncJudgeEnsemble) else "sync_judge"
    save_module(folder, model, kind, model.config_dict())


def load_judge(folder: str | os.PathLike) -> SyncJudge | SyncJudgeEnsemble:
    """A judge (or an ensemble of judges) saved by ``save_judge``, in eval mode."""
    from maskvat.weights import load_module

    meta, state = load_module(folder, ("sync_judge", "sync_judge_ensemble"), "a saved sync judge")
    n = meta.pop("members", None)  # only an ensemble's config counts its members
    model = SyncJudge(SyncConfig(**meta)) if n is None else SyncJudgeEnsemble([SyncJudge(SyncConfig(**meta)) for _ in range(n)])
    missing, unexpected = model.load_state_dict(state, strict=False)  # BatchNorm counters are not saved
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise MaskvatError(f"{folder}/model.safetensors does not match its config.json "
                           f"({len(missing)} weights missing, {len(unexpected)} unexpected)")
    return model.eval()


def combine_judges(folders: list[str | os.PathLike], out: str | os.PathLike) -> SyncJudgeEnsemble:
    """Saved judges of one config -> one ensemble folder ``out`` (``maskvat encoders combine``);
    ``out`` must not hold anything yet."""
    if Path(out).exists() and any(Path(out).iterdir()):
        raise MaskvatError(f"{out}: already exists and is not empty; combine into a new folder")
    members = []
    for folder in folders:
        judge = load_judge(folder)
        members.extend(judge.members if isinstance(judge, SyncJudgeEnsemble) else [judge])
    ensemble = SyncJudgeEnsemble(members)
    save_judge(ensemble, Path(out))
    return ensemble
