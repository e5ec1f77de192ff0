"""Train a MaskVAT (V-AURA, VTA-LDM) generator on a shard cache: ``maskvat train --config CONFIG.json``.

V-AURA (``"model": "lab-vaura"``, ``maskvat.model.vaura``) trains on the same loop, cache, batches
and schedule: teacher-forced next-token cross-entropy over its K heads instead of masked
tokens (no masks drawn), the same conditioning dropout to [NULL].

VTA-LDM (``"model": "lab-vtaldm"``, ``maskvat.model.vtaldm``) too: each batch's codes become the
codec's continuous latent (``AudioTokenizer.quantized``), normalised by statistics of the first
batches; flow-matching MSE at flow times t ~ U[0, 1] (drawn with the noise from the step's
seeds); VTA-LDM's "concat" temporal augmentation (``temporal_concat``) on ``concat_prob`` of
the items; the same conditioning dropout. Validation: the flow MSE at fixed times and noise.

Paper 3.2.2 / 4.0.3: cosine masking, cross-entropy on the masked positions, MSE +
contrastive auxiliary losses for Seq2Seq/Hybrid (lambda 1 each), 10% conditioning dropout
to [NULL], AdamW (weight decay 1e-5), 3,000 warm-up steps then polynomial decay from the peak
learning rate (2e-4) to 1e-6. Not stated by the paper, and so our choices, named as such in
the config: AdamW betas (0.9, 0.95) and gradient-norm clipping at 1.0.

Data: the shard cache of ``maskvat extract`` (``train_cache``; ``val_cache`` for validation),
read window by window (``maskvat.data.dataset.StepBatches``): each step takes ``batch_size``
clips and a random window of the model's length in each; memory stays flat as the cache grows.

Runs on the one training loop (``maskvat.train.loop``): Accelerate on a CPU, one GPU or
``accelerate launch``/``torchrun`` (DDP), bf16 and gradient accumulation; OUT/checkpoint.pt
resumes; the batch, masks and dropout of step s come from seeds (seed, s). OUT/model/ is the
trained generator (also after ``--stop-after``, marked unfinished).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from maskvat.codec.tokenizer import AudioTokenizer
from maskvat.data.dataset import StepBatches
from maskvat.errors import MaskvatError
from maskvat.model.config import ModelConfig, model_config
from maskvat.model.masking import apply_mask, cosine_mask, masked_accuracy_per_level, masked_cross_entropy
from maskvat.model.maskvat import MaskVAT
from maskvat.model.objective import masked_token_loss
from maskvat.model.vaura import VAURA, VAURA_CONFIGS, next_token_accuracy, next_token_loss
from maskvat.model.vtaldm import VTALDM, VTALDM_CONFIGS, fixed_timesteps, flow_matching_loss, temporal_concat
from maskvat.pipeline.features import encoder_roles
from maskvat.train.loop import LoopConfig, Trainer, lr_at
from maskvat.train.runlog import plot_curves

__all__ = ["TrainConfig", "GeneratorTrainer", "build_model", "evaluate", "lr_at", "train"]


@dataclass
class TrainConfig(LoopConfig):
    """The generator's training (``maskvat train --config FILE``; configs/ holds the named ones)."""

    model: str = "lab-adaln-b"  # a name in MODEL_CONFIGS, VAURA_CONFIGS (V-AURA) or VTALDM_CONFIGS (VTA-LDM)
    model_overrides: dict = field(default_factory=dict)
    train_cache: str = ""
    val_cache: str = ""
    codec: str = "lab"  # the codec the codes came from: initialises the embeddings
    steps: int = 100_000
    batch_size: int = 16
    lr: float = 2e-4
    lr_end: float = 1e-6
    warmup: int = 3000
    schedule: str = "poly"
    weight_decay: float = 1e-5
    betas: tuple[float, float] = (0.9, 0.95)  # our choice: the paper does not state them
    grad_clip: float = 1.0  # our choice: the paper does not state any clipping
    lambda_reg: float = 1.0
    lambda_cont: float = 1.0
    auxiliary: bool = True  # Seq2Seq/Hybrid: the auxiliary losses need the cache's audio stream
    window_seconds: float | None = None  # default: the model's window
    val_items: int = 64

    @classmethod
    def from_dict(cls, data: dict, where: str = "training option"):
        data = dict(data)
        if "warmup_steps" in data:  # the name configs used before the one training loop
            data["warmup"] = data.pop("warmup_steps")
        return super().from_dict(data, where)


