"""Train a DAC-architecture codec (``transformers.DacModel``) from nothing: ``maskvat codec train``.

The recipe is DAC's (Kumar et al. 2023) scaled down, plus what keeps a small residual VQ
alive on a short budget:

1. Weight norm as DAC, with a variance-keeping initialisation (see ``new_codec``).
2. Warm-up with the quantizer bypassed (``bypass_steps``): each level's factorised
   projections carry the continuous latent, so encoder and decoder learn first.
3. Codebooks initialised by k-means (cosine) on the encoder's per-level residuals.
4. Dead-code restart: every ``restart_every`` steps, codes unused since the last restart
   are replaced by random current encoder outputs of that level.
5. Losses: multi-scale mel (x15), multi-resolution STFT (x1), codebook (x1) and
   commitment (x0.25); quantizer dropout 0.25 (DAC: 0.5); AdamW (0.8, 0.99), linear warm-up then
   cosine decay.

Adversarial training (DAC's multi-period and multi-resolution STFT discriminators) is
not implemented yet; see BENCHMARKS.md for what the reconstruction-only recipe reaches.

Checkpoints (``checkpoint.pt``, every ``checkpoint_every`` steps and on Ctrl-C) hold the
model, optimiser, step, usage counters and log; the batch and the quantizer dropout of
step s are drawn from generators seeded by (seed, s), so a resumed run continues exactly
as an uninterrupted one. At the end, ``OUT/codec`` holds the exported tokenizer
(``AudioTokenizer.from_pretrained`` reads it).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm
from transformers import DacModel

from maskvat.codec.corpus import AudioCorpus
from maskvat.codec.losses import mel_distance, stft_distance
from maskvat.codec.presets import CODEC_PRESETS
from maskvat.config_checks import from_checked_dict
from maskvat.errors import MaskvatError
from maskvat.media.atomic import atomic_path
from maskvat.runlog import plot_curves, write_log


@dataclass
class CodecTrainConfig:
    preset: str = "lab"
    steps: int = 20000
    batch_size: int = 8
    segment: int = 16384  # samples per crop (0.37 s at 44.1 kHz); a multiple of the hop
    lr: float = 5e-4
    lr_min_ratio: float = 0.1
    warmup_steps: int = 300
    weight_decay: float = 0.0
    bypass_steps: int = 500
    kmeans_crops: int = 64
    kmeans_iters: int = 15
    restart_every: int = 300
    quantizer_dropout: float = 0.25
    lambda_mel: float = 15.0
    lambda_stft: float = 1.0
    lambda_codebook: float = 1.0
    lambda_commit: float = 0.25
    grad_clip: float = 10.0
    checkpoint_every: int = 250
    seed: int = 0

    @classmethod
    def from_dict(cls, d: dict) -> "CodecTrainConfig":
        return from_checked_dict(cls, d, "codec training option")


def lr_at(step: int, cfg: CodecTrainConfig) -> float:
    """Linear warm-up to ``lr`` over ``warmup_steps``, then cosine decay to ``lr * lr_min_ratio`` at ``steps``."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    t = min(1.0, (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps))
    return cfg.lr * (cfg.lr_min_ratio + (1 - cfg.lr_min_ratio) * 0.5 * (1 + math.cos(math.pi * t)))


def new_codec(preset: str, seed: int = 0, gain: float = 0.7) -> DacModel:
    """A DacModel of ``preset`` initialised for training, with weight norm applied.

    DAC's own initialisation (std 0.02) is made for 1024-channel layers; in the narrow lab
    codec it shrinks the latent to 1e-4 of the input, and training stalls. Here every
    Conv1d draws std = gain / sqrt(fan_in) (gain 0.7 keeps encoder output and decoder
    input near unit scale, measured), and the last decoder layer starts small (0.02), so
    the first outputs are quiet rather than saturated.
    """
    if preset not in CODEC_PRESETS:
        raise MaskvatError(f"unknown codec preset {preset!r} (choose from {', '.join(sorted(CODEC_PRESETS))})")
    torch.manual_seed(seed)
    model = DacModel(CODEC_PRESETS[preset].dac_config())
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.Conv1d):
                torch.nn.init.trunc_normal_(m.weight, std=gain / math.sqrt(m.in_channels * m.kernel_size[0]))
                torch.nn.init.zeros_(m.bias)
            elif isinstance(m, torch.nn.ConvTranspose1d):
                m.reset_parameters()
        torch.nn.init.trunc_normal_(model.decoder.conv2.weight, std=0.02)
    model.apply_weight_norm()
    return model


