"""Training the semantic encoder pair on a lab build: contrastive, resumable, with curves.

Each step draws ``batch`` different clips, a window of ``window_s`` seconds in each, a few
frames from inside the window and the window's audio. The frame tower's mean over those
frames and the audio tower's pooled embedding of the window form a positive pair; the other
clips of the batch are the negatives (symmetric InfoNCE, CLIP's learned temperature).

OUT/checkpoint.pt   model + optimiser + step + log (atomic; resumed automatically)
OUT/log.csv         step, loss, and each validation's retrieval recall
OUT/curves.png      training loss and validation recall@1
OUT/semantic/       the trained pair (config.json + model.safetensors, fp16)

The batch of step s comes from a generator seeded by (seed, s): a resumed run sees exactly
the batches of an uninterrupted one.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from maskvat.data.lab_clips import FPS, MEL_RATE, LabClips, load_lab_split, log_mel
from maskvat.encoders.semantic import SemanticConfig, SemanticPair, contrastive_loss, load_semantic
from maskvat.errors import MaskvatError
from maskvat.lab.round_trip import codec_round_trips
from maskvat.train.augment import augment_windows
from maskvat.train.loop import LoopConfig, Trainer
from maskvat.train.runlog import plot_curves
from maskvat.weights import resolve


@dataclass
class SemanticTrainConfig(LoopConfig):
    """The semantic pair's training (``maskvat encoders train --what semantic``); ``model``: its SemanticConfig."""

    steps: int = 1500
    lr: float = 2e-3
    lr_end: float = 1e-4
    warmup: int = 100
    weight_decay: float = 1e-4
    model: dict = field(default_factory=lambda: asdict(SemanticConfig()))
    batch: int = 64
    frames_per_window: int = 4
    window_s: float = 2.0
    codec: str | None = "lab"  # also pair frames with the codec round trip of their sound (None: true sound only)
    codec_share: float = 0.5  # share of pairs whose sound is the codec round trip
    init_from: str | None = None  # start from these weights ("lab": the shipped pair, or a folder) instead of random
    augment: bool | dict = False  # change each training window at random (train.augment.Augment: true, or its fields)