def build_model(cfg: TrainConfig, tok: AudioTokenizer | None = None) -> MaskVAT | VAURA | VTALDM:
    """The model a config names, its embeddings initialised from its codec (paper 3.1); a VTA-LDM
    (no token embeddings) reads the codec's latent instead, its width the codec's."""
    tok = tok or AudioTokenizer.from_pretrained(cfg.codec)
    mcfg = model_config(cfg.model, codec=cfg.codec, codec_hidden=int(tok.model.config.hidden_size),
                        **cfg.model_overrides)  # a VAURAConfig / VTALDMConfig for those names
    torch.manual_seed(cfg.seed)
    if cfg.model in VTALDM_CONFIGS:
        return VTALDM(mcfg)
    model = VAURA(mcfg) if cfg.model in VAURA_CONFIGS else MaskVAT(mcfg)
    model.embed.init_from_codec(tok.level_embeddings().detach())
    return model


def check_cache(data: StepBatches, mcfg: ModelConfig, cfg: TrainConfig, where: str) -> None:
    """One-line errors when the cache cannot train this model: features of other encoders, or
    a Seq2Seq/Hybrid model without the audio stream its auxiliary losses need."""
    wrong = [f"{role}: {data.encoders[role]} (expects {name})" for role, name in encoder_roles(mcfg).items()
             if name is not None and role in data.encoders and data.encoders[role] != name]
    if wrong:
        raise MaskvatError(f"{where}: its features come from other encoders than model config {cfg.model!r} reads: "
                           f"{'; '.join(wrong)}. Extract the cache with the right encoders (`maskvat extract --encoders`)")
    missing = [r for r, name in encoder_roles(mcfg).items() if r != "audio" and name and r not in data.encoders]
    if missing:
        raise MaskvatError(f"{where}: the cache has no {' or '.join(missing)} stream, which {cfg.model!r} reads")
    if mcfg.variant in ("seq2seq", "hybrid") and cfg.auxiliary and "audio" not in data.encoders:
        raise MaskvatError(f"{where}: the cache has no audio stream, which the {mcfg.variant} auxiliary losses need "
                           "(paper 3.2.2): extract it with an audio encoder, or set \"auxiliary\": false to train "
                           "without them")


@torch.no_grad()
def evaluate(model: MaskVAT | VAURA | VTALDM, batches: list[dict], seed: int = 1234,
             codec: AudioTokenizer | None = None) -> dict:
    """Masked-token accuracy per level and CE on fixed masks (``seed``) of fixed windows; for
    V-AURA, teacher-forced next-token accuracy per level and CE on every real token; for VTA-LDM
    (``codec``: the latent's), the flow-matching MSE at fixed flow times and noise (``seed``)."""
    model.eval()
    if getattr(model, "autoregressive", False):
        return _evaluate_autoregressive(model, batches)
    if getattr(model, "continuous", False):
        return _evaluate_flow(model, batches, codec, seed)
    g = torch.Generator().manual_seed(seed)
    hits = counts = 0
    ce_sum = ce_n = 0.0
    device = next(model.parameters()).device
    for b in batches:
        codes, valid = b["codes"].to(device), b["codes_mask"].to(device)
        mask = cosine_mask(*codes.shape, generator=g).to(device) & valid[:, None, :]
        logits = model(apply_mask(codes, mask | ~valid[:, None, :], model.config.mask_id),
                       *(b[r].to(device) if r in b else None for r in ("semantic", "sync")))
        h, c = masked_accuracy_per_level(logits, codes, mask)
        hits, counts = hits + h.cpu(), counts + c.cpu()
        ce_sum += masked_cross_entropy(logits, codes, mask).item() * mask.sum().item()
        ce_n += mask.sum().item()
    acc = hits.float() / counts.clamp_min(1)
    out = {"val_ce": ce_sum / max(ce_n, 1), "val_acc": float(hits.sum() / counts.sum().clamp_min(1))}
    out.update({f"val_acc_{k + 1}": float(a) for k, a in enumerate(acc)})
    return out