def unit(x: torch.Tensor, dim: int, eps: float = 1e-3) -> torch.Tensor:
    """x / |x| along ``dim``, smooth at 0 (``F.normalize``'s gradient is NaN for an all-zero
    vector, which silent input gives)."""
    return x * torch.rsqrt(x.pow(2).sum(dim, keepdim=True) + eps * eps)


@dataclass
class QuantizerPass:
    """What one pass through the residual VQ gives. ``quantized: [B, H, L]``; per-level lists."""

    quantized: torch.Tensor
    codebook_loss: torch.Tensor
    commitment_loss: torch.Tensor
    codes: list[torch.Tensor]  # K x [B, L] (empty when bypassed)
    latents: list[torch.Tensor]  # K x [B, D, L], the in_proj outputs
    active: torch.Tensor  # [B] number of levels used per item


def quantize(model: DacModel, z: torch.Tensor, *, bypass: bool = False, dropout: float = 0.0,
             generator: torch.Generator | None = None) -> QuantizerPass:
    """Residual VQ of encoder output ``z: [B, H, L]``, as ``DacResidualVectorQuantizer`` in training mode.

    ``bypass``: each level passes its projected latent on unquantised. ``dropout``: that
    fraction of the batch uses only the first n ~ U{1..K} levels (DAC's quantizer dropout).
    Losses are means over the items' active levels.

    Unlike ``DacVectorQuantize`` (which looks up by cosine but passes on the raw codebook
    vector), both the projected latent and the code are L2-normalised here, so neither the
    encoder's scale nor the codebook's can run away: in a first run the encoder output grew
    to 1e4 while the codes stayed near 1, the codebook loss reached 2e8 and every level
    collapsed to one code. ``export_codec`` normalises the codebook rows, so the saved
    ``DacModel`` computes exactly what was trained.
    """
    levels = model.quantizer.quantizers
    n_items = z.shape[0]
    active = torch.full((n_items,), len(levels), dtype=torch.long)
    n_drop = int(n_items * dropout)
    if n_drop:
        active[:n_drop] = torch.randint(1, len(levels) + 1, (n_drop,), generator=generator)
    active = active.to(z.device)
    residual, quantized = z, torch.zeros_like(z)
    cb_loss = commit_loss = z.new_zeros(())
    codes, latents = [], []
    for i, level in enumerate(levels):
        ze = unit(level.in_proj(residual), dim=1)
        if bypass:
            zq = ze
        else:
            idx = (ze.transpose(1, 2) @ F.normalize(level.codebook.weight, dim=1).t()).argmax(-1)  # cosine, [B, L]
            zq_raw = unit(level.codebook(idx), dim=-1).transpose(1, 2)
            used = (i < active).float()
            cb_loss = cb_loss + (F.mse_loss(zq_raw, ze.detach(), reduction="none").mean((1, 2)) * used).mean()
            commit_loss = commit_loss + (F.mse_loss(ze, zq_raw.detach(), reduction="none").mean((1, 2)) * used).mean()
            zq = ze + (zq_raw - ze).detach()
            codes.append(idx)
        qi = level.out_proj(zq)
        quantized = quantized + qi * (i < active).to(qi.dtype)[:, None, None]
        residual = residual - qi
        latents.append(ze)
    return QuantizerPass(quantized, cb_loss, commit_loss, codes, latents, active)


@torch.no_grad()
def kmeans_init(model: DacModel, wav: torch.Tensor, iters: int = 15, seed: int = 0) -> None:
    """Set every level's codebook to k-means centroids (cosine assignment) of its residual latents.

    wav: [B, T]. Levels are fitted in order, each on the residual the previous ones leave.
    """
    gen = torch.Generator().manual_seed(seed)
    residual = model.encoder(wav[:, None])
    for level in model.quantizer.quantizers:
        ze = F.normalize(level.in_proj(residual), dim=1)  # [B, D, L]
        x = ze.permute(0, 2, 1).reshape(-1, ze.shape[1])
        k = level.codebook.weight.shape[0]
        centroids = x[torch.randint(0, len(x), (k,), generator=gen)].clone()
        for _ in range(iters):
            assign = (F.normalize(x) @ F.normalize(centroids).t()).argmax(1)
            sums = torch.zeros_like(centroids).index_add_(0, assign, x)
            counts = torch.bincount(assign, minlength=k).float()
            empty = counts == 0
            centroids = torch.where(empty[:, None], x[torch.randint(0, len(x), (k,), generator=gen)], sums / counts.clamp_min(1)[:, None])
        level.codebook.weight.copy_(F.normalize(centroids, dim=1))
        idx = (ze.transpose(1, 2) @ level.codebook.weight.t()).argmax(-1)
        residual = residual - level.out_proj(level.codebook(idx).transpose(1, 2))