def sample_semantic_batch(clips: LabClips, batch: int, window_frames: int, frames_per_window: int,
                          rng: np.random.Generator, codec_share: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """(frames [B, k, S, S, 3] uint8 from inside each window, mel [B, 64, 4 W] of the window).

    Clips are drawn without replacement (so no batch holds a clip twice) when there are enough.
    With ``clips.codec_mels``, a share ``codec_share`` of the windows take their sound from the
    codec round trip instead of the true sound."""
    n_clips, total = clips.frames.shape[:2]
    if total < window_frames:
        raise MaskvatError(f"clips of {total} frames are shorter than the {window_frames}-frame window")
    idx = rng.choice(n_clips, size=batch, replace=batch > n_clips)
    start = rng.integers(0, total - window_frames + 1, size=batch)
    pick = np.sort(rng.integers(0, window_frames, size=(batch, frames_per_window)), axis=1)
    per = int(MEL_RATE / FPS)
    frames = np.stack([clips.frames[i, s + p] for i, s, p in zip(idx, start, pick)])
    use_codec = rng.random(batch) < codec_share if clips.codec_mels is not None else np.zeros(batch, bool)
    mel = np.stack([(clips.codec_mels if c else clips.mels)[i, :, s * per : (s + window_frames) * per]
                    for i, s, c in zip(idx, start, use_codec)])
    return torch.from_numpy(frames), torch.from_numpy(mel)


def frame_indices(total: int, fps: float) -> np.ndarray:
    """Indices of 25-fps frames nearest to a ``fps`` grid over ``total`` frames."""
    return np.unique(np.minimum(total - 1, np.round(np.arange(0, total / FPS, 1 / fps) * FPS).astype(int)))


@torch.no_grad()
def clip_embeddings(model: SemanticPair, clips: LabClips, batch: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """Whole-clip embeddings: video [C, D] (mean of the frame tower over frames at the
    encoder's fps), audio [C, D] (the audio tower's pooled embedding of the whole clip)."""
    model.eval()
    idx = frame_indices(clips.frames.shape[1], model.cfg.fps)
    per = int(MEL_RATE / FPS)
    n_mel = clips.frames.shape[1] * per
    vs, aus = [], []
    for i in range(0, len(clips.frames), batch):
        vs.append(model.frames(torch.from_numpy(clips.frames[i : i + batch][:, idx])).mean(1))
        aus.append(model.audio(torch.from_numpy(clips.mels[i : i + batch, :, :n_mel]))[1])
    return torch.cat(vs), torch.cat(aus)


def retrieval(video: torch.Tensor, audio: torch.Tensor, labels: np.ndarray | None = None) -> dict:
    """Audio -> video retrieval among C clips (cosine): recall@1, recall@5, chance (1/C), and,
    with labels, the share whose top video has the query's class."""
    v = torch.nn.functional.normalize(video.float(), dim=-1)
    a = torch.nn.functional.normalize(audio.float(), dim=-1)
    sim = a @ v.T  # [C queries, C videos]
    rank = (sim > sim.diag()[:, None]).sum(1)  # videos scoring above the true one
    out = {"r1": (rank < 1).float().mean().item(), "r5": (rank < 5).float().mean().item(),
           "chance_r1": 1.0 / len(v), "n_clips": len(v)}
    if labels is not None:
        top = sim.argmax(1).numpy()
        out["class_match_at_1"] = float((np.asarray(labels)[top] == np.asarray(labels)).mean())
    return out


def linear_probe(train_x: torch.Tensor, train_y: np.ndarray, test_x: torch.Tensor, test_y: np.ndarray,
                 n_classes: int, steps: int = 500, weight_decay: float = 1e-3, seed: int = 0) -> float:
    """Accuracy on (test_x, test_y) of a softmax-regression probe fit on (train_x, train_y) ([N, D]
    features, class ids; rows with id < 0 are left out). Features standardised by the train set."""
    keep_tr, keep_te = np.asarray(train_y) >= 0, np.asarray(test_y) >= 0
    xtr, xte = train_x[torch.from_numpy(keep_tr)].float(), test_x[torch.from_numpy(keep_te)].float()
    ytr, yte = torch.as_tensor(np.asarray(train_y)[keep_tr]), torch.as_tensor(np.asarray(test_y)[keep_te])
    mu, sd = xtr.mean(0), xtr.std(0) + 1e-6
    xtr, xte = (xtr - mu) / sd, (xte - mu) / sd
    torch.manual_seed(seed)
    probe = torch.nn.Linear(xtr.shape[1], n_classes)
    opt = torch.optim.LBFGS(probe.parameters(), lr=0.5, max_iter=steps, history_size=20, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(probe(xtr), ytr) + weight_decay * probe.weight.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    with torch.no_grad():
        return (probe(xte).argmax(1) == yte).float().mean().item()


def codec_round_trip_mels(split: str | os.PathLike, codec: str, n_mel: int, progress: bool = True) -> np.ndarray:
    """[C, 64, n_mel] log-mels (100 Hz) of a lab split's clips after a trip through ``codec``."""

    return codec_round_trips(split, codec, lambda wav: log_mel(wav)[..., :n_mel], progress).numpy()


class SemanticTrainer(Trainer):
    """Frames against their window's sound (symmetric InfoNCE) on LAB/train; retrieval on LAB/val."""

    desc, show, loss_label = "semantic encoders", "val_r1", "InfoNCE"
    val_title = "validation (lab val split)"  # the curves' right panel (``maskvat fit``: the val files)

    def __init__(self, cfg: SemanticTrainConfig, out, lab_dir=None, *, clips=None, progress: bool = True):
        super().__init__(cfg, out, progress=progress)
        self.lab_dir, self.clips = lab_dir, clips

    def build(self) -> SemanticPair:
        cfg = self.cfg
        model_cfg = SemanticConfig(**cfg.model)
        self.train_clips, self.val_clips = self.clips or (
            load_lab_split(Path(self.lab_dir) / s, size=model_cfg.size, progress=self.progress) for s in ("train", "val"))
        if cfg.codec and self.train_clips.codec_mels is None:
            self.train_clips.codec_mels = codec_round_trip_mels(Path(self.lab_dir) / "train", cfg.codec,
                                                                self.train_clips.mels.shape[-1], self.progress)
        self.window = int(round(cfg.window_s * FPS))
        torch.manual_seed(cfg.seed)
        pair = SemanticPair(model_cfg)
        if cfg.init_from:
            start = load_semantic(resolve(cfg.init_from, "semantic"))
            if start.cfg != model_cfg:
                raise MaskvatError(f"semantic init_from {cfg.init_from}: its config {asdict(start.cfg)} is not this "
                                   f"run's model {cfg.model}")
            pair.load_state_dict(start.state_dict())
        return pair

    def batch(self, step: int) -> dict:
        frames, mel = sample_semantic_batch(self.train_clips, self.cfg.batch, self.window, self.cfg.frames_per_window,
                                            np.random.default_rng([self.cfg.seed, step]), self.cfg.codec_share)
        frames, mel = augment_windows(frames, mel, self.cfg.augment, self.cfg.seed, step)
        return {"frames": frames, "mel": mel}

    def loss(self, module: SemanticPair, batch: dict):
        return contrastive_loss(module.frames(batch["frames"]).mean(1), module.audio(batch["mel"])[1],
                                module.logit_scale), {}

    def validate(self) -> dict:
        r = retrieval(*clip_embeddings(self.module, self.val_clips), self.val_clips.labels)
        out = {"val_r1": r["r1"], "val_r5": r["r5"]}
        if "class_match_at_1" in r:  # clips with labels (the lab's); footage has none
            out["val_class_match_at_1"] = r["class_match_at_1"]
        return out

    def plot(self, log: list[dict], path: Path) -> None:
        plot_curves(log, path, loss_key="loss", loss_label="InfoNCE", loss_title="training loss",
                    series=[("val_r1", "recall@1"), ("val_r5", "recall@5"), ("val_class_match_at_1", "class match@1")],
                    series_label="audio -> video retrieval", series_title=self.val_title, ylim=(0, 1))

    def finish(self) -> None:
        self.module.save_pretrained(self.out / "semantic")


def train_semantic(lab_dir: str | os.PathLike | None, out_dir: str | os.PathLike, cfg: SemanticTrainConfig | None = None,
                   model_cfg: SemanticConfig | None = None, *, progress: bool = True,
                   clips: tuple[LabClips, LabClips] | None = None) -> dict:
    """Train (or resume) on LAB/train, validating retrieval on LAB/val; returns the last validation.
    ``model_cfg`` overrides ``cfg.model``."""
    cfg = cfg or SemanticTrainConfig()
    if model_cfg is not None:
        cfg = replace(cfg, model=asdict(model_cfg))
    return SemanticTrainer(cfg, out_dir, lab_dir, clips=clips, progress=progress).run(device="cpu")
