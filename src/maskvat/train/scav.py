"""Train SCAV on a feature cache (the same data as the generator): ``maskvat scav train``."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from maskvat.errors import MaskvatError
from maskvat.pipeline.features import TrainingSet, encoder_roles, load_training_set
from maskvat.train.runlog import plot_curves, write_log
from maskvat.scav.model import SCAV, SCAVConfig

SHIFTS = (-12, -8, -4, 4, 8, 12)  # audio frames at 25/s: +-160, 320, 480 ms


@dataclass
class SCAVTrainConfig:
    steps: int = 600
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-4
    eval_every: int = 100
    seed: int = 0


def shifted_copies(audio: torch.Tensor, shifts=SHIFTS) -> torch.Tensor:
    """audio [B, N, D] -> [B, S, N, D]: each sequence rolled by every shift (frames)."""
    return torch.stack([audio.roll(s, dims=1) for s in shifts], dim=1)


@torch.no_grad()
def evaluate(model: SCAV, data: TrainingSet) -> dict:
    """Retrieval among all clips (video -> audio R@1, R@5) and alignment: the share of clips
    whose own audio is nearer than every time-shifted copy of it."""
    model.eval()
    v = model.video(data.semantic, data.sync)
    a = model.audio(data.audio)
    d = model.distance(v, a)
    rank = (d < d.diag()[:, None]).sum(1)
    shifted = torch.stack([model.audio(data.audio.float().roll(s, dims=1)) for s in SHIFTS], dim=1)
    d_shift = (v[:, None] - shifted).pow(2).mean(dim=(2, 3))
    aligned = (d.diag()[:, None] < d_shift).all(1).float().mean()
    return {"r1": float((rank == 0).float().mean()), "r5": float((rank < 5).float().mean()),
            "aligned": float(aligned), "n": len(data)}


def scav_config_for(data: TrainingSet) -> SCAVConfig:
    """A SCAV that reads the streams a features cache holds, with their widths and encoder names."""
    if data.audio is None:
        raise MaskvatError("the features cache has no audio stream; SCAV needs one (`maskvat features visual` writes it)")
    base = SCAVConfig()
    names = {role: data.encoders.get(role, getattr(base, f"{role}_encoder")) for role in ("semantic", "sync", "audio")}
    return replace(base, use_semantic=data.semantic is not None, use_sync=data.sync is not None,
                   semantic_dim=data.semantic.shape[-1] if data.semantic is not None else base.semantic_dim,
                   sync_dim=data.sync.shape[-1] if data.sync is not None else base.sync_dim,
                   audio_dim=data.audio.shape[-1], semantic_encoder=names["semantic"],
                   sync_encoder=names["sync"], audio_encoder=names["audio"])


def train_scav(cache: str | os.PathLike, out_dir: str | os.PathLike, cfg: SCAVTrainConfig | None = None,
               model_cfg: SCAVConfig | None = None, *, val_cache: str | os.PathLike | None = None,
               progress: bool = True) -> dict:
    cfg = cfg or SCAVTrainConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    train = load_training_set(cache, codes=False)
    val = load_training_set(val_cache, codes=False) if val_cache else None
    model_cfg = model_cfg or scav_config_for(train)
    for data, where in ((train, cache), (val, val_cache)):
        if data is not None:
            data.check_encoders(encoder_roles(model_cfg), where, "this SCAV")
    torch.manual_seed(cfg.seed)
    model = SCAV(model_cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.steps, pct_start=0.1)
    log, last = [], {}
    for step in tqdm(range(cfg.steps), desc="scav", unit="step", disable=not progress):
        model.train()
        idx = torch.from_numpy(np.random.default_rng([cfg.seed, step]).choice(len(train), cfg.batch_size, replace=False))
        b = train.batch(idx)
        v, a = model.video(b["semantic"], b["sync"]), model.audio(b["audio"])
        shifted = model.audio(shifted_copies(b["audio"]).flatten(0, 1)).view(len(idx), len(SHIFTS), *a.shape[1:])
        loss = model.contrastive_loss(v, a, shifted)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        row = {"step": step + 1, "loss": loss.item()}
        if val is not None and ((step + 1) % cfg.eval_every == 0 or step + 1 == cfg.steps):
            last = evaluate(model, val)
            row.update(last)
        log.append(row)
    write_log(out / "log.csv", log)
    plot_curves(log, out / "curves.png", loss_key="loss", loss_label="contrastive loss", loss_title="training",
                series=[("r1", "R@1"), ("r5", "R@5"), ("aligned", "nearer than shifted")],
                series_label="validation", series_title="validation", ylim=(0, 1.02))
    model.save_pretrained(out / "scav")
    (out / "train_config.json").write_text(__import__("json").dumps(asdict(cfg), indent=1))
    return last