@torch.no_grad()
def _evaluate_autoregressive(model: VAURA, batches: list[dict]) -> dict:
    hits = counts = 0
    ce_sum = 0.0
    device = next(model.parameters()).device
    for b in batches:
        h, c, ce = next_token_accuracy(model, b["codes"].to(device),
                                       *(b[r].to(device) if r in b else None for r in ("semantic", "sync")),
                                       valid=b["codes_mask"].to(device))
        hits, counts, ce_sum = hits + h.cpu(), counts + c.cpu(), ce_sum + float(ce)
    acc = hits.float() / counts.clamp_min(1)
    out = {"val_ce": ce_sum / max(int(counts.sum()), 1), "val_acc": float(hits.sum() / counts.sum().clamp_min(1))}
    out.update({f"val_acc_{k + 1}": float(a) for k, a in enumerate(acc)})
    return out


@torch.no_grad()
def _evaluate_flow(model: VTALDM, batches: list[dict], codec: AudioTokenizer, seed: int) -> dict:
    g = torch.Generator().manual_seed(seed)
    device = next(model.parameters()).device
    total = count = 0.0
    for b in batches:
        latent = codec.quantized(b["codes"]).cpu()
        n, length = latent.shape[0], latent.shape[-1]
        t, noise = fixed_timesteps(n), torch.randn(n, length, latent.shape[1], generator=g)
        mse, _ = flow_matching_loss(model, latent.to(device), torch.zeros(n, dtype=torch.bool, device=device),
                                    t.to(device), noise.to(device),
                                    *(b[r].to(device) if r in b else None for r in ("semantic", "sync")),
                                    valid=b["codes_mask"].to(device))
        frames = float(b["codes_mask"].sum())
        total, count = total + float(mse) * frames, count + frames
    return {"val_mse": total / max(count, 1.0)}


