"""Train a DAC-architecture codec (``transformers.DacModel``), from nothing or from an existing one: ``maskvat codec train``.

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
   cosine decay. Optional (0 = off, the default): ``lambda_tone`` x the narrowband-excess
   loss (``maskvat.train.codec_losses.tone_distance``), against steady lines a decoder adds
   to everything it decodes (the shipped codec's first decoder added one at 947 Hz: issue 26).

Adversarial stage (``adversarial_start`` = N > 0; 0, the default, leaves it off): from
step N on, DAC's discriminators (``maskvat.train.discriminators``: multi-period, periods
2..11, and multi-band complex STFT, windows 2048/1024/512; channels times ``disc_width``)
train each step on the real crops against the current reconstructions (least-squares GAN,
AdamW (0.8, 0.99) at a constant ``disc_lr``), and the generator adds ``lambda_adv`` x the
LSGAN generator loss and ``lambda_fm`` x feature matching (DAC's weights 1 and 2; see
``maskvat.dsp`` for the reductions). Switch it on once reconstruction has
converged: the first N steps are the reconstruction-only recipe above.

Starting from an existing codec: ``init_from`` (a codec folder as ``AudioTokenizer`` reads
it, a shipped preset name such as ``lab``, or a ``codec train`` run folder) loads its
weights into ``preset``'s architecture; there is then no bypass warm-up and no k-means
(the codebooks are trained already). With ``freeze_encoder`` only the decoder trains:
encoder and quantizer keep their weights bit for bit (no weight norm on them, no
gradients, no dead-code restarts; the export leaves the codebooks as loaded), so every
clip encodes to the same codes as before and models trained on those codes stay valid;
this is how the shipped codec's decoder is fine-tuned adversarially. The decoder is fed
what ``DacModel`` computes from those codes (``quantize``'s ``raw_codes``). Quantizer
dropout still applies, so the decoder keeps decoding from fewer levels as it learnt to.
Without ``freeze_encoder`` the codebook rows are used and exported unit-norm, as in our own
training: for a codec whose rows are not (the published DAC's), that changes what its
quantizer passes on, and so its codes from the second level on.

Checkpoints (``checkpoint.pt``, every ``checkpoint_every`` steps and on Ctrl-C) hold the
model, optimiser, discriminator and its optimiser (when on), step, usage counters and log;
the batch and the quantizer dropout of step s are drawn from generators seeded by
(seed, s), so a resumed run continues exactly as an uninterrupted one. Checkpoints written
before these options existed resume with them at their defaults. At the end, ``OUT/codec``
holds the exported tokenizer (``AudioTokenizer.from_pretrained`` reads it). ``log.csv``
and ``curves.png`` add ``d_loss``, ``adv`` and ``fm`` for the adversarial steps.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from transformers import DacModel

from maskvat.atomic import atomic_path
from maskvat.codec.presets import CODEC_PRESETS
from maskvat.codec.tokenizer import AudioTokenizer, _plain_copy
from maskvat.codec.usage import code_usage, perplexity
from maskvat.data.corpus import AudioCorpus
from maskvat.dsp import mel_distance, stft_distance
from maskvat.errors import MaskvatError
from maskvat.train.codec_losses import (
    discriminator_loss,
    feature_matching_loss,
    generator_adv_loss,
    tone_distance,
)
from maskvat.train.discriminators import Discriminator
from maskvat.train.loop import LoopConfig, Trainer
from maskvat.train.runlog import plot_curves


@dataclass
class CodecTrainConfig(LoopConfig):
    """``maskvat codec train`` (``--config FILE``, flags override). Schedule: linear warm-up
    over ``warmup`` steps, then cosine decay to ``lr * lr_min_ratio``."""

    preset: str = "lab"
    steps: int = 20000
    batch_size: int = 8
    segment: int = 16384  # samples per crop (0.37 s at 44.1 kHz); a multiple of the hop
    lr: float = 5e-4
    lr_min_ratio: float = 0.1
    lr_end: float | None = None  # default lr * lr_min_ratio
    warmup: int = 300
    schedule: str = "cosine"
    betas: tuple[float, float] = (0.8, 0.99)  # DAC's
    weight_decay: float = 0.0
    grad_clip: float = 10.0
    bypass_steps: int = 500
    kmeans_crops: int = 64
    kmeans_iters: int = 15
    restart_every: int = 300
    quantizer_dropout: float = 0.25
    lambda_mel: float = 15.0
    lambda_stft: float = 1.0
    lambda_codebook: float = 1.0
    lambda_commit: float = 0.25
    lambda_tone: float = 0.0  # narrowband-excess loss (codec_losses.tone_distance); 0 = off
    loud_crops: float = 0.0  # fraction of each batch's crops placed on a loud moment (AudioCorpus.sample_batch)
    # adversarial stage (DAC): 0 = off, else the step from which discriminator and adv/fm losses train
    adversarial_start: int = 0
    lambda_adv: float = 1.0
    lambda_fm: float = 2.0
    disc_lr: float = 1e-4
    disc_width: float = 0.25  # channel multiplier of the discriminators (1.0: the papers' 42.5 M weights)
    # start from an existing codec (folder, shipped preset name, or run folder); train only its decoder
    init_from: str | None = None
    freeze_encoder: bool = False

    def __post_init__(self):
        if self.lr_end is None:
            self.lr_end = self.lr * self.lr_min_ratio
        super().__post_init__()

    @classmethod
    def from_dict(cls, data: dict, where: str = "codec training option"):
        data = dict(data)
        if "warmup_steps" in data:  # the name used before the one training loop
            data["warmup"] = data.pop("warmup_steps")
        return super().from_dict(data, where)


def check_config(cfg: CodecTrainConfig) -> None:
    """Refuse option combinations that cannot train (one MaskvatError naming the option)."""
    if cfg.preset not in CODEC_PRESETS:
        raise MaskvatError(f"unknown codec preset {cfg.preset!r} (choose from {', '.join(sorted(CODEC_PRESETS))})")
    if cfg.segment % 512:
        raise MaskvatError(f"segment {cfg.segment} must be a multiple of the hop (512)")
    if cfg.adversarial_start < 0:
        raise MaskvatError(f"adversarial_start must be 0 (off) or a step >= 1, got {cfg.adversarial_start}")
    if cfg.disc_width <= 0:
        raise MaskvatError(f"disc_width must be positive, got {cfg.disc_width}")
    if cfg.lambda_tone < 0:
        raise MaskvatError(f"lambda_tone must be >= 0, got {cfg.lambda_tone}")
    if cfg.lambda_tone and cfg.segment < 4096:
        raise MaskvatError(f"lambda_tone needs crops of at least 4096 samples (its window), got segment {cfg.segment}")
    if not 0 <= cfg.loud_crops <= 1:
        raise MaskvatError(f"loud_crops is a fraction of the batch, 0 to 1, got {cfg.loud_crops}")
    if cfg.freeze_encoder and not cfg.init_from:
        raise MaskvatError("freeze_encoder trains only the decoder of an existing codec: give init_from (--init-from)")


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


def empty_codec(preset: str, *, freeze_encoder: bool = False) -> DacModel:
    """A DacModel of ``preset`` laid out as training keeps it, for loading a checkpoint into:
    weight norm everywhere, or on the decoder only when the encoder is frozen."""
    model = DacModel(CODEC_PRESETS[preset].dac_config())
    _apply_weight_norm(model, decoder_only=freeze_encoder)
    return model


def codec_from(source: str | os.PathLike, preset: str, *, freeze_encoder: bool = False) -> DacModel:
    """The weights of an existing codec in ``preset``'s training layout (see ``empty_codec``).

    source: a codec folder (``AudioTokenizer.save_pretrained`` / ``export_codec``, fp16 too),
    a name ``AudioTokenizer.from_pretrained`` resolves (``lab``: the shipped codec), or a
    ``codec train`` run folder (its checkpoint.pt). A frozen encoder and quantizer keep the
    source's weights exactly (weight norm goes on the decoder only).
    """
    path = Path(source).expanduser()
    if (path / "checkpoint.pt").is_file() and not (path / "model.safetensors").is_file():
        state = torch.load(path / "checkpoint.pt", map_location="cpu", weights_only=False)
        run = empty_codec(state["config"]["preset"], freeze_encoder=state["config"].get("freeze_encoder", False))
        run.load_state_dict(state["module"])

        plain = _plain_copy(run)
    else:
        plain = AudioTokenizer.from_pretrained(str(source)).model.float()
    model = DacModel(CODEC_PRESETS[preset].dac_config())
    try:
        model.load_state_dict(plain.state_dict())
    except RuntimeError:
        cfg = plain.config
        raise MaskvatError(
            f"init_from {source}: its architecture (encoder {cfg.encoder_hidden_size}, decoder "
            f"{cfg.decoder_hidden_size}, hidden {cfg.hidden_size}, K={cfg.n_codebooks} x {cfg.codebook_size}) "
            f"is not the {preset!r} preset's; pass the matching --preset") from None
    _apply_weight_norm(model, decoder_only=freeze_encoder)
    return model


def _apply_weight_norm(model: DacModel, *, decoder_only: bool) -> None:
    """DAC's weight norm (every conv), or on the decoder's convolutions alone."""
    if not decoder_only:
        model.apply_weight_norm()
        return
    for m in model.decoder.modules():
        if isinstance(m, (torch.nn.Conv1d, torch.nn.ConvTranspose1d)):
            torch.nn.utils.parametrizations.weight_norm(m)


def new_discriminator(cfg: CodecTrainConfig) -> Discriminator:
    """The discriminator of ``cfg`` (``disc_width``), initialised from ``seed`` without touching the global RNG."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed * 1_000_003 + 99_991)
        return Discriminator(cfg.disc_width)


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
             generator: torch.Generator | None = None, raw_codes: bool = False) -> QuantizerPass:
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

    ``raw_codes``: look codes up and pass the codebook rows on exactly as ``DacModel`` does
    (rows as stored; they need not be unit-norm, the published DAC's are not), for a frozen
    quantizer: the decoder then trains on exactly what the saved codec will feed it.
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
        projected = level.in_proj(residual)
        ze = unit(projected, dim=1)
        if bypass:
            zq = ze
        else:
            if raw_codes:  # DacVectorQuantize's own lookup, so near-ties break as in the saved codec
                zq_raw, idx = level.decode_latents(projected)
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


def is_bypassed(cfg: CodecTrainConfig, step: int) -> bool:
    """Whether step ``step`` runs with the quantizer bypassed (never when starting from a codec)."""
    return step < cfg.bypass_steps and not (cfg.init_from or cfg.freeze_encoder)


def is_adversarial(cfg: CodecTrainConfig, step: int) -> bool:
    """Whether step ``step`` (0-based) trains the discriminator and adds the adversarial losses."""
    return cfg.adversarial_start > 0 and step >= cfg.adversarial_start


def reconstruct(model: DacModel, wav: torch.Tensor, cfg: CodecTrainConfig, step: int) -> tuple[torch.Tensor, QuantizerPass]:
    """Encode, quantise (bypass / dropout of step ``step``) and decode ``wav: [B, T]`` -> (recon [B, T], pass).

    With ``freeze_encoder`` the encoder and quantizer run without gradients, and the codebook
    rows are used as stored (``quantize``'s ``raw_codes``)."""
    gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
    bypass = is_bypassed(cfg, step)
    with torch.set_grad_enabled(torch.is_grad_enabled() and not cfg.freeze_encoder):
        z = model.encoder(wav[:, None])
        qp = quantize(model, z, bypass=bypass, dropout=0.0 if bypass else cfg.quantizer_dropout, generator=gen,
                      raw_codes=cfg.freeze_encoder)
    recon = model.decoder(qp.quantized)[:, 0, : wav.shape[-1]]
    return recon, qp


def generator_loss(recon: torch.Tensor, wav: torch.Tensor, qp: QuantizerPass, cfg: CodecTrainConfig, step: int,
                   disc: Discriminator | None = None) -> tuple[torch.Tensor, dict]:
    """The codec's loss for ``recon`` vs ``wav`` (both [B, T]) -> (total, floats per term).

    Reconstruction (mel, STFT), the narrowband-excess loss when its weight is not 0, the VQ losses (not while bypassed or frozen), and with ``disc`` the
    LSGAN generator loss and feature matching (the discriminator's weights get no gradient
    from it; its features of the real audio are computed without one).
    """
    mel = mel_distance(recon, wav)
    stft = stft_distance(recon, wav)
    loss = cfg.lambda_mel * mel + cfg.lambda_stft * stft
    extra = {}
    if cfg.lambda_tone:
        tone = tone_distance(recon, wav)
        loss = loss + cfg.lambda_tone * tone
        extra["tone"] = tone.item()
    if not is_bypassed(cfg, step) and not cfg.freeze_encoder:
        loss = loss + cfg.lambda_codebook * qp.codebook_loss + cfg.lambda_commit * qp.commitment_loss
    if disc is not None:
        disc.requires_grad_(False)
        try:
            fake_logits, fake_feats = disc(recon)
            with torch.no_grad():
                _, real_feats = disc(wav)
        finally:
            disc.requires_grad_(True)
        adv = generator_adv_loss(fake_logits)
        fm = feature_matching_loss(real_feats, fake_feats)
        loss = loss + cfg.lambda_adv * adv + cfg.lambda_fm * fm
        extra.update(adv=adv.item(), fm=fm.item())
    terms = {"loss": loss.item(), "mel": mel.item(), "stft": stft.item(),
             "codebook": qp.codebook_loss.item(), "commitment": qp.commitment_loss.item(), **extra}
    return loss, terms


def train_step(model: DacModel, wav: torch.Tensor, cfg: CodecTrainConfig, step: int,
               disc: Discriminator | None = None) -> tuple[torch.Tensor, dict, QuantizerPass]:
    """Forward one batch ``wav: [B, T]`` -> (total loss, floats per term, quantizer pass).

    ``disc``: add the adversarial and feature-matching terms (the discriminator's own update
    is ``discriminator_step``)."""
    recon, qp = reconstruct(model, wav, cfg, step)
    loss, terms = generator_loss(recon, wav, qp, cfg, step, disc)
    return loss, terms, qp


def discriminator_step(disc: Discriminator, opt: torch.optim.Optimizer, wav: torch.Tensor, fake: torch.Tensor,
                       cfg: CodecTrainConfig, step: int) -> float:
    """One LSGAN update of ``disc`` on real ``wav`` vs generated ``fake`` (both [B, T]; fake is
    detached here) -> the discriminator loss before the update. Gradients clipped at ``grad_clip``."""
    logits, _ = disc(torch.cat([wav, fake.detach()]))
    n = wav.shape[0]
    d_loss = discriminator_loss([x[:n] for x in logits], [x[n:] for x in logits])
    if not torch.isfinite(d_loss):
        raise MaskvatError(f"discriminator diverged at step {step} (loss {d_loss.item()}); lower the learning rates and resume")
    opt.zero_grad(set_to_none=True)
    d_loss.backward()
    torch.nn.utils.clip_grad_norm_(disc.parameters(), cfg.grad_clip)
    opt.step()
    return d_loss.item()


class CodecTrainer(Trainer):
    """The codec's reconstruction (and adversarial) training on the one loop: bypass warm-up,
    k-means codebooks, dead-code restarts, DAC's discriminators as extra checkpointed state."""

    desc, show, loss_label = "codec", "mel", "multi-scale mel L1"

    def __init__(self, cfg: CodecTrainConfig, out, corpus: AudioCorpus, *, progress: bool = True):
        super().__init__(cfg, out, progress=progress)
        self.corpus = corpus

    def build(self) -> DacModel:
        cfg = self.cfg
        check_config(cfg)
        if (self.out / "checkpoint.pt").is_file():
            model = empty_codec(cfg.preset, freeze_encoder=cfg.freeze_encoder)
        elif cfg.init_from:
            model = codec_from(cfg.init_from, cfg.preset, freeze_encoder=cfg.freeze_encoder)
        else:
            model = new_codec(cfg.preset, cfg.seed)
        if cfg.freeze_encoder:
            model.encoder.requires_grad_(False)
            model.quantizer.requires_grad_(False)
        self.disc = self.disc_opt = None
        if cfg.adversarial_start:
            self.disc = new_discriminator(cfg).to(self.device)
            self.disc_opt = torch.optim.AdamW(self.disc.parameters(), lr=cfg.disc_lr, betas=(0.8, 0.99),
                                              weight_decay=cfg.weight_decay)
        k, c = model.config.n_codebooks, model.config.codebook_size
        self.usage = torch.zeros(k, c, dtype=torch.long)
        self.kmeans_at = None if (cfg.init_from or cfg.freeze_encoder) else cfg.bypass_steps
        return model

    def parameters(self):
        return [p for p in self.module.parameters() if p.requires_grad]

    def batch(self, step: int) -> dict:
        cfg = self.cfg
        self.step_now = step
        if step == self.kmeans_at:
            crops = self.corpus.sample_batch(cfg.kmeans_crops, cfg.segment, np.random.default_rng([cfg.seed, 7, step]))
            kmeans_init(self.module, torch.from_numpy(crops).to(self.device), cfg.kmeans_iters, cfg.seed)
            self.usage.zero_()
        wav = self.corpus.sample_batch(cfg.batch_size, cfg.segment, np.random.default_rng([cfg.seed, step]),
                                       loud=cfg.loud_crops)
        return {"wav": torch.from_numpy(wav)}

    def loss(self, module: DacModel, batch: dict):
        cfg, step, wav = self.cfg, self.step_now, batch["wav"]
        adversarial = self.disc is not None and is_adversarial(cfg, step)
        recon, qp = reconstruct(module, wav, cfg, step)
        d_loss = discriminator_step(self.disc, self.disc_opt, wav, recon, cfg, step) if adversarial else None
        loss, terms = generator_loss(recon, wav, qp, cfg, step, self.disc if adversarial else None)
        terms.pop("loss")
        if d_loss is not None:
            terms["d_loss"] = d_loss
        self.last_pass = qp
        return loss, terms

    def after_step(self, step: int, batch: dict, row: dict) -> None:
        qp, cfg = self.last_pass, self.cfg
        if not qp.codes:
            return
        self.usage += code_usage(qp.codes, qp.active, self.module.config.codebook_size)
        if (step + 1) % cfg.restart_every == 0:
            row.update({f"used_{i}": float(u) for i, u in enumerate((self.usage > 0).float().mean(1))})
            row.update({f"ppl_{i}": float(p) for i, p in enumerate(perplexity(self.usage))})
            if not cfg.freeze_encoder:  # a frozen codebook keeps its dead codes: the code space stays
                gen = torch.Generator().manual_seed(cfg.seed * 7919 + step + 1)
                row["restarted"] = sum(restart_dead_codes(self.module, self.usage, qp.latents, gen))
            self.usage.zero_()

    def extra_state(self) -> dict:
        out = {"usage": self.usage}
        if self.disc is not None:
            out.update(disc=self.disc.state_dict(), disc_opt=self.disc_opt.state_dict())
        return out

    def load_extra_state(self, state: dict) -> None:
        if "usage" in state:
            self.usage = state["usage"]
        if self.disc is not None and state.get("disc") is not None:
            self.disc.load_state_dict(state["disc"])
            self.disc_opt.load_state_dict(state["disc_opt"])

    def plot(self, log: list[dict], path: Path) -> None:
        plot_codec_curves(log, path)

    def finish(self) -> None:
        if self.step >= self.cfg.steps:
            export_codec(self.module, self.out / "codec", normalize_codebooks=not self.cfg.freeze_encoder)


def train_codec(corpus: AudioCorpus, out_dir: str | os.PathLike, cfg: CodecTrainConfig | None = None, *,
                device: str = "cpu", progress: bool = True, stop_after: int | None = None) -> dict:
    """Train (or resume) a codec on ``corpus``; writes OUT/config.json, checkpoint.pt, log.csv,
    curves.png and, when finished, OUT/codec/. ``stop_after``: leave after this many steps of
    this call (the checkpoint is written). Returns the last log row."""
    return CodecTrainer(cfg or CodecTrainConfig(), out_dir, corpus, progress=progress).run(device=device,
                                                                                           stop_after=stop_after)


def export_codec(model: DacModel, folder: Path, *, half: bool = False, normalize_codebooks: bool = True) -> None:
    """Write the trained codec as an AudioTokenizer folder (weight norm folded; fp16 if ``half``).

    ``normalize_codebooks``: make the codebook rows unit-norm, as training used them (see
    ``quantize``); a frozen quantizer (``freeze_encoder``) is written as it was loaded."""

    if normalize_codebooks:
        with torch.no_grad():  # the trained quantizer uses unit-norm codes (see ``quantize``)
            for level in model.quantizer.quantizers:
                level.codebook.weight.copy_(F.normalize(level.codebook.weight, dim=1))
    tok = AudioTokenizer(model.cpu())
    if not half:
        tok.save_pretrained(folder)
        return

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
    frozen = state["config"].get("freeze_encoder", False)
    model = empty_codec(state["config"]["preset"], freeze_encoder=frozen)
    model.load_state_dict(state["module"])
    export_codec(model, Path(folder), half=half, normalize_codebooks=not frozen)


def plot_codec_curves(log: list[dict], path: Path, n_levels: int = 9) -> None:
    """Mel loss (smoothed) and per-level share of codes used, as a PNG; a third panel with the
    discriminator loss, the adversarial and the feature-matching loss once the adversarial stage ran."""
    usage = [(f"used_{i}", f"level {i + 1}") for i in range(n_levels)]
    if not any("d_loss" in r for r in log):
        plot_curves(log, path, loss_key="mel", loss_label="multi-scale mel L1", loss_title="reconstruction",
                    series=usage, series_label="share of codes used", series_title="code usage per level",
                    ylim=(0, 1.02))
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 3.8), dpi=100)
    _smoothed(axes[0], log, "mel", "mel", raw=True)
    axes[0].set(xlabel="step", ylabel="multi-scale mel L1", title="reconstruction")
    for key, label in usage:
        rows = [r for r in log if r.get(key) not in (None, "")]
        if rows:
            axes[1].plot([r["step"] for r in rows], [float(r[key]) for r in rows], lw=1, label=label)
            axes[1].legend(fontsize=7, ncol=2)
    axes[1].set(xlabel="step", ylabel="share of codes used", title="code usage per level", ylim=(0, 1.02))
    for key, label in (("d_loss", "discriminator"), ("adv", "generator (adversarial)"), ("fm", "feature matching")):
        _smoothed(axes[2], log, key, label, raw=True)
    axes[2].set(xlabel="step", ylabel="loss (log scale)", title="adversarial stage", yscale="log")
    axes[2].legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def _smoothed(ax, log: list[dict], key: str, label: str, *, raw: bool = False) -> None:
    """Plot ``key`` over the rows that have it, as a 25-step moving average (and raw, faint)."""
    rows = [r for r in log if r.get(key) not in (None, "")]
    if not rows:
        return
    steps = np.array([r["step"] for r in rows])
    vals = np.array([float(r[key]) for r in rows])
    win = min(25, len(vals))
    line = ax.plot(steps[win - 1:], np.convolve(vals, np.ones(win) / win, mode="valid"), lw=1.5, label=label)[0]
    if raw:
        ax.plot(steps, vals, alpha=0.25, lw=0.6, color=line.get_color())
