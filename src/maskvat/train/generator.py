"""Train a MaskVAT generator on a feature cache: ``maskvat train --config CONFIG.json``.

Paper 3.2.2 / 4.0.3: cosine masking, cross-entropy on the masked positions, MSE +
contrastive auxiliary losses for Seq2Seq/Hybrid (lambda 1 each), 10% conditioning dropout
to [NULL], AdamW (weight decay 1e-5), linear warm-up then polynomial decay from the peak
learning rate to 1e-6. Runs on Hugging Face Accelerate: the same command on CPU, one GPU,
or ``accelerate launch`` over many (DDP), with bf16 and gradient accumulation.

Resumable: OUT/checkpoint.pt (every ``checkpoint_every`` steps and on Ctrl-C) holds model,
optimiser, step and log; the batch, masks and dropout of step s come from generators
seeded by (seed, s), so a resumed run takes the same steps as an uninterrupted one.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from maskvat.atomic import atomic_path
from maskvat.codec.tokenizer import AudioTokenizer
from maskvat.config_checks import from_checked_dict
from maskvat.data.lab_cache import TrainingSet, load_training_set
from maskvat.errors import MaskvatError
from maskvat.model.config import model_config
from maskvat.model.masking import (
    apply_mask,
    cosine_mask,
    masked_accuracy_per_level,
    masked_cross_entropy,
)
from maskvat.model.maskvat import MaskVAT
from maskvat.model.objective import MaskedTokenObjective
from maskvat.pipeline.features import encoder_roles
from maskvat.train.runlog import plot_curves, write_log


@dataclass
class TrainConfig:
    model: str = "lab-adaln-b"  # a name in MODEL_CONFIGS
    model_overrides: dict = field(default_factory=dict)
    train_cache: str = ""
    val_cache: str = ""
    codec: str = "lab"  # the codec the codes came from: initialises the embeddings
    steps: int = 3000
    batch_size: int = 16
    accumulate: int = 1
    lr: float = 2e-4
    lr_end: float = 1e-6
    warmup_steps: int = 3000
    power: float = 1.0
    weight_decay: float = 1e-5
    lambda_reg: float = 1.0
    lambda_cont: float = 1.0
    eval_every: int = 250
    checkpoint_every: int = 250
    val_items: int = 64
    precision: str = "no"  # "no" | "bf16" | "fp16"
    seed: int = 0

    @classmethod
    def from_file(cls, path: str | os.PathLike, **overrides) -> "TrainConfig":
        try:
            data = json.loads(Path(path).read_text())
        except FileNotFoundError:
            raise MaskvatError(f"{path}: no such config file") from None
        except json.JSONDecodeError as exc:
            raise MaskvatError(f"{path}: not valid JSON ({exc})") from None
        data.update({k: v for k, v in overrides.items() if v is not None})
        return from_checked_dict(cls, data, f"{path}: training option")


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up to ``lr``, then polynomial decay (``power``) to ``lr_end`` at ``steps``."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    t = min(1.0, (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps))
    return cfg.lr_end + (cfg.lr - cfg.lr_end) * (1 - t) ** cfg.power


def build_model(cfg: TrainConfig, n_levels: int | None = None) -> MaskVAT:
    """The model a config names, embeddings initialised from its codec (when the codec loads)."""

    tok = AudioTokenizer.from_pretrained(cfg.codec)
    mcfg = model_config(cfg.model, codec=cfg.codec, codec_hidden=int(tok.model.config.hidden_size),
                        **cfg.model_overrides)
    torch.manual_seed(cfg.seed)
    model = MaskVAT(mcfg)
    model.embed.init_from_codec(tok.level_embeddings())
    return model


def masked_batch(data: TrainingSet, cfg: TrainConfig, step: int, mask_id: int, cond_dropout: float):
    """Batch of step ``step``: (inputs dict, target codes, mask, drop), all from seeds (seed, step)."""
    rng = np.random.default_rng([cfg.seed, step])
    idx = torch.from_numpy(rng.choice(len(data), cfg.batch_size, replace=len(data) < cfg.batch_size))
    batch = data.batch(idx)
    g = torch.Generator().manual_seed(int(rng.integers(2**62)))
    codes = batch["codes"]
    mask = cosine_mask(*codes.shape, generator=g)
    drop = torch.rand(codes.shape[0], generator=g) < cond_dropout
    return batch, codes, mask, drop


@torch.no_grad()
def evaluate(model: MaskVAT, data: TrainingSet, n_items: int, batch_size: int = 16) -> dict:
    """Masked-token accuracy per level and CE on fixed masks (seed 1234) of the first n_items clips."""
    model.eval()
    n = min(n_items, len(data))
    g = torch.Generator().manual_seed(1234)
    hits = counts = 0
    ce_sum = ce_n = 0.0
    device = next(model.parameters()).device
    for i in range(0, n, batch_size):
        idx = torch.arange(i, min(n, i + batch_size))
        batch = {k: (v.to(device) if v is not None else None) for k, v in data.batch(idx).items()}
        codes = batch["codes"]
        mask = cosine_mask(*codes.shape, generator=g, device=device)
        logits = model(apply_mask(codes, mask, model.config.mask_id), batch["semantic"], batch["sync"])
        h, c = masked_accuracy_per_level(logits, codes, mask)
        hits, counts = hits + h.cpu(), counts + c.cpu()
        ce_sum += masked_cross_entropy(logits, codes, mask).item() * mask.sum().item()
        ce_n += mask.sum().item()
    acc = hits.float() / counts.clamp_min(1)
    out = {"val_ce": ce_sum / max(ce_n, 1), "val_acc": float(hits.sum() / counts.sum().clamp_min(1))}
    out.update({f"val_acc_{k + 1}": float(a) for k, a in enumerate(acc)})
    return out


def train(cfg: TrainConfig, out_dir: str | os.PathLike, *, device: str = "auto", progress: bool = True,
          stop_after: int | None = None) -> dict:
    """Train (or resume) into OUT; returns the last log row. ``stop_after``: leave after that many steps."""
    from accelerate import Accelerator

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cpu = device == "cpu" or (device == "auto" and not torch.cuda.is_available())
    acc = Accelerator(cpu=cpu, mixed_precision=cfg.precision, gradient_accumulation_steps=cfg.accumulate)
    train_set = load_training_set(cfg.train_cache)
    val_set = load_training_set(cfg.val_cache) if cfg.val_cache else None
    model = build_model(cfg)
    for data, cache in ((train_set, cfg.train_cache), (val_set, cfg.val_cache)):
        if data is not None:
            data.check_encoders(encoder_roles(model.config), cache, f"model config {cfg.model!r}")
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.95))
    step, log = 0, []
    ckpt = out / "checkpoint.pt"
    if ckpt.is_file():
        state = torch.load(ckpt, map_location="cpu", weights_only=False)
        if state["cfg"] != asdict(cfg):
            changed = sorted(k for k in asdict(cfg) if state["cfg"].get(k) != asdict(cfg)[k])
            raise MaskvatError(f"{ckpt}: made with other settings ({', '.join(changed)}); resume with the same "
                               "config or use a new --out folder")
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        step, log = state["step"], state["log"]
    else:
        (out / "train_config.json").write_text(json.dumps(asdict(cfg), indent=1))
    objective, opt = acc.prepare(MaskedTokenObjective(model, cfg.lambda_reg, cfg.lambda_cont), opt)
    core = model
    mask_id, dropout = core.config.mask_id, core.config.cond_dropout
    bar = tqdm(total=cfg.steps, initial=step, desc=f"train {cfg.model}", unit="step",
               disable=not (progress and acc.is_main_process))
    taken, tokens, t0 = 0, 0, time.perf_counter()
    try:
        while step < cfg.steps and (stop_after is None or taken < stop_after):
            objective.train()
            for group in opt.param_groups:
                group["lr"] = lr_at(step, cfg)
            row = {"step": step + 1, "lr": lr_at(step, cfg)}
            for micro in range(cfg.accumulate):
                batch, codes, mask, drop = masked_batch(train_set, cfg, step * cfg.accumulate + micro + acc.process_index * 10**7,
                                                        mask_id, dropout)
                batch = {k: (v.to(acc.device) if v is not None else None) for k, v in batch.items() if k != "codes"}
                with acc.accumulate(objective):
                    loss, terms = objective(codes.to(acc.device), mask.to(acc.device), drop.to(acc.device), **{
                        k: batch[k] for k in ("semantic", "sync", "audio")})
                    terms = {k: v.item() for k, v in terms.items()}
                    if not math.isfinite(terms["loss"]):
                        raise MaskvatError(f"training diverged at step {step} (loss {terms['loss']}); lower lr and resume")
                    acc.backward(loss)
                    if acc.sync_gradients:
                        acc.clip_grad_norm_(objective.parameters(), 1.0)
                    opt.step()
                    opt.zero_grad(set_to_none=True)
                tokens += codes.numel()
                for k, v in terms.items():
                    row[k] = row.get(k, 0.0) + v / cfg.accumulate
            step += 1
            taken += 1
            row["tokens_per_s"] = tokens / (time.perf_counter() - t0)
            if val_set is not None and (step % cfg.eval_every == 0 or step == cfg.steps) and acc.is_main_process:
                row.update(evaluate(core, val_set, cfg.val_items))
            log.append(row)
            if step % cfg.checkpoint_every == 0 and acc.is_main_process:
                _checkpoint(out, core, opt, step, log, cfg)
            bar.set_postfix(ce=f"{row['ce']:.3f}", val=f"{row.get('val_acc', float('nan')):.3f}")
            bar.update()
    except KeyboardInterrupt:
        if acc.is_main_process:
            _checkpoint(out, core, opt, step, log, cfg)
        raise
    finally:
        bar.close()
    if acc.is_main_process:
        _checkpoint(out, core, opt, step, log, cfg)
        # the model as it stands, also after --stop-after (its config says how far it got)
        core.save_pretrained(out / "model", extra={"train_config": asdict(cfg), "steps": step,
                                                   "finished": step >= cfg.steps})
    return log[-1] if log else {}


def _checkpoint(out: Path, model: MaskVAT, opt, step: int, log: list[dict], cfg: TrainConfig) -> None:
    with atomic_path(out / "checkpoint.pt") as tmp:
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "log": log, "cfg": asdict(cfg)}, tmp)
    write_log(out / "log.csv", log)
    plot_training(log, out / "curves.png")


def plot_training(log: list[dict], path: Path, n_levels: int = 9) -> None:
    """Training CE (smoothed) and validation masked-token accuracy per level, as a PNG."""
    series = [("val_acc", "all")] + [(f"val_acc_{k}", f"level {k}") for k in range(1, n_levels + 1)]
    plot_curves(log, path, loss_key="ce", loss_label="masked-token cross-entropy", loss_title="training",
                series=series, series_label="masked-token accuracy", series_title="validation")
