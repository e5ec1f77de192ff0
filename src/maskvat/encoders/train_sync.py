"""Training the sync judge on a lab build: resumable, logged, with curves.

OUT/checkpoint.pt   model + optimiser + step (written atomically; resumed automatically)
OUT/log.csv         step, loss, and each evaluation's accuracies
OUT/curves.png      training loss and validation accuracy
OUT/sync_judge/     the trained judge (config.json + model.safetensors, fp16)
Batches are drawn from a generator seeded by (seed, step): a resumed run sees exactly the
batches the uninterrupted run would have.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from maskvat.encoders.lab_data import (
    LabClips,
    OffsetGrid,
    load_lab_split,
    sample_sync_batch,
)
from maskvat.encoders.sync import SyncConfig, SyncJudge
from maskvat.errors import MaskvatError
from maskvat.media.atomic import atomic_path


@dataclass
class SyncTrainConfig:
    steps: int = 1500
    batch: int = 32
    lr: float = 2e-3
    warmup: int = 100
    weight_decay: float = 1e-4
    seed: int = 0
    eval_every: int = 250
    eval_windows: int = 630  # 30 per offset class


def lr_at(step: int, cfg: SyncTrainConfig) -> float:
    """Linear warm-up, then cosine decay to 5% of the peak."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    progress = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


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
    step, log = _resume(out, model, opt, cfg, model_cfg)
    val_windows = fixed_windows(val, model.grid, cfg.eval_windows, seed=1234)
    bar = tqdm(total=cfg.steps, initial=step, desc="sync judge", unit="step", disable=not progress)
    last_eval = log[-1] if log and "acc" in log[-1] else {}
    try:
        while step < cfg.steps:
            model.train()
            for group in opt.param_groups:
                group["lr"] = lr_at(step, cfg)
            video, mel, cls = sample_sync_batch(train, model.grid, cfg.batch, np.random.default_rng([cfg.seed, step]))
            loss = F.cross_entropy(model(video, mel), cls)
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            row = {"step": step, "loss": loss.item()}
            if step % cfg.eval_every == 0 or step == cfg.steps:
                last_eval = evaluate(model, val_windows)
                row.update(last_eval)
                _checkpoint(out, model, opt, step, log + [row], cfg, model_cfg)
            log.append(row)
            bar.set_postfix(loss=f"{loss.item():.3f}", acc=f"{last_eval.get('acc', float('nan')):.3f}")
            bar.update()
    except KeyboardInterrupt:
        _checkpoint(out, model, opt, step, log, cfg, model_cfg)
        raise
    finally:
        bar.close()
    _write_log(out, log)
    plot_curves(log, out / "curves.png")
    save_judge(model, out / "sync_judge")
    return last_eval


def _resume(out: Path, model, opt, cfg, model_cfg) -> tuple[int, list[dict]]:
    path = out / "checkpoint.pt"
    if not path.is_file():
        return 0, []
    state = torch.load(path, map_location="cpu", weights_only=False)
    if state["model_cfg"] != asdict(model_cfg):
        raise MaskvatError(f"{path}: checkpoint has another model config; use a new --out folder")
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["opt"])
    return state["step"], state["log"]


def _checkpoint(out: Path, model, opt, step: int, log: list[dict], cfg, model_cfg) -> None:
    with atomic_path(out / "checkpoint.pt") as tmp:
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "log": log,
                    "cfg": asdict(cfg), "model_cfg": asdict(model_cfg)}, tmp)
    _write_log(out, log)


def _write_log(out: Path, log: list[dict]) -> None:
    keys = ["step", "loss", "acc", "acc_within_1", "true_pair_mean_abs_offset_s", "n_windows"]
    with atomic_path(out / "log.csv") as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        writer.writerows(log)


def plot_curves(log: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [r["step"] for r in log]
    loss = np.array([r["loss"] for r in log])
    smooth = np.convolve(loss, np.ones(20) / 20, mode="valid") if len(loss) >= 20 else loss
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.5), dpi=100)
    ax1.plot(steps, loss, alpha=0.3, lw=0.8)
    ax1.plot(steps[len(steps) - len(smooth):], smooth, lw=1.5)
    ax1.set(xlabel="step", ylabel="cross-entropy", title="training loss")
    evals = [r for r in log if "acc" in r]
    if evals:
        ax2.plot([r["step"] for r in evals], [r["acc"] for r in evals], "o-", label="exact offset")
        ax2.plot([r["step"] for r in evals], [r["acc_within_1"] for r in evals], "s-", label="within one class")
        ax2.set(xlabel="step", ylabel="accuracy", ylim=(0, 1), title="validation (lab val split)")
        ax2.legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


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