@torch.no_grad()
def restart_dead_codes(model: DacModel, usage: torch.Tensor, latents: list[torch.Tensor], generator: torch.Generator) -> list[int]:
    """Replace codes with zero ``usage [K, C]`` by distinct random vectors from ``latents`` (K x [B, D, L]).

    At most as many codes as there are latent vectors are replaced at once; the rest wait
    for the next restart. Returns the number of codes replaced per level.
    """
    replaced = []
    for level, counts, ze in zip(model.quantizer.quantizers, usage, latents):
        dead = torch.nonzero(counts == 0).flatten()
        if len(dead):
            pool = ze.detach().permute(0, 2, 1).reshape(-1, ze.shape[1])
            # at most one new code per pool vector: duplicates would split one cluster many ways
            dead = dead[torch.randperm(len(dead), generator=generator)[: len(pool)]]
            pick = torch.randperm(len(pool), generator=generator)[: len(dead)]
            noise = 0.01 * pool.std() * torch.randn(len(dead), pool.shape[1], generator=generator)
            level.codebook.weight[dead.to(level.codebook.weight.device)] = pool[pick.to(pool.device)] + noise.to(pool.device)
        replaced.append(int(len(dead)))
    return replaced


def code_usage(codes: list[torch.Tensor], active: torch.Tensor, codebook_size: int) -> torch.Tensor:
    """Counts [K, C] of each code at each level, over the items where that level was active."""
    rows = []
    for i, idx in enumerate(codes):
        keep = idx[active > i]
        rows.append(torch.bincount(keep.flatten().cpu(), minlength=codebook_size))
    return torch.stack(rows)


def perplexity(counts: torch.Tensor) -> torch.Tensor:
    """exp(entropy) of each row of counts [K, C] -> [K]."""
    p = counts.float() / counts.sum(-1, keepdim=True).clamp_min(1)
    return torch.exp(-(p * p.clamp_min(1e-12).log()).sum(-1))


def train_step(model: DacModel, wav: torch.Tensor, cfg: CodecTrainConfig, step: int) -> tuple[torch.Tensor, dict, QuantizerPass]:
    """Forward one batch ``wav: [B, T]`` -> (total loss, floats per term, quantizer pass)."""
    gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
    bypass = step < cfg.bypass_steps
    z = model.encoder(wav[:, None])
    qp = quantize(model, z, bypass=bypass, dropout=0.0 if bypass else cfg.quantizer_dropout, generator=gen)
    recon = model.decoder(qp.quantized)[:, 0, : wav.shape[-1]]
    mel = mel_distance(recon, wav)
    stft = stft_distance(recon, wav)
    loss = cfg.lambda_mel * mel + cfg.lambda_stft * stft
    if not bypass:
        loss = loss + cfg.lambda_codebook * qp.codebook_loss + cfg.lambda_commit * qp.commitment_loss
    terms = {"loss": loss.item(), "mel": mel.item(), "stft": stft.item(),
             "codebook": qp.codebook_loss.item(), "commitment": qp.commitment_loss.item()}
    return loss, terms, qp


