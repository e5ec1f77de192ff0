"""Train SCAV on the generator's cache (the same data): ``maskvat scav train`` (paper 3.2.4).

Each step takes ``batch_size`` different clips, a window of ``window_seconds`` in each (random
start, from the shard cache), and contrasts every clip's video sequence with every clip's audio
sequence by mean squared distance (``SCAV.contrastive_loss``); copies of each clip's own audio
shifted by +-``shifts_s`` are extra negatives, which makes the space sensitive to alignment.
The common sequence length is the window at 25 steps per second. The paper's SCAV reads CLIP
(semantic) and BEATs (audio); ``use_sync`` adds the sync stream to the video side (the lab's
shipped SCAV reads both).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, replace

import torch

from maskvat.data.dataset import StepBatches
from maskvat.errors import MaskvatError
from maskvat.pipeline.features import encoder_roles
from maskvat.scav.model import SCAV, SCAVConfig
from maskvat.train.loop import LoopConfig, Trainer
from maskvat.train.runlog import plot_curves

SEQUENCE_RATE = 25.0  # SCAV's common sequence: steps per second of the window


@dataclass
class SCAVTrainConfig(LoopConfig):
    """``maskvat scav train --config FILE`` (flags override). ``model``: SCAVConfig fields to
    set (the widths and encoder names come from the cache)."""

    steps: int = 600
    batch_size: int = 32
    lr: float = 1e-3
    warmup: int = 60
    weight_decay: float = 1e-4
    eval_every: int = 100
    train_cache: str = ""
    val_cache: str = ""
    window_seconds: float = 4.0
    use_sync: bool = True  # the paper's SCAV reads CLIP only on its video side: set False
    shifts_s: tuple[float, ...] = (0.16, 0.32, 0.48)  # shifted copies of the own audio, both ways
    val_items: int = 256
    model: dict = field(default_factory=dict)

    def __post_init__(self):
        super().__post_init__()
        self.shifts_s = tuple(self.shifts_s)

    def to_dict(self) -> dict:
        return {**super().to_dict(), "shifts_s": list(self.shifts_s)}


def shifted_copies(audio: torch.Tensor, shifts) -> torch.Tensor:
    """audio [B, N, D] -> [B, S, N, D]: each sequence rolled by every shift (in its frames)."""
    return torch.stack([audio.roll(int(s), dims=1) for s in shifts], dim=1)


def shift_frames(cfg: SCAVTrainConfig, audio_rate: float) -> list[int]:
    """The configured shifts (s), both ways, in frames of the audio stream (at least one frame)."""
    one_way = [max(1, round(s * audio_rate)) for s in cfg.shifts_s]
    return sorted({-f for f in one_way} | set(one_way))


def scav_config_for(data: StepBatches, cfg: SCAVTrainConfig) -> SCAVConfig:
    """A SCAV that reads the streams the cache holds (widths and encoder names from it), with a
    common length of the window at 25 steps/s."""
    info = data.ds.info["encoders"]
    if "audio" not in info:
        raise MaskvatError("the cache has no audio stream; SCAV needs one (extract with an audio encoder)")
    base = replace(SCAVConfig(), **cfg.model)
    use_sync = cfg.use_sync and "sync" in info
    if "semantic" not in info and not use_sync:
        raise MaskvatError("the cache has no video stream SCAV can read (semantic, or sync with use_sync)")
    dim = lambda role, default: info[role]["dim"] if role in info else default  # noqa: E731
    name = lambda role: info[role]["name"] if role in info else getattr(base, f"{role}_encoder")  # noqa: E731
    return replace(base, use_semantic="semantic" in info, use_sync=use_sync,
                   semantic_dim=dim("semantic", base.semantic_dim), sync_dim=dim("sync", base.sync_dim),
                   audio_dim=dim("audio", base.audio_dim), semantic_encoder=name("semantic"),
                   sync_encoder=name("sync"), audio_encoder=name("audio"),
                   length=max(1, round(cfg.window_seconds * SEQUENCE_RATE)), window_seconds=cfg.window_seconds)


def check_encoders(data: StepBatches, model_cfg: SCAVConfig, where: str) -> None:
    """A one-line error when the cache's features were made by other encoders than the SCAV reads."""
    wrong = [f"{role}: {data.encoders[role]} (expects {name})" for role, name in encoder_roles(model_cfg).items()
             if name is not None and role in data.encoders and data.encoders[role] != name]
    if wrong:
        raise MaskvatError(f"{where}: its features come from other encoders than this SCAV reads: {'; '.join(wrong)}. "
                           "Extract the cache with the right encoders (`maskvat extract --encoders`)")


