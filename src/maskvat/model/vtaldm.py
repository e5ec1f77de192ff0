"""VTA-LDM-style generator: conditional flow matching over the codec's continuous latent
(Xu et al. 2024, "Video-to-Audio Generation with Hidden Alignment", arXiv 2407.07464;
github.com/ariesssxu/vta-ldm).

    model = VTALDM(vtaldm_config("lab-vtaldm"))
    cond, null = model.condition_pair(semantic=sem, sync=sync, length=L)   # visual memory, [NULL]
    v = model.velocity(x_t, t, cond)                                       # [B, L, H]
    loss, terms = flow_matching_loss(model, latent, drop, t, noise, sem, sync, valid=valid)

What VTA-LDM is (paper section 3; the reference's ``models.py``), and what we keep:

- A latent generative model conditioned on per-frame CLIP image embeddings through
  cross-attention: the reference's ``Clip4Video`` encodes each frame with CLIP's vision tower
  (``image_embeds``, one vector per frame), a linear layer maps them to the width of the
  denoiser, and the UNet cross-attends to that sequence (``encoder_hidden_states``). Here: the
  semantic (CLIP-role) stream, per frame, through an MLP to ``d_model``; the denoiser's
  blocks cross-attend to it (``maskvat.model.layers.HybridBlock``: self-attention and MLP
  modulated by the flow time (adaLN-Zero), cross-attention to the visual memory). No
  frame-repetition adapter: the alignment is left to attention ("hidden alignment").
- Auxiliary embeddings (paper: "auxiliary embeddings", ablated as +PE and +text, the latter
  *concatenated* with the frame embeddings along the sequence): (1) a temporal position
  embedding of every visual token (the reference adds a sinusoidal embedding of the frame
  index, ``pe=True``); ours is the sinusoid of the token's *time*, in latent frames, through a
  learned linear map, the same sinusoid the latent frames carry, so that a frame and the
  picture of its instant share a position code; (2) a second conditioning stream concatenated
  along the sequence axis, as the reference concatenates its text embedding: we have no
  captions, and concatenate the sync (S3D-role) stream instead (``use_sync``), each stream
  marked by a learned type embedding.
- Temporal augmentation (the abstract's "multi-scale temporal data augmentation"; the
  reference's README lists "+concat" models and its scripts "augment" checkpoints, but its
  training code is not published, and the paper's augmentation section could not be read where
  this was written: "concat" read as clips concatenated in time). Training items are spliced
  from two clips at a random cut, the audio latent and every visual stream cut at the same
  instant, so that a change of picture must bring a change of sound at that instant
  (``temporal_concat``; ``concat_prob`` of the items, the cut uniform in ``concat_range`` of
  the window: segments of many lengths).
- Classifier-free guidance with a learned null condition: 10% conditioning dropout; a dropped
  item's visual tokens are replaced by learned [NULL] vectors, one per stream (the reference
  uses zeros); sampling combines v_g = (1 + gamma) v_c - gamma v_u, the project's guidance
  convention (the reference's u + s (c - u) with s = 1 + gamma; its ``inference_from_video.sh``
  uses s = 3, i.e. gamma = 2).

Where we depart from VTA-LDM:

- The latent: VTA-LDM diffuses AudioLDM's mel-spectrogram VAE latent (16 kHz, 8 x 256 x 16 for
  10 s) and decodes with the VAE decoder and a HiFi-GAN vocoder. We generate the DAC codec's
  continuous latent at 44.1 kHz (``[B, H, L]``, H = the codec's hidden width, 86.13 frames/s):
  the decoder's input, i.e. the quantised representation ``AudioTokenizer.quantized(codes)``
  (the sum over levels of each code's vector through its level's ``out_proj``). Not the
  encoder's output (the RVQ's input): that space is not what the decoder reads (the shipped lab
  codec's encoder output is ~4,000 times larger, and each RVQ level reads only the direction of
  its 8-dim projection of it), and the shared cache holds codes only, from which the decoder's
  input is exact and the encoder's output is lost. A generated latent becomes codes by a search
  for the codes whose quantised representation is nearest it (``AudioTokenizer.nearest_codes``:
  greedy over the levels, then coordinate-descent sweeps), which the codec's decoder decodes;
  the pipeline's windows, editing and beams then work on codes as for the other generators, at
  the cost of that search's error (the reference has no such step). Per-channel mean and
  standard deviation of the training latents normalise it (``latent_mean`` / ``latent_std``,
  as the reference scales its VAE latent by a ``scale_factor``).
- The objective and sampler: VTA-LDM trains a DDPM (v-prediction, 1,000 steps, scaled-linear
  betas: its ``configs/stable-diffusion-2-1.scheduler_48k.json``) and samples with the DDPM
  scheduler over 300 steps (``inference_from_video.sh``). We train conditional flow matching on the straight path
  x_t = (1 - t) x_0 + t x_1 (x_0 Gaussian noise, x_1 the latent; rectified flow, Liu et al. 2022;
  Lipman et al. 2023), the network predicting the velocity x_1 - x_0, t ~ U[0, 1], and sample by
  integrating the ODE with a few Euler or Heun steps (``maskvat.sampling.flow``).
- The denoiser: a 1-D transformer over latent frames (time-modulated, cross-attending to the
  visual memory) instead of a 2-D UNet over the mel latent.
- The features: the project's semantic (CLIP-role) and sync (S3D-role) encoders instead of
  CLIP4Clip; no text.

Shapes: latent [B, H, L] (codec units) or [B, L, H] (normalised, what the network reads);
semantic [B, Ns, Ds]; sync [B, Ny, Dy]; drop [B] bool; t [B] in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import nn

from maskvat.config_checks import from_checked_dict
from maskvat.errors import MaskvatError
from maskvat.model.folder import GeneratorFolder
from maskvat.model.generator_io import GeneratorIO
from maskvat.model.layers import (
    HybridBlock,
    Mlp,
    modulate,
    nearest_resample,
    sinusoid_at,
)

KIND = "vtaldm"
SOLVERS = ("euler", "heun")
CODEC_FRAME_RATE = 44100 / 512  # codegram (latent) frames per second of every MaskVAT codec


@dataclass(frozen=True)
class VTALDMConfig(GeneratorIO):
    """Architecture of one VTA-LDM-style flow generator (saved as ``config.json`` with
    ``"kind": "vtaldm"``). The feature/codec fields: ``GeneratorIO`` (``codec_hidden`` is the
    latent's width H). ``solver``: the ODE solver the pipeline uses unless the sampler settings
    name one. ``concat_prob`` / ``concat_range``: the temporal augmentation in training."""

    d_model: int = 224
    n_layers: int = 6
    n_heads: int = 4
    mlp_ratio: float = 4.0
    dropout: float = 0.0
    solver: str = "heun"
    concat_prob: float = 0.5
    concat_range: tuple[float, float] = (0.2, 0.8)

    def __post_init__(self):
        object.__setattr__(self, "concat_range", tuple(self.concat_range))
        super().__post_init__()
        if self.d_model % self.n_heads or self.d_model % 2:
            raise MaskvatError(f"d_model {self.d_model} must be even and divisible by n_heads {self.n_heads}")
        if self.solver not in SOLVERS:
            raise MaskvatError(f"unknown ODE solver {self.solver!r} (choose from {', '.join(SOLVERS)})")
        lo, hi = self.concat_range
        if not (0 <= self.concat_prob <= 1 and 0 < lo <= hi < 1):
            raise MaskvatError("concat_prob must lie in [0, 1] and concat_range be (lo, hi) with 0 < lo <= hi < 1")

    variant = "vtaldm"  # class attribute (not a field): what trainers and checks name the family by

    def tokens(self, fps: float, length: int) -> int:
        """Visual tokens of a stream at ``fps`` over ``length`` latent frames (at least one)."""
        return max(1, round(length / CODEC_FRAME_RATE * fps))

    @classmethod
    def from_dict(cls, d: dict) -> VTALDMConfig:
        return from_checked_dict(cls, d, "VTA-LDM config key")


_LAB = VTALDMConfig()
# a paper-scale size over DAC 44 kHz and the paper encoders (the reference's UNet has ~1 B
# parameters at its large size; this is a DiT-B-like width, not a copy of it)
_PAPER = replace(_LAB, d_model=768, n_layers=12, n_heads=12, dropout=0.1, codec_hidden=1024, max_frames=862,
                 window_seconds=10.0, semantic_dim=512, sync_dim=512, sync_fps=3.125, audio_dim=768, audio_fps=6.25,
                 codec="descript/dac_44khz", semantic_encoder="clip-vit-b32", sync_encoder="s3d-sparsesync",
                 audio_encoder="beats")
_DEBUG = replace(_LAB, d_model=32, n_layers=1, n_heads=4, codec="tiny", codec_hidden=64, max_frames=40,
                 window_seconds=40 * 512 / 44100)

VTALDM_CONFIGS: dict[str, VTALDMConfig] = {
    "debug-vtaldm": _DEBUG,
    "lab-vtaldm": _LAB,  # 7.16 M parameters, as lab-adaln-b (7.12 M): 6 blocks of width 224
    "paper-vtaldm": _PAPER,
}


def vtaldm_config(name: str, **overrides) -> VTALDMConfig:
    """A named VTA-LDM configuration, with fields overridden."""
    if name not in VTALDM_CONFIGS:
        raise MaskvatError(f"unknown VTA-LDM config {name!r} (choose from {', '.join(VTALDM_CONFIGS)})")
    return replace(VTALDM_CONFIGS[name], **overrides)


# ---- the temporal augmentation: a pure function ---------------------------------------------------
def temporal_concat(streams: dict[str, torch.Tensor | None], partner: torch.Tensor, cut: torch.Tensor,
                    splice: torch.Tensor) -> dict[str, torch.Tensor | None]:
    """VTA-LDM's "concat" augmentation on a batch: where ``splice``, item i keeps its own first
    ``cut[i]`` of the window and takes the rest from item ``partner[i]``, every stream cut at the
    same instant.

    streams: name -> [B, N, ...] (time on dim 1, each at its own rate: latent [B, L, H],
    valid [B, L], semantic [B, Ns, Ds], ...; None passes through); partner [B] long; cut [B]
    float in (0, 1), the cut as a fraction of the window; splice [B] bool. Frame n of a stream of
    N frames comes from the partner where (n + 0.5) / N >= cut (its centre lies past the cut)."""
    out = {}
    for name, x in streams.items():
        if x is None:
            out[name] = None
            continue
        n = x.shape[1]
        centre = (torch.arange(n, device=x.device, dtype=torch.float32) + 0.5) / n
        take = splice.to(x.device)[:, None] & (centre[None, :] >= cut.to(x.device)[:, None])  # [B, N]
        take = take.view(*take.shape, *([1] * (x.dim() - 2)))
        out[name] = torch.where(take, x[partner.to(x.device)], x)
    return out


# ---- the network ------------------------------------------------------------------------------------
@dataclass
class VisualMemory:
    """What the denoiser cross-attends to: ``tokens: [B, M, d]`` (every stream's tokens with their
    time and type embeddings, [NULL] vectors where dropped) and ``drop: [B]``."""

    tokens: torch.Tensor
    drop: torch.Tensor

    def repeat(self, n: int) -> VisualMemory:
        """Each item repeated n times (beams): [B, ...] -> [B * n, ...]."""
        return VisualMemory(self.tokens.repeat_interleave(n, 0), self.drop.repeat_interleave(n, 0))

    @staticmethod
    def cat(a: VisualMemory, b: VisualMemory) -> VisualMemory:
        return VisualMemory(torch.cat([a.tokens, b.tokens]), torch.cat([a.drop, b.drop]))


class VTALDM(GeneratorFolder, nn.Module):
    """The VTA-LDM-style flow generator (see the module docstring)."""

    CONFIG = VTALDMConfig
    KIND, WHAT = KIND, "a VTA-LDM model"
    HINT = "pass a VTA-LDM model folder (e.g. a `maskvat train` run's model/)"

    continuous = True  # the pipeline samples a latent by ODE (``maskvat.sampling.flow``), then quantises it

    def __init__(self, config: VTALDMConfig):
        super().__init__()
        self.config = cfg = config
        d, h = cfg.d_model, cfg.codec_hidden
        self.register_buffer("latent_mean", torch.zeros(h))
        self.register_buffer("latent_std", torch.ones(h))
        self.latent_in = nn.Linear(h, d)
        self.time_mlp = Mlp(d, d, d)
        self.pos_proj = nn.Linear(d, d)  # the auxiliary time embedding of visual tokens (learned map of a sinusoid)
        self.streams = [name for name, use in (("semantic", cfg.use_semantic), ("sync", cfg.use_sync)) if use]
        dims = {"semantic": cfg.semantic_dim, "sync": cfg.sync_dim}
        self.visual_mlp = nn.ModuleDict({s: Mlp(dims[s], d, d) for s in self.streams})
        self.null = nn.ParameterDict({s: nn.Parameter(torch.randn(d) * 0.02) for s in self.streams})
        self.type_embed = nn.ParameterDict({s: nn.Parameter(torch.randn(d) * 0.02) for s in self.streams})
        self.memory_norm = nn.LayerNorm(d)
        self.blocks = nn.ModuleList(HybridBlock(d, cfg.n_heads, cfg.mlp_ratio, cfg.dropout) for _ in range(cfg.n_layers))
        self.final_norm = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.final_ada = nn.Sequential(nn.SiLU(), nn.Linear(d, 2 * d))
        nn.init.zeros_(self.final_ada[1].weight)
        nn.init.zeros_(self.final_ada[1].bias)
        self.latent_out = nn.Linear(d, h)

    # ---- the latent's units ------------------------------------------------------------------------
    def normalise(self, latent: torch.Tensor) -> torch.Tensor:
        """latent [B, H, L] in codec units -> [B, L, H], per channel zero mean and unit variance."""
        return ((latent.transpose(1, 2) - self.latent_mean) / self.latent_std).to(self.latent_std.dtype)

    def denormalise(self, x: torch.Tensor) -> torch.Tensor:
        """[B, L, H] -> latent [B, H, L] in codec units (inverse of ``normalise``)."""
        return (x * self.latent_std + self.latent_mean).transpose(1, 2)

    @torch.no_grad()
    def set_latent_stats(self, latent: torch.Tensor, valid: torch.Tensor | None = None) -> None:
        """Per-channel mean and standard deviation of training latents [B, H, L] (``valid`` [B, L])."""
        x = latent.transpose(1, 2).reshape(-1, latent.shape[1]) if valid is None else latent.transpose(1, 2)[valid]
        self.latent_mean.copy_(x.mean(0))
        self.latent_std.copy_(x.std(0).clamp_min(1e-5))

    # ---- conditioning ------------------------------------------------------------------------------
    def condition(self, semantic: torch.Tensor | None = None, sync: torch.Tensor | None = None,
                  drop: torch.Tensor | None = None, length: int | None = None) -> VisualMemory:
        """The visual memory of a window of ``length`` latent frames (default ``max_frames``):
        each stream resampled to its rate over the window, projected, [NULL] where ``drop``, plus
        its time and type embeddings; the streams concatenated along the sequence."""
        cfg = self.config
        length = length or cfg.max_frames
        feats = {"semantic": semantic, "sync": sync}
        fps = {"semantic": cfg.semantic_fps, "sync": cfg.sync_fps}
        parts, b = [], None
        for s in self.streams:
            if feats[s] is None:
                raise MaskvatError(f"this model (VTA-LDM) needs {s} features")
            x = nearest_resample(feats[s].to(self.latent_std.dtype), cfg.tokens(fps[s], length))
            b = x.shape[0]
            if drop is None:
                drop = torch.zeros(b, dtype=torch.bool, device=x.device)
            h = self.visual_mlp[s](x)
            h = torch.where(drop.to(h.device)[:, None, None], self.null[s].expand_as(h), h)
            n = h.shape[1]
            times = (torch.arange(n, device=h.device, dtype=torch.float32) + 0.5) * length / n
            parts.append(h + self.pos_proj(sinusoid_at(times, cfg.d_model).to(h.dtype)) + self.type_embed[s])
        return VisualMemory(self.memory_norm(torch.cat(parts, dim=1)), drop.to(parts[0].device))

    def condition_pair(self, semantic=None, sync=None, length: int | None = None):
        """(conditional, [NULL]) memories of the same batch."""
        ref = semantic if semantic is not None else sync
        b = ref.shape[0]
        two = lambda t: None if t is None else torch.cat([t, t])
        drop = torch.cat([torch.zeros(b, dtype=torch.bool), torch.ones(b, dtype=torch.bool)])
        both = self.condition(two(semantic), two(sync), drop, length)
        return (VisualMemory(both.tokens[:b], both.drop[:b]), VisualMemory(both.tokens[b:], both.drop[b:]))

    # ---- the velocity field ------------------------------------------------------------------------
    def velocity(self, x: torch.Tensor, t: torch.Tensor, memory: VisualMemory) -> torch.Tensor:
        """x [B, L, H] (normalised latent on the path at time t), t [B] in [0, 1] -> the predicted
        velocity dx/dt [B, L, H]."""
        cfg = self.config
        length, h = x.shape[1], x.shape[2]
        if h != cfg.codec_hidden:
            raise MaskvatError(f"latent has {h} channels, the model {cfg.codec_hidden}")
        dt = self.latent_in.weight.dtype
        positions = sinusoid_at(torch.arange(length, device=x.device, dtype=torch.float32) + 0.5, cfg.d_model)
        hid = self.latent_in(x.to(dt)) + positions.to(dt)
        temb = self.time_mlp(sinusoid_at(t.float() * 1000, cfg.d_model).to(dt))[:, None, :]  # [B, 1, d]
        for block in self.blocks:
            hid = block(hid, temb, memory.tokens)
        shift, scale = self.final_ada(temb).chunk(2, dim=-1)
        return self.latent_out(modulate(self.final_norm(hid), shift, scale))

    def forward(self, x, t, semantic=None, sync=None, drop=None) -> torch.Tensor:
        """Velocity [B, L, H] at (x [B, L, H], t [B]) given the visual streams."""
        return self.velocity(x, t, self.condition(semantic, sync, drop, x.shape[1]))

# ---- the training objective ---------------------------------------------------------------------------
def flow_path(x1: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The straight path of conditional flow matching: (x_t = (1 - t) x_0 + t x_1, target velocity
    x_1 - x_0), x_0 = ``noise``; x1, noise [B, ...], t [B]."""
    tt = t.view(-1, *([1] * (x1.dim() - 1))).to(x1.dtype)
    return (1 - tt) * noise + tt * x1, x1 - noise


def flow_matching_loss(model: VTALDM, latent: torch.Tensor, drop: torch.Tensor, t: torch.Tensor,
                       noise: torch.Tensor, semantic: torch.Tensor | None = None, sync: torch.Tensor | None = None,
                       *, valid: torch.Tensor | None = None) -> tuple[torch.Tensor, dict]:
    """Flow-matching MSE between the predicted and the path's velocity, over real frames.

    latent [B, H, L] in codec units (the training target x_1, normalised here); drop [B] bool
    (conditioning dropout to [NULL]); t [B] in [0, 1]; noise [B, L, H] (x_0); valid [B, L] bool,
    False on padding: never in the loss, and its latent is replaced by the mean (0 once
    normalised), so that what padding holds cannot reach the real frames through attention (as
    MaskVAT feeds padding as [MASK]). Returns (loss, {"mse", "loss"} detached)."""
    x1 = model.normalise(latent)
    if valid is not None:
        x1 = x1 * valid.to(x1.device, x1.dtype)[:, :, None]
    xt, target = flow_path(x1, noise.to(x1), t)
    pred = model(xt, t, semantic, sync, drop)
    err = (pred.float() - target.float()).pow(2).mean(-1)  # [B, L]
    if valid is not None:
        w = valid.to(err.device, err.dtype)
        mse = (err * w).sum() / w.sum().clamp_min(1)
    else:
        mse = err.mean()
    return mse, {"mse": mse.detach(), "loss": mse.detach()}


def fixed_timesteps(n: int) -> torch.Tensor:
    """n flow times spread evenly over (0, 1) (validation: the same grid at every evaluation)."""
    return (torch.arange(n, dtype=torch.float32) + 0.5) / n


__all__ = [
    "KIND",
    "VTALDM",
    "VTALDM_CONFIGS",
    "VTALDMConfig",
    "VisualMemory",
    "fixed_timesteps",
    "flow_matching_loss",
    "flow_path",
    "temporal_concat",
    "vtaldm_config",
]