def train_codec(corpus: AudioCorpus, out_dir: str | os.PathLike, cfg: CodecTrainConfig | None = None, *,
                device: str = "cpu", progress: bool = True, stop_after: int | None = None) -> dict:
    """Train (or resume) a codec on ``corpus``; writes OUT/checkpoint.pt, log.csv, curves.png, codec/.

    ``stop_after``: return (after checkpointing) once this many steps have been taken in
    this call, as if interrupted (tests, time-boxed sessions). Returns the last log row.
    """
    cfg = cfg or CodecTrainConfig()
    if cfg.segment % 512:
        raise MaskvatError(f"segment {cfg.segment} must be a multiple of the hop (512)")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    dev = torch.device(device)
    model = new_codec(cfg.preset, cfg.seed).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=(0.8, 0.99), weight_decay=cfg.weight_decay)
    k, c = model.config.n_codebooks, model.config.codebook_size
    state = _load_checkpoint(out, cfg)
    if state:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        step, log, usage = state["step"], state["log"], state["usage"]
    else:
        step, log, usage = 0, [], torch.zeros(k, c, dtype=torch.long)
        (out / "train_config.json").write_text(json.dumps(asdict(cfg), indent=1))
    bar = tqdm(total=cfg.steps, initial=step, desc="codec", unit="step", disable=not progress)
    taken = 0
    try:
        while step < cfg.steps and (stop_after is None or taken < stop_after):
            if step == cfg.bypass_steps:
                rng = np.random.default_rng([cfg.seed, 7, step])
                crops = torch.from_numpy(corpus.sample_batch(cfg.kmeans_crops, cfg.segment, rng)).to(dev)
                kmeans_init(model, crops, cfg.kmeans_iters, cfg.seed)
                usage.zero_()
            model.train()
            for group in opt.param_groups:
                group["lr"] = lr_at(step, cfg)
            wav = torch.from_numpy(corpus.sample_batch(cfg.batch_size, cfg.segment, np.random.default_rng([cfg.seed, step]))).to(dev)
            loss, terms, qp = train_step(model, wav, cfg, step)
            if not torch.isfinite(loss):
                raise MaskvatError(f"codec training diverged at step {step} (loss {loss.item()}); lower --lr and resume")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            step += 1
            taken += 1
            row = {"step": step, "lr": lr_at(step - 1, cfg), **terms}
            if qp.codes:
                usage += code_usage(qp.codes, qp.active, c)
                if step % cfg.restart_every == 0:
                    used = (usage > 0).float().mean(1)
                    ppl = perplexity(usage)
                    row.update({f"used_{i}": float(u) for i, u in enumerate(used)})
                    row.update({f"ppl_{i}": float(p) for i, p in enumerate(ppl)})
                    gen = torch.Generator().manual_seed(cfg.seed * 7919 + step)
                    row["restarted"] = sum(restart_dead_codes(model, usage, qp.latents, gen))
                    usage.zero_()
            log.append(row)
            if step % cfg.checkpoint_every == 0:
                _save_checkpoint(out, model, opt, step, log, usage, cfg)
            bar.set_postfix(mel=f"{terms['mel']:.3f}", phase="bypass" if step <= cfg.bypass_steps else "vq")
            bar.update()
    except KeyboardInterrupt:
        _save_checkpoint(out, model, opt, step, log, usage, cfg)
        raise
    finally:
        bar.close()
    _save_checkpoint(out, model, opt, step, log, usage, cfg)
    if step >= cfg.steps:
        export_codec(model, out / "codec")
    return log[-1] if log else {}


def export_codec(model: DacModel, folder: Path, *, half: bool = False) -> None:
    """Write the trained codec as an AudioTokenizer folder (weight norm folded; fp16 if ``half``)."""
    from maskvat.codec.tokenizer import AudioTokenizer

    with torch.no_grad():  # the trained quantizer uses unit-norm codes (see ``quantize``)
        for level in model.quantizer.quantizers:
            level.codebook.weight.copy_(F.normalize(level.codebook.weight, dim=1))
    tok = AudioTokenizer(model.cpu())
    if not half:
        tok.save_pretrained(folder)
        return
    from maskvat.codec.tokenizer import _plain_copy

    plain = _plain_copy(model)
    if plain is model:
        import copy

        plain = copy.deepcopy(model)
    plain.half().save_pretrained(str(folder), safe_serialization=True)


def export_from_run(run: str | os.PathLike, folder: str | os.PathLike, *, half: bool = False) -> None:
    """Export the weights of a run's last checkpoint (also mid-training) as a codec folder."""
    path = Path(run) / "checkpoint.pt"
    if not path.is_file():
        raise MaskvatError(f"{run}: no checkpoint.pt (not a `maskvat codec train` run)")
    state = torch.load(path, map_location="cpu", weights_only=False)
    model = new_codec(state["cfg"]["preset"])
    model.load_state_dict(state["model"])
    export_codec(model, Path(folder), half=half)


def _load_checkpoint(out: Path, cfg: CodecTrainConfig) -> dict | None:
    path = out / "checkpoint.pt"
    if not path.is_file():
        return None
    state = torch.load(path, map_location="cpu", weights_only=False)
    if state["cfg"] != asdict(cfg):
        changed = sorted(k for k in asdict(cfg) if state["cfg"].get(k) != asdict(cfg)[k])
        raise MaskvatError(f"{path}: checkpoint was made with other settings ({', '.join(changed)}); "
                           "use the same options to resume, or a new --out folder")
    return state


def _save_checkpoint(out: Path, model, opt, step: int, log: list[dict], usage, cfg: CodecTrainConfig) -> None:
    with atomic_path(out / "checkpoint.pt") as tmp:
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "log": log,
                    "usage": usage, "cfg": asdict(cfg)}, tmp)
    write_log(out / "log.csv", log)
    plot_codec_curves(log, out / "curves.png")


def plot_codec_curves(log: list[dict], path: Path, n_levels: int = 9) -> None:
    """Mel loss (smoothed) and per-level share of codes used, as a PNG."""
    plot_curves(log, path, loss_key="mel", loss_label="multi-scale mel L1", loss_title="reconstruction",
                series=[(f"used_{i}", f"level {i + 1}") for i in range(n_levels)],
                series_label="share of codes used", series_title="code usage per level", ylim=(0, 1.02))