class GeneratorTrainer(Trainer):
    desc, show, loss_label = "train", "val_acc", "masked-token cross-entropy"

    def build(self) -> MaskVAT:
        cfg = self.cfg
        if not cfg.train_cache:
            raise MaskvatError("maskvat train needs a training cache (train_cache in the config, or --train-cache)")
        self.codec = AudioTokenizer.from_pretrained(cfg.codec)
        model = build_model(cfg, self.codec)
        mcfg = model.config
        window = cfg.window_seconds or mcfg.window_seconds
        self.data = StepBatches(cfg.train_cache, batch_size=cfg.batch_size, window_seconds=window, seed=cfg.seed)
        check_cache(self.data, mcfg, cfg, cfg.train_cache)
        self.val = None
        if cfg.val_cache:
            val = StepBatches(cfg.val_cache, batch_size=16, window_seconds=window, seed=cfg.seed)
            check_cache(val, mcfg, cfg, cfg.val_cache)
            self.val = val.fixed(cfg.val_items)
        self.autoregressive = getattr(model, "autoregressive", False)
        self.continuous = getattr(model, "continuous", False)
        if self.continuous:
            self.show, self.loss_label = "val_mse", "flow-matching MSE"
            first = [self.data.batch(s) for s in range(4)]  # the latent's statistics, from the first batches
            model.set_latent_stats(torch.cat([self.codec.quantized(b["codes"]).transpose(1, 2)[b["codes_mask"]]
                                              for b in first]).T[None])
        self.auxiliary = mcfg.variant in ("seq2seq", "hybrid") and cfg.auxiliary
        # audio_proj, logit_scale unused (V-AURA: every parameter is in every step's graph)
        self.ddp_find_unused = mcfg.variant in ("seq2seq", "hybrid") and not cfg.auxiliary
        return model

    def batch(self, step: int) -> dict:
        b = self.data.batch(step)
        codes, valid = b["codes"], b["codes_mask"]
        g = torch.Generator().manual_seed(int(np.random.default_rng([self.cfg.seed, step, 1]).integers(2**62)))
        if self.continuous:
            return self._flow_batch(b, g)
        out = {"codes": codes, "valid": valid}
        if not self.autoregressive:  # V-AURA: teacher forcing, no masks
            out["mask"] = cosine_mask(*codes.shape, generator=g) & valid[:, None, :]
        out["drop"] = torch.rand(codes.shape[0], generator=g) < self.module.config.cond_dropout
        for role in ("semantic", "sync") + (("audio",) if self.auxiliary else ()):
            if role in b:
                out[role] = b[role]
        return out

    def _flow_batch(self, b: dict, g: torch.Generator) -> dict:
        """VTA-LDM: the codec latent [B, H, L], flow times, noise, dropout, and the "concat"
        temporal augmentation (item i spliced with another item at a random instant)."""
        mcfg = self.module.config
        with torch.no_grad():
            latent = self.codec.quantized(b["codes"]).cpu()
        n, length = latent.shape[0], latent.shape[-1]
        t = torch.rand(n, generator=g)
        noise = torch.randn(n, length, latent.shape[1], generator=g)
        drop = torch.rand(n, generator=g) < mcfg.cond_dropout
        splice = (torch.rand(n, generator=g) < mcfg.concat_prob) & (n > 1)
        partner = (torch.arange(n) + torch.randint(1, max(n, 2), (n,), generator=g)) % n  # never itself
        lo, hi = mcfg.concat_range
        cut = lo + (hi - lo) * torch.rand(n, generator=g)
        streams = temporal_concat({"latent": latent.transpose(1, 2), "valid": b["codes_mask"],
                                   "semantic": b.get("semantic"), "sync": b.get("sync")}, partner, cut, splice)
        out = {"latent": streams["latent"].transpose(1, 2).contiguous(), "valid": streams["valid"], "t": t,
               "noise": noise, "drop": drop}
        out.update({r: streams[r] for r in ("semantic", "sync") if streams[r] is not None})
        return out

    def loss(self, module: MaskVAT | VAURA | VTALDM, batch: dict):
        if self.continuous:
            total, terms = flow_matching_loss(module, batch["latent"], batch["drop"], batch["t"], batch["noise"],
                                              batch.get("semantic"), batch.get("sync"), valid=batch["valid"])
            terms.pop("loss")
            return total, terms
        if self.autoregressive:
            total, terms = next_token_loss(module, batch["codes"], batch["drop"], batch.get("semantic"),
                                           batch.get("sync"), valid=batch["valid"])
            terms.pop("loss")
            return total, terms
        total, terms = masked_token_loss(module, batch["codes"], batch["mask"], batch["drop"], batch.get("semantic"),
                                         batch.get("sync"), batch.get("audio"), valid=batch["valid"],
                                         lambda_reg=self.cfg.lambda_reg, lambda_cont=self.cfg.lambda_cont)
        terms.pop("loss")
        return total, terms

    def validate(self) -> dict:
        return evaluate(self.module, self.val, codec=self.codec) if self.val else {}

    def plot(self, log: list[dict], path: Path) -> None:
        if self.continuous:  # no token accuracies: the loss and the validation MSE
            return super().plot(log, path)
        plot_training(log, path, self.module.config.n_levels)

    def finish(self) -> None:
        self.module.save_pretrained(self.out / "model", extra={"train_config": self.cfg.to_dict(), "steps": self.step,
                                                               "finished": self.step >= self.cfg.steps})


def train(cfg: TrainConfig, out_dir: str | os.PathLike, *, device: str = "auto", progress: bool = True,
          stop_after: int | None = None) -> dict:
    """Train (or resume) into OUT; returns the last log row with validation figures.
    ``stop_after``: leave after that many steps of this call (OUT/model/ written as it stands)."""
    return GeneratorTrainer(cfg, out_dir, progress=progress).run(device=device, stop_after=stop_after)


def plot_training(log: list[dict], path: Path, n_levels: int = 9) -> None:
    """Training CE (smoothed) and validation masked-token accuracy per level, as a PNG."""
    series = [("val_acc", "all")] + [(f"val_acc_{k}", f"level {k}") for k in range(1, n_levels + 1)]
    plot_curves(log, path, loss_key="ce", loss_label="masked-token cross-entropy", loss_title="training",
                series=series, series_label="masked-token accuracy", series_title="validation")