@torch.no_grad()
def evaluate(model: SCAV, batches: list[dict], shifts) -> dict:
    """Retrieval among the clips (video -> audio R@1, R@5) and alignment: the share of clips whose
    own audio is nearer than every time-shifted copy of it."""
    model.eval()
    c = model.config
    sem = torch.cat([b["semantic"] for b in batches]) if c.use_semantic else None
    syn = torch.cat([b["sync"] for b in batches]) if c.use_sync else None
    audio = torch.cat([b["audio"] for b in batches])
    v, a = model.video(sem, syn), model.audio(audio)
    d = model.distance(v, a)
    rank = (d < d.diag()[:, None]).sum(1)
    shifted = torch.stack([model.audio(audio.roll(s, dims=1)) for s in shifts], dim=1)
    d_shift = (v[:, None] - shifted).pow(2).mean(dim=(2, 3))
    aligned = (d.diag()[:, None] < d_shift).all(1).float().mean()
    return {"r1": float((rank == 0).float().mean()), "r5": float((rank < 5).float().mean()),
            "aligned": float(aligned), "n": len(audio)}


class SCAVTrainer(Trainer):
    desc, show, loss_label = "scav", "r1", "contrastive loss"

    def __init__(self, cfg: SCAVTrainConfig, out, model_cfg: SCAVConfig | None = None, *, progress: bool = True):
        super().__init__(cfg, out, progress=progress)
        self.model_cfg = model_cfg

    def build(self) -> SCAV:
        cfg = self.cfg
        if not cfg.train_cache:
            raise MaskvatError("SCAV training needs a cache (--cache, or train_cache in the config)")
        self.data = StepBatches(cfg.train_cache, batch_size=cfg.batch_size, window_seconds=cfg.window_seconds,
                                seed=cfg.seed)
        if len(self.data) < 2:
            raise MaskvatError(f"{cfg.train_cache}: SCAV's contrastive loss needs at least 2 clips, the cache holds "
                               f"{len(self.data)}")
        if cfg.batch_size > len(self.data):  # a clip twice in a batch would be its own negative
            self.data.batch_size = len(self.data)
        model_cfg = self.model_cfg or scav_config_for(self.data, cfg)
        check_encoders(self.data, model_cfg, cfg.train_cache)
        self.shifts = shift_frames(cfg, self.data.rates["audio"])
        self.val = None
        if cfg.val_cache:
            val = StepBatches(cfg.val_cache, batch_size=64, window_seconds=cfg.window_seconds, seed=cfg.seed)
            check_encoders(val, model_cfg, cfg.val_cache)
            self.val = val.fixed(cfg.val_items)
        torch.manual_seed(cfg.seed)
        return SCAV(model_cfg)

    def batch(self, step: int) -> dict:
        b = self.data.batch(step)
        return {k: b[k] for k in ("semantic", "sync", "audio") if k in b}

    def loss(self, module: SCAV, batch: dict):
        c = module.config
        v = module.video(batch.get("semantic") if c.use_semantic else None, batch.get("sync") if c.use_sync else None)
        a = module.audio(batch["audio"])
        shifted = module.audio(shifted_copies(batch["audio"], self.shifts).flatten(0, 1))
        return module.contrastive_loss(v, a, shifted.view(len(v), len(self.shifts), *a.shape[1:])), {}

    def validate(self) -> dict:
        return evaluate(self.module, self.val, self.shifts) if self.val else {}

    def plot(self, log: list[dict], path) -> None:
        plot_curves(log, path, loss_key="loss", loss_label="contrastive loss", loss_title="training",
                    series=[("r1", "R@1"), ("r5", "R@5"), ("aligned", "nearer than shifted")],
                    series_label="validation", series_title="validation", ylim=(0, 1.02))

    def finish(self) -> None:
        self.module.save_pretrained(self.out / "scav")


def train_scav(cache: str | os.PathLike, out_dir: str | os.PathLike, cfg: SCAVTrainConfig | None = None,
               model_cfg: SCAVConfig | None = None, *, val_cache: str | os.PathLike | None = None,
               progress: bool = True, device: str = "auto") -> dict:
    """Train (or resume) SCAV on ``cache`` (validated on ``val_cache``); returns the last validation."""
    cfg = replace(cfg or SCAVTrainConfig(), train_cache=str(cache), val_cache=str(val_cache or ""))
    if model_cfg is not None:
        cfg = replace(cfg, model=asdict(model_cfg))
    return SCAVTrainer(cfg, out_dir, model_cfg, progress=progress).run(device=device)
