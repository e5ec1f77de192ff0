"""BEATs (Chen et al., 2022): the paper's audio encoder, for the Seq2Seq/Hybrid auxiliary
losses (paper 3.2.2), SCAV's audio side (3.2.4) and the novelty score NS (4).

Architecture and state-dict names of microsoft/unilm ``beats/BEATs.py`` and
``beats/backbone.py``, written anew (no torchaudio, no fairseq), so that a published
checkpoint loads as it is: a torch file ``{"cfg": {...}, "model": state_dict}`` such as
``BEATs_iter3_plus_AS2M.pt`` (fine-tuned on AudioSet-2M; its 527-class ``predictor`` loads and
is not used) or ``BEATs_iter3.pt`` (self-supervised only).

The network, for audio at 16 kHz:
  wav [B, T] * 2^15 -> Kaldi fbank, 128 mel bins, 25 ms window, 10 ms shift  [B, F, 128]
  -> (fbank - 15.41663) / (2 * 6.55582)   (the reference's AudioSet mean and std, doubled)
  -> Conv2d(1, 512, 16x16, stride 16) over (time x mel): [B, 512, F/16, 8]
  -> flattened time-major (patch n = 8 t + f), LayerNorm(512), Linear(512 -> 768)
  -> x + GELU(conv1d pos, kernel 128, 16 groups, weight norm), LayerNorm (post-LN)
  -> 12 post-LN layers with DeepNorm residual scaling alpha = (2 L)^(1/4) and a T5-style
     bucketed relative position bias (320 buckets, max distance 800) shared by all layers and
     gated per layer by the query (WavLM's gated relative position bias)
  -> [B, 8 F/16, 768].

The time axis (why ``rate`` is 6.25/s, not 50/s): each 16 x 16 patch covers 16 fbank frames
(160 ms) by 16 of the 128 mel bins, so BEATs' output is a grid of F/16 time steps x 8
frequency bands, flattened time-major. The 8 patches of one time step are frequency bands
of the same 160 ms, not 8 successive instants: treating the flat sequence as time at
8 x 6.25 = 50/s (the old ``audio_fps=50``) makes nearest-neighbour resampling pick frequency
bands as if they were later moments. The paper calls N_beats "the length of BEATs
time-patch sequence" (3.2.2) and writes SCAV's audio sequence as N_scav x 8 x H_scav
(3.2.4), keeping the 8 frequency patches as their own axis: so the paper's sequence runs at
100 / 16 = 6.25 time steps per second. ``encode_audio`` returns that sequence, each time
step the mean of its 8 frequency patches ([B, F/16, 768]; a 10 s clip gives 62 steps), and
``patch_grid`` the full [B, F/16, 8, 768] grid for uses that want the bands.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, fields

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from maskvat.encoders.base import EncoderConfig
from maskvat.encoders.fbank import kaldi_fbank
from maskvat.errors import MaskvatError
from maskvat.media import resample
from maskvat.weights import load_checkpoint

SAMPLE_RATE = 16000  # BEATs' input rate
FBANK_MEAN = 15.41663  # the reference's preprocess() defaults
FBANK_STD = 6.55582
FRAMES_PER_SECOND = 100.0  # fbank frames (10 ms shift)


@dataclass
class BEATsConfig:
    """The reference's ``BEATsConfig`` fields that shape the network (dropouts, layer drop and
    gradient decay only matter in training and are not kept). Defaults: the published
    BEATs_iter3 checkpoints' values."""

    input_patch_size: int = 16
    embed_dim: int = 512
    conv_bias: bool = False
    encoder_layers: int = 12
    encoder_embed_dim: int = 768
    encoder_ffn_embed_dim: int = 3072
    encoder_attention_heads: int = 12
    activation_fn: str = "gelu"
    layer_norm_first: bool = False
    deep_norm: bool = True
    conv_pos: int = 128
    conv_pos_groups: int = 16
    relative_position_embedding: bool = True
    num_buckets: int = 320
    max_distance: int = 800
    gru_rel_pos: bool = True
    finetuned_model: bool = False
    predictor_class: int = 527

    @classmethod
    def from_dict(cls, cfg: dict) -> "BEATsConfig":
        """The ``cfg`` of a checkpoint: fields it lacks take the reference class's defaults
        (``deep_norm`` etc. default to False there, as in the reference); others are ignored."""
        reference_defaults = {"deep_norm": False, "relative_position_embedding": False, "gru_rel_pos": False,
                              "num_buckets": 320, "max_distance": 1280, "input_patch_size": -1}
        names = {f.name for f in fields(cls)}
        values = {**reference_defaults, **{k: v for k, v in cfg.items() if k in names}}
        out = cls(**values)
        if out.activation_fn not in ("gelu", "relu"):
            raise MaskvatError(f"BEATs activation {out.activation_fn!r} is not supported (gelu or relu)")
        if out.input_patch_size < 1:
            raise MaskvatError("BEATs config has no input_patch_size")
        if out.deep_norm and out.layer_norm_first:
            raise MaskvatError("BEATs config: deep_norm and layer_norm_first exclude each other")
        return out

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def relative_position_buckets(query_len: int, key_len: int, num_buckets: int, max_distance: int) -> torch.Tensor:
    """T5's bidirectional buckets of (key - query) positions -> [query_len, key_len] long.

    Half the buckets per direction; distances under a quarter of the buckets get their own
    bucket, longer ones share log-spaced buckets up to ``max_distance``."""
    rel = torch.arange(key_len)[None, :] - torch.arange(query_len)[:, None]
    half = num_buckets // 2
    bucket = (rel > 0).long() * half
    dist = rel.abs()
    exact = half // 2
    far = exact + (torch.log(dist.float().clamp_min(1) / exact) / math.log(max_distance / exact)
                   * (half - exact)).long()
    far = far.clamp(max=half - 1)
    return bucket + torch.where(dist < exact, dist, far)


class WeightNormConv1d(nn.Module):
    """Conv1d with weight = g * v / ||v||, the norm over every axis but the kernel one (dim 2),
    stored as ``weight_g`` [1, 1, K] and ``weight_v`` as ``nn.utils.weight_norm(dim=2)`` does."""

    def __init__(self, channels: int, kernel: int, groups: int):
        super().__init__()
        self.weight_g = nn.Parameter(torch.ones(1, 1, kernel))
        self.weight_v = nn.Parameter(torch.randn(channels, channels // groups, kernel) * 0.02)
        self.bias = nn.Parameter(torch.zeros(channels))
        self.padding, self.groups = kernel // 2, groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        v = self.weight_v
        weight = v * (self.weight_g / v.norm(dim=(0, 1), keepdim=True))
        return F.conv1d(x, weight, self.bias, padding=self.padding, groups=self.groups)


class TrimLast(nn.Module):
    """Drops the last time step that an even kernel with padding K/2 adds (the reference's SamePad)."""

    def __init__(self, kernel: int):
        super().__init__()
        self.trim = 1 if kernel % 2 == 0 else 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[..., :-self.trim] if self.trim else x


class RelPosSelfAttention(nn.Module):
    """Multi-head self-attention with the gated relative position bias (WavLM):
    softmax(q k^T / sqrt(d) + g(q) * bias) v, where g(q) = a (b * grep_a - 1) + 2 and
    (a, b) = sigmoid of ``grep_linear(q)`` (8 values summed in two groups of 4)."""

    def __init__(self, cfg: BEATsConfig, has_bias_table: bool):
        super().__init__()
        d, h = cfg.encoder_embed_dim, cfg.encoder_attention_heads
        if d % h:
            raise MaskvatError(f"BEATs: {d} dims do not split into {h} heads")
        self.heads, self.head_dim = h, d // h
        self.num_buckets, self.max_distance = cfg.num_buckets, cfg.max_distance
        if has_bias_table:
            self.relative_attention_bias = nn.Embedding(cfg.num_buckets, h)
        self.k_proj = nn.Linear(d, d)
        self.v_proj = nn.Linear(d, d)
        self.q_proj = nn.Linear(d, d)
        self.out_proj = nn.Linear(d, d)
        self.gru_rel_pos = cfg.gru_rel_pos
        if cfg.gru_rel_pos:
            self.grep_linear = nn.Linear(self.head_dim, 8)
            self.grep_a = nn.Parameter(torch.ones(1, h, 1, 1))

    def position_bias(self, n: int) -> torch.Tensor:
        """[heads, n, n] from the bucket table."""
        buckets = relative_position_buckets(n, n, self.num_buckets, self.max_distance)
        return self.relative_attention_bias(buckets.to(self.relative_attention_bias.weight.device)).permute(2, 0, 1)

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        """x [B, N, D], bias [heads, N, N] or None -> [B, N, D]."""
        b, n, _ = x.shape
        q, k, v = (p(x).view(b, n, self.heads, self.head_dim).transpose(1, 2)
                   for p in (self.q_proj, self.k_proj, self.v_proj))  # [B, H, N, hd]
        mask = None
        if bias is not None:
            mask = bias[None].to(q.dtype)
            if self.gru_rel_pos:
                gates = torch.sigmoid(self.grep_linear(q).view(b, self.heads, n, 2, 4).sum(-1))
                gate_a, gate_b = gates[..., :1], gates[..., 1:]
                mask = (gate_a * (gate_b * self.grep_a - 1.0) + 2.0) * mask  # [B, H, N, N]
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.out_proj(out.transpose(1, 2).reshape(b, n, -1))


class EncoderLayer(nn.Module):
    """Post-LN (or pre-LN) transformer layer; DeepNorm multiplies the residual by alpha."""

    def __init__(self, cfg: BEATsConfig, has_bias_table: bool):
        super().__init__()
        d = cfg.encoder_embed_dim
        self.self_attn = RelPosSelfAttention(cfg, has_bias_table)
        self.self_attn_layer_norm = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, cfg.encoder_ffn_embed_dim)
        self.fc2 = nn.Linear(cfg.encoder_ffn_embed_dim, d)
        self.final_layer_norm = nn.LayerNorm(d)
        self.pre_ln = cfg.layer_norm_first
        self.alpha = (2 * cfg.encoder_layers) ** 0.25 if cfg.deep_norm else 1.0
        self.act = F.gelu if cfg.activation_fn == "gelu" else F.relu

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        if self.pre_ln:
            x = x + self.self_attn(self.self_attn_layer_norm(x), bias)
            return x + self.fc2(self.act(self.fc1(self.final_layer_norm(x))))
        x = self.self_attn_layer_norm(x * self.alpha + self.self_attn(x, bias))
        return self.final_layer_norm(x * self.alpha + self.fc2(self.act(self.fc1(x))))


class TransformerEncoder(nn.Module):
    """Convolutional position embedding, then the layers; one relative bias table (layer 0's)
    that every layer holds, as the reference's state dict lists it under each layer."""

    def __init__(self, cfg: BEATsConfig):
        super().__init__()
        d = cfg.encoder_embed_dim
        self.pos_conv = nn.Sequential(WeightNormConv1d(d, cfg.conv_pos, cfg.conv_pos_groups), TrimLast(cfg.conv_pos),
                                      nn.GELU())
        rel = cfg.relative_position_embedding
        self.layers = nn.ModuleList(EncoderLayer(cfg, rel and i == 0) for i in range(cfg.encoder_layers))
        if rel:
            for layer in self.layers[1:]:
                layer.self_attn.relative_attention_bias = self.layers[0].self_attn.relative_attention_bias
        self.layer_norm = nn.LayerNorm(d)
        self.layer_norm_first = cfg.layer_norm_first
        self.relative = rel

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [B, N, D] -> [B, N, D]."""
        x = x + self.pos_conv(x.transpose(1, 2)).transpose(1, 2)
        if not self.layer_norm_first:
            x = self.layer_norm(x)
        bias = self.layers[0].self_attn.position_bias(x.shape[1]) if self.relative else None
        for layer in self.layers:
            x = layer(x, bias)
        return self.layer_norm(x) if self.layer_norm_first else x


class BEATs(nn.Module):
    """The BEATs network (reference key names). ``forward``: normalised fbank [B, F, mel]
    -> patch features [B, (F // p) * (mel // p), encoder_embed_dim], time-major."""

    def __init__(self, cfg: BEATsConfig):
        super().__init__()
        self.cfg = cfg
        self.post_extract_proj = (nn.Linear(cfg.embed_dim, cfg.encoder_embed_dim)
                                  if cfg.embed_dim != cfg.encoder_embed_dim else None)
        p = cfg.input_patch_size
        self.patch_embedding = nn.Conv2d(1, cfg.embed_dim, kernel_size=p, stride=p, bias=cfg.conv_bias)
        self.encoder = TransformerEncoder(cfg)
        self.layer_norm = nn.LayerNorm(cfg.embed_dim)
        if cfg.finetuned_model:
            self.predictor = nn.Linear(cfg.encoder_embed_dim, cfg.predictor_class)

    def embed_patches(self, fbank: torch.Tensor) -> torch.Tensor:
        """fbank [B, F, mel] -> LayerNorm'd patch embeddings [B, N, embed_dim], patch n = (mel/p) t + f
        for time patch t and frequency patch f (the reference's flattening)."""
        x = self.patch_embedding(fbank.unsqueeze(1))  # [B, E, F/p, mel/p]
        return self.layer_norm(x.flatten(2).transpose(1, 2))

    def forward(self, fbank: torch.Tensor) -> torch.Tensor:
        x = self.embed_patches(fbank)
        if self.post_extract_proj is not None:
            x = self.post_extract_proj(x)
        return self.encoder(x)

    @staticmethod
    def preprocess(wav16k: torch.Tensor) -> torch.Tensor:
        """wav [B, T] at 16 kHz in [-1, 1] -> normalised fbank [B, F, 128] (the reference's preprocess)."""
        fbank = kaldi_fbank(wav16k.float() * 2 ** 15, sample_rate=SAMPLE_RATE, num_mel_bins=128,
                            frame_length=25.0, frame_shift=10.0)
        return (fbank - FBANK_MEAN) / (2 * FBANK_STD)


def load_beats_checkpoint(path: str | os.PathLike) -> BEATs:
    """A published BEATs checkpoint ``{"cfg": dict, "model": state_dict}`` -> BEATs (eval mode).
    Keys must match exactly (the shared relative bias may be listed once, under layer 0)."""
    path = str(path)
    if not os.path.isfile(path):
        raise MaskvatError(f"cannot load BEATs weights from {path!r}: no such file "
                           "(pass a checkpoint such as BEATs_iter3_plus_AS2M.pt from microsoft/unilm's beats page)")
    ckpt = load_checkpoint(path, "a BEATs checkpoint")
    if not (isinstance(ckpt, dict) and isinstance(ckpt.get("cfg"), dict) and isinstance(ckpt.get("model"), dict)):
        raise MaskvatError(f"{path}: not a BEATs checkpoint (expected a dict with 'cfg' and 'model')")
    cfg = BEATsConfig.from_dict(ckpt["cfg"])
    model = BEATs(cfg)
    state = dict(ckpt["model"])
    shared = "encoder.layers.0.self_attn.relative_attention_bias.weight"
    if shared in state:
        for i in range(1, cfg.encoder_layers):
            state.setdefault(f"encoder.layers.{i}.self_attn.relative_attention_bias.weight", state[shared])
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise MaskvatError(f"{path}: does not fit the BEATs architecture of its cfg "
                           f"(missing {sorted(missing)[:3]}, unexpected {sorted(unexpected)[:3]})")
    return model.eval()


class BEATsAudioEncoder(nn.Module):
    """The audio encoder (BEATs role): wav [B, T] at 44.1 kHz -> [B, N, 768] at 6.25 steps/s.

    The wav is resampled to 16 kHz (soxr, ``maskvat.media.resample``); N = (F - F % 16) / 16
    with F = 1 + (T16 - 400) // 160 fbank frames (62 for 10 s). See the module doc for why a
    time step is the mean of its 8 frequency patches."""

    def __init__(self, network: BEATs, source: str | None = None, sample_rate: int = 44100):
        super().__init__()
        self.network = network.eval()
        cfg = network.cfg
        self.bands = 128 // cfg.input_patch_size
        self.config = EncoderConfig(name="beats", modality="audio", dim=cfg.encoder_embed_dim,
                                    rate=FRAMES_PER_SECOND / cfg.input_patch_size, sample_rate=sample_rate,
                                    source=source)

    @classmethod
    def from_pretrained(cls, source: str | os.PathLike) -> "BEATsAudioEncoder":
        return cls(load_beats_checkpoint(source), str(source))

    def _to_16k(self, wav) -> torch.Tensor:
        x = np.asarray(torch.as_tensor(wav, dtype=torch.float32).cpu())
        if x.ndim != 2:
            raise MaskvatError(f"BEATs needs audio [B, T], got shape {x.shape}")
        if self.config.sample_rate != SAMPLE_RATE:
            x = resample(x, self.config.sample_rate, SAMPLE_RATE)
        min_samples = 400 + 160 * (self.network.cfg.input_patch_size - 1)
        if x.shape[-1] < min_samples:
            raise MaskvatError(f"BEATs needs at least {min_samples / SAMPLE_RATE:.3f} s of audio, "
                               f"got {x.shape[-1] / SAMPLE_RATE:.3f} s")
        return torch.from_numpy(np.ascontiguousarray(x))

    @torch.no_grad()
    def patch_grid(self, wav) -> torch.Tensor:
        """wav [B, T] at ``config.sample_rate`` -> [B, N, 8, 768]: N time steps x 8 frequency bands."""
        device = next(self.network.parameters()).device
        fbank = BEATs.preprocess(self._to_16k(wav)).to(device)
        x = self.network(fbank)
        return x.view(x.shape[0], -1, self.bands, x.shape[-1])

    @torch.no_grad()
    def encode_audio(self, wav) -> torch.Tensor:
        """wav [B, T] at ``config.sample_rate`` (44.1 kHz) -> [B, N, 768], one step per 160 ms."""
        return self.patch_grid(wav).mean(dim=2)
