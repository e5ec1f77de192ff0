"""ImageBind (Girdhar et al., CVPR 2023, "ImageBind: One Embedding Space To Bind Them All"): the
vision and audio towers behind the field's IB-score, as MMAudio's av-benchmark computes it
(``extract_video.py``: ``imagebind_model.imagebind_huge(pretrained=True)``, the published
``imagebind_huge.pth``). The per-metric arithmetic (which frames, which sound, the average) is
``ImageBindScorer`` below.

Sources read for the design (facebookresearch/ImageBind unless named):

- ``imagebind/models/imagebind_model.py`` (``ImageBindModel``, ``imagebind_huge``): the parts
  and their sizes: vision 1280-d, 32 blocks of 16 heads, a ``PadIm2Video`` + ``Conv3d`` stem with
  kernel = stride = (2, 14, 14) and no bias over [3, 2, 224, 224], a learned positional
  embedding, a LayerNorm (eps 1e-6) before the blocks, no key/value bias tokens; audio 768-d,
  12 blocks of 12 heads, a ``Conv2d`` stem (kernel 16, stride 10, no bias) followed by a
  LayerNorm (eps 1e-5, torch's default) over [1, 128, 204], no LayerNorm before the blocks,
  ``add_bias_kv=True``; both heads LayerNorm (eps 1e-6) -> token 0 -> Linear to 1024 without
  bias; postprocessors: L2 normalisation (vision), L2 normalisation then a fixed logit scale
  of 20 (audio, a buffer ``log_logit_scale`` = ln 20, clipped at 100). ``forward``: inputs of
  5 or more dimensions [B, S, ...] are run as B x S items and the S embeddings averaged
  (after the postprocessor, without re-normalising).
- ``imagebind/models/transformer.py`` (``SimpleTransformer``, ``BlockWithMasking``): pre-norm
  blocks, x += attn(norm_1 x); x += mlp(norm_2 x), LayerNorm eps 1e-6, exact GELU, the MLP 4 x
  wide; attention is torch's ``nn.MultiheadAttention`` (``in_proj_weight``, ``out_proj``, and
  ``bias_k`` / ``bias_v`` where asked), sequence-first (the layout does not change the keys).
- ``imagebind/models/multimodal_preprocessors.py`` (``PatchEmbedGeneric``,
  ``RGBDTPreprocessor``, ``AudioPreprocessor``, ``SpatioTemporalPosEmbeddingHelper``,
  ``PadIm2Video``): tokens = stem(x) flattened (time, height, width), the CLS token in front,
  plus ``pos_embed`` (257 = 1 + 16 x 16 for vision, 229 = 1 + 12 x 19 for audio); the audio
  preprocessor holds its stem under the name ``rgbt_stem``. A 2-frame clip passes the
  ``PadIm2Video`` unchanged (it repeats only a single frame).
- ``imagebind/models/helpers.py`` (``Normalize``, ``LearnableLogitScaling``, ``SelectElement``).

State-dict keys (the published layout; ``tests/evaluation/test_imagebind.py`` lists them with
their shapes for the published config). ``imagebind_huge.pth`` is a bare state dict of the
whole model; only the keys of these two modalities are read, those of the text, depth,
thermal and IMU towers (and the text tower's learnable logit scale) are ignored on load:

  modality_preprocessors.vision.{cls_token [1, 1, 1280], pos_embedding_helper.pos_embed [1, 257, 1280],
                                 rgbt_stem.proj.1.weight [1280, 3, 2, 14, 14]}
  modality_trunks.vision.pre_transformer_layer.0.{weight, bias}
  modality_trunks.vision.blocks.0..31.{attn.in_proj_weight [3840, 1280], attn.in_proj_bias,
        attn.out_proj.{weight, bias}, norm_1, norm_2, mlp.fc1 [5120, 1280], mlp.fc2}.*
  modality_heads.vision.0.{weight, bias}; modality_heads.vision.2.weight [1024, 1280]
  modality_preprocessors.audio.{cls_token [1, 1, 768], pos_embedding_helper.pos_embed [1, 229, 768],
                                rgbt_stem.proj.weight [768, 1, 16, 16], rgbt_stem.norm_layer.{weight, bias}}
  modality_trunks.audio.blocks.0..11.{attn.in_proj_weight [2304, 768], attn.in_proj_bias,
        attn.bias_k [1, 1, 768], attn.bias_v [1, 1, 768], attn.out_proj.*, norm_1, norm_2, mlp.fc1, mlp.fc2}.*
  modality_heads.audio.0.{weight, bias}; modality_heads.audio.2.weight [1024, 768]
  modality_postprocessors.audio.1.log_logit_scale []

Front ends, as av-benchmark feeds the model (read in its forks: ``av_bench/data/
video_dataset.py`` and ``audio_dataset.py`` of jnwnlee/av-benchmark and
SonyResearch/soundreactor_v2a_eval, ``av_bench/extract.py`` of the latter; the transforms are
ImageBind's ``imagebind/data.py``):

- Picture (``VideoDataset``, ``encode_video_with_imagebind``): the reference video at 0.5 fps
  (torio's ``frame_rate=0.5``, ffmpeg's ``fps`` filter), its first ``int(0.5 x 8)`` = 4 frames;
  each resized to short side 224 (torchvision's ``v2.Resize``, bicubic, on uint8), scaled to
  [0, 1], normalised with CLIP's mean (0.48145466, 0.4578275, 0.40821073) and std (0.26862954,
  0.26130258, 0.27577711); ImageBind's ``SpatialCrop(224, 3)`` (``uniform_crop``): three 224 x
  224 crops along the long side (offsets 0, ceil((L - 224) / 2), L - 224; the short side at
  offset ceil((S - 224) / 2)); every two consecutive frames form a clip: 3 crops x 3 clips = 9
  clips [3, 2, 224, 224]; the picture's embedding is the mean of their 9 normalised embeddings.
  Which frame ffmpeg's ``fps`` filter gives a 2 s slot (libavfilter ``vf_fps.c``): input times
  are rounded to the nearest slot and a slot takes the last frame rounded at or before it, that
  is the last frame shown before the slot's time + 1 s (0.96, 2.96, 4.96, 6.96 s at 25 fps).
- Sound (``ImageBindAudioDataset``, ImageBind's ``load_and_transform_audio_data`` and
  ``waveform2melspec``): at 16 kHz; pytorchvideo's ``ConstantClipsPerVideoSampler(2, 3)``
  (``pytorchvideo/data/clip_sampling.py`` of facebookresearch/pytorchvideo and its PyPI 0.1.5):
  three 2 s clips starting at k x max(D - 2, 0) / 3 s, k = 0, 1, 2, for D seconds of sound
  (exact fractions; samples from int(start x 16000) to int(end x 16000), cut at the end of the
  sound): 0-2, 2-4 and 4-6 s of an 8 s clip. Each clip minus its mean -> Kaldi fbank
  (``torchaudio.compliance.kaldi.fbank`` with 25 ms frames every 10 ms, 128 mel bins, the
  ``hanning`` window, dither 0, no energy; ``encoders.fbank.kaldi_fbank``) -> [128 bands,
  frames] zero-padded (or cut) to 204 frames -> (x + 4.268) / 9.138 -> [1, 128, 204]; the
  sound's embedding is the mean of the three clips' (normalised, x 20).
- IB-score (``av_bench/evaluate.py``): per clip, the cosine similarity of the reference
  picture's embedding and the generated sound's; the figure is the mean over clips (higher is
  better).

Clips other than 8 s (a maskvat extension; av-benchmark reads 8 s of picture and refuses
shorter videos): the span read is the first ``seconds`` (8 s by default, None: all) of the
common span; the picture gives int(0.5 x span) frames, so a span under ``MIN_SECONDS`` (4 s,
two frames: one clip per crop) gets no IB-score.

Known differences: the frames are resized in float and rounded to uint8 levels
(``F.interpolate``, bicubic, antialiased), where torchvision resizes the uint8 frames with
its own kernel (a level apart at most on some pixels); the sound arrives as the evaluator reads
every metric's (mono at 44.1 kHz, soxr) before torchaudio's sinc resampler to 16 kHz (av-benchmark's
forks read it with torchaudio at 16 kHz, one of them in full rather than its first 8 s).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from maskvat.encoders.fbank import kaldi_fbank
from maskvat.errors import MaskvatError
from maskvat.evaluation.passt import Mlp  # fc1, exact GELU, fc2: ImageBind's Mlp names too
from maskvat.evaluation.sinc_resample import sinc_resample
from maskvat.weights import load_checkpoint, load_exact, published_file

SAMPLE_RATE = 16000
FPS = 0.5  # av-benchmark's _IMAGEBIND_FPS
FRAME_LAG = 1.0 - 1e-4  # where ffmpeg's fps filter takes a slot's frame: the last shown before slot + 1 s
SECONDS = 8.0  # av-benchmark's duration
MIN_SECONDS = 2 / FPS  # two frames: one clip
CLIP_SECONDS, AUDIO_CLIPS = 2, 3
SPEC_MEAN, SPEC_STD = -4.268, 9.138
MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)
CROPS = 3
MODALITIES = ("vision", "audio")


@dataclass(frozen=True)
class ImageBindConfig:
    """The two towers' sizes. The defaults are the published ``imagebind_huge``; smaller ones
    are for tests."""

    vision_dim: int = 1280
    vision_depth: int = 32
    vision_heads: int = 16
    image: int = 224
    patch: int = 14
    frames: int = 2  # per clip (the stem's temporal kernel)
    audio_dim: int = 768
    audio_depth: int = 12
    audio_heads: int = 12
    mels: int = 128
    spec_frames: int = 204
    audio_patch: int = 16
    audio_stride: int = 10
    embed: int = 1024
    audio_logit_scale: float = 20.0

    @property
    def vision_tokens(self) -> int:
        """Patches per clip (256)."""
        return (self.image // self.patch) ** 2  # one time step: the stem's temporal kernel is the clip

    @property
    def audio_grid(self) -> tuple[int, int]:
        """(bands, times) of audio patches ((12, 19))."""
        return ((self.mels - self.audio_patch) // self.audio_stride + 1,
                (self.spec_frames - self.audio_patch) // self.audio_stride + 1)


PUBLISHED = ImageBindConfig()


# ---- the network ------------------------------------------------------------------------------------
class Block(nn.Module):
    """``BlockWithMasking`` without a mask: x += attn(norm_1 x); x += mlp(norm_2 x) (eps 1e-6).
    ``attn`` is torch's ``nn.MultiheadAttention``, as in ImageBind (batch-first here: the same
    parameters)."""

    def __init__(self, dim: int, heads: int, bias_kv: bool):
        super().__init__()
        self.attn = nn.MultiheadAttention(dim, heads, bias=True, add_bias_kv=bias_kv, batch_first=True)
        self.norm_1 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, 4 * dim)
        self.norm_2 = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm_1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.norm_2(x))


class Trunk(nn.Module):
    """``SimpleTransformer``: an optional LayerNorm (eps 1e-6), then the blocks."""

    def __init__(self, dim: int, heads: int, depth: int, *, pre_norm: bool, bias_kv: bool):
        super().__init__()
        self.pre_transformer_layer = nn.Sequential(nn.LayerNorm(dim, eps=1e-6) if pre_norm else nn.Identity())
        self.blocks = nn.Sequential(*(Block(dim, heads, bias_kv) for _ in range(depth)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.pre_transformer_layer(x))


class PadIm2Video(nn.Module):
    """[N, C, H, W] or [N, C, 1, H, W] -> ``frames`` repeated copies in time; [N, C, T > 1, H, W] as is."""

    def __init__(self, frames: int):
        super().__init__()
        self.frames = frames

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 4:
            x = x.unsqueeze(2)
        return x.repeat(1, 1, self.frames, 1, 1) if x.shape[2] == 1 else x


class Stem(nn.Module):
    """``PatchEmbedGeneric``: ``proj`` (a conv, or a Sequential ending in one), tokens flattened,
    then ``norm_layer`` if any."""

    def __init__(self, proj: nn.Module, norm: nn.Module | None = None):
        super().__init__()
        self.proj = proj
        self.norm_layer = norm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.proj(x).flatten(2).transpose(1, 2)
        return self.norm_layer(x) if self.norm_layer is not None else x


class PositionalEmbedding(nn.Module):
    def __init__(self, tokens: int, dim: int):
        super().__init__()
        self.pos_embed = nn.Parameter(torch.zeros(1, tokens, dim))


class Preprocessor(nn.Module):
    """``RGBDTPreprocessor`` / ``AudioPreprocessor``: CLS token + stem tokens + positions."""

    def __init__(self, stem: Stem, tokens: int, dim: int):
        super().__init__()
        self.rgbt_stem = stem
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embedding_helper = PositionalEmbedding(tokens + 1, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.rgbt_stem(x)
        x = torch.cat((self.cls_token.expand(len(x), -1, -1), x), dim=1)
        pos = self.pos_embedding_helper.pos_embed
        if x.shape[1] != pos.shape[1]:
            raise MaskvatError(f"ImageBind's positional embedding holds {pos.shape[1]} tokens, got {x.shape[1]}")
        return x + pos


class FirstToken(nn.Module):
    """``SelectElement(index=0)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, 0]


class Normalize(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(x, dim=-1)


class LogitScale(nn.Module):
    """``LearnableLogitScaling(learnable=False)``: x times min(exp(log_logit_scale), 100), the
    log scale a buffer (saved in the state dict)."""

    def __init__(self, scale: float):
        super().__init__()
        self.register_buffer("log_logit_scale", torch.tensor(math.log(scale)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.log_logit_scale.exp().clamp(max=100.0) * x


def head(dim: int, embed: int) -> nn.Sequential:
    return nn.Sequential(nn.LayerNorm(dim, eps=1e-6), FirstToken(), nn.Linear(dim, embed, bias=False))


class ImageBind(nn.Module):
    """ImageBind's vision and audio towers, in ``ImageBindModel``'s module layout (see the module
    doc). ``vision`` and ``audio`` embed one batch of clips each."""

    def __init__(self, config: ImageBindConfig = PUBLISHED):
        super().__init__()
        c = self.config = config
        kernel = (c.frames, c.patch, c.patch)
        vision_stem = Stem(nn.Sequential(PadIm2Video(c.frames),
                                         nn.Conv3d(3, c.vision_dim, kernel, stride=kernel, bias=False)))
        audio_stem = Stem(nn.Conv2d(1, c.audio_dim, c.audio_patch, stride=c.audio_stride, bias=False),
                          nn.LayerNorm(c.audio_dim))
        bands, times = c.audio_grid
        self.modality_preprocessors = nn.ModuleDict({
            "vision": Preprocessor(vision_stem, c.vision_tokens, c.vision_dim),
            "audio": Preprocessor(audio_stem, bands * times, c.audio_dim)})
        self.modality_trunks = nn.ModuleDict({
            "vision": Trunk(c.vision_dim, c.vision_heads, c.vision_depth, pre_norm=True, bias_kv=False),
            "audio": Trunk(c.audio_dim, c.audio_heads, c.audio_depth, pre_norm=False, bias_kv=True)})
        self.modality_heads = nn.ModuleDict({"vision": head(c.vision_dim, c.embed), "audio": head(c.audio_dim, c.embed)})
        self.modality_postprocessors = nn.ModuleDict({
            "vision": Normalize(), "audio": nn.Sequential(Normalize(), LogitScale(c.audio_logit_scale))})

    def _embed(self, modality: str, x: torch.Tensor) -> torch.Tensor:
        x = self.modality_trunks[modality](self.modality_preprocessors[modality](x))
        return self.modality_postprocessors[modality](self.modality_heads[modality](x))

    def vision(self, clips: torch.Tensor) -> torch.Tensor:
        """Clips [N, 3, frames, image, image] (normalised) -> unit embeddings [N, embed]."""
        c = self.config
        if clips.ndim != 5 or tuple(clips.shape[1:]) != (3, c.frames, c.image, c.image):
            raise MaskvatError(f"ImageBind's vision tower needs clips [N, 3, {c.frames}, {c.image}, {c.image}], "
                               f"got {tuple(clips.shape)}")
        return self._embed("vision", clips)

    def audio(self, spec: torch.Tensor) -> torch.Tensor:
        """Fbank clips [N, 1, mels, spec_frames] (normalised) -> embeddings [N, embed] of norm 20."""
        c = self.config
        if spec.ndim != 4 or tuple(spec.shape[1:]) != (1, c.mels, c.spec_frames):
            raise MaskvatError(f"ImageBind's audio tower needs clips [N, 1, {c.mels}, {c.spec_frames}], "
                               f"got {tuple(spec.shape)}")
        return self._embed("audio", spec)


def tower_keys(state: dict) -> dict:
    """The entries of a whole-model ImageBind state dict that belong to the vision and audio towers."""
    return {k: v for k, v in state.items()
            if k.split(".")[0].startswith("modality_") and len(k.split(".")) > 1 and k.split(".")[1] in MODALITIES}


def load_imagebind(source: str | os.PathLike, config: ImageBindConfig = PUBLISHED) -> ImageBind:
    """The published ImageBind weights -> the two towers in eval mode (``config``: the published
    one; others are for tests).

    ``source``: ``imagebind_huge.pth`` (a bare state dict of the whole model, as
    ``imagebind_huge(pretrained=True)`` loads it; a state dict under ``"model"`` is read too): a
    file, a folder holding one, or a hub id whose snapshot (local cache first) holds one. The
    other modalities' keys are ignored; every vision and audio key must be there with the
    published shape. MaskvatError (one line, naming the file) for a missing, unreadable or
    incompatible file."""
    file = published_file(source, "ImageBind checkpoint", hint="pass the path of imagebind_huge.pth")
    ckpt = load_checkpoint(file, "an ImageBind checkpoint")
    state = ckpt.get("model", ckpt) if isinstance(ckpt, dict) else ckpt
    key = "modality_trunks.vision.blocks.0.attn.in_proj_weight"
    if not isinstance(state, dict) or not isinstance(state.get(key), torch.Tensor):
        raise MaskvatError(f"{file}: not an ImageBind checkpoint (no {key})")
    with torch.device("meta"):  # no random init of 719 M weights that the file replaces, every one of them
        model = ImageBind(config)
    return load_exact(model.to_empty(device="cpu"), tower_keys(state), file, "ImageBind").eval()


# ---- front ends ---------------------------------------------------------------------------------------
def audio_clip_bounds(samples: int, sample_rate: int = SAMPLE_RATE) -> list[tuple[int, int]]:
    """[start, end) samples of the 3 clips ``ConstantClipsPerVideoSampler(2, 3)`` takes from
    ``samples`` samples (see the module doc); ``end`` may pass the end of the sound."""
    duration = Fraction(samples / sample_rate)  # a float, as the reference computes it
    step = Fraction(max(duration - CLIP_SECONDS, 0)) / AUDIO_CLIPS
    return [(int(step * k * sample_rate), int((step * k + CLIP_SECONDS) * sample_rate)) for k in range(AUDIO_CLIPS)]


def audio_clips(wav: torch.Tensor, config: ImageBindConfig = PUBLISHED) -> torch.Tensor:
    """Sound [T] at 16 kHz -> normalised fbank clips [3, 1, mels, spec_frames] (see the module doc)."""
    out = []
    for a, b in audio_clip_bounds(len(wav)):
        x = wav[a:b].to(torch.float32)
        if len(x) < 400:
            raise MaskvatError(f"ImageBind needs at least 25 ms of sound per clip, got {len(x)} samples")
        fbank = kaldi_fbank(x - x.mean(), sample_rate=SAMPLE_RATE, num_mel_bins=config.mels, window="hanning").T
        fbank = F.pad(fbank, (0, max(0, config.spec_frames - fbank.shape[1])))[:, :config.spec_frames]
        out.append((fbank - SPEC_MEAN) / SPEC_STD)
    return torch.stack(out)[:, None]


def resize_short_side(frames: torch.Tensor, size: int) -> torch.Tensor:
    """Frames [N, 3, H, W] in [0, 1] -> short side ``size`` (the long side truncated, as
    torchvision's ``Resize(size)``), bicubic with antialiasing, rounded to uint8 levels."""
    h, w = frames.shape[-2:]
    nh, nw = (size, int(size * w / h)) if h <= w else (int(size * h / w), size)
    if (nh, nw) != (h, w):
        frames = F.interpolate(frames * 255.0, size=(nh, nw), mode="bicubic", antialias=True, align_corners=False)
        frames = frames.round().clamp(0, 255) / 255.0
    return frames


def crop_offsets(height: int, width: int, size: int) -> list[tuple[int, int]]:
    """(top, left) of ``SpatialCrop(size, 3)``'s crops (``uniform_crop``, spatial_idx 0, 1, 2)."""
    top, left = math.ceil((height - size) / 2), math.ceil((width - size) / 2)
    if height > width:
        return [(0, left), (top, left), (height - size, left)]
    return [(top, 0), (top, left), (top, width - size)]


def video_clips(frames: np.ndarray | torch.Tensor, config: ImageBindConfig = PUBLISHED) -> torch.Tensor:
    """Frames [F, H, W, 3] uint8 (at 0.5 fps) -> clips [3 x (F - 1), 3, frames, image, image]:
    resized, normalised, 3 spatial crops, every ``frames`` consecutive frames a clip (see the
    module doc). MaskvatError with fewer than ``frames`` frames."""
    x = torch.as_tensor(np.asarray(frames))
    if x.ndim != 4 or x.shape[-1] != 3:
        raise MaskvatError(f"ImageBind needs frames [F, H, W, 3], got shape {tuple(x.shape)}")
    if len(x) < config.frames:
        raise MaskvatError(f"ImageBind needs at least {config.frames} frames at {FPS:g} fps, got {len(x)}")
    x = resize_short_side(x.permute(0, 3, 1, 2).float() / 255.0, config.image)
    x = (x - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)
    s = config.image
    crops = [x[..., t:t + s, l:l + s] for t, l in crop_offsets(*x.shape[-2:], s)]  # each [F, 3, s, s]
    clips = [crop[i:i + config.frames] for i in range(len(x) - config.frames + 1) for crop in crops]
    return torch.stack(clips).transpose(1, 2)  # [clips, 3, frames, s, s]


# ---- IB-score -------------------------------------------------------------------------------------------
class ImageBindScorer:
    """IB-score of sounds against reference pictures with ImageBind (see the module doc).

        scorer = ImageBindScorer.from_pretrained("imagebind_huge.pth")
        video = scorer.video_embedding(frames)     # the reference's frames at 0.5 fps (frame_times), once
        scorer.score(video, wav, 44100)            # -> cosine similarity (float)

    ``seconds``: the first seconds of each clip read (None: all)."""

    sample_rate = SAMPLE_RATE
    fps = FPS

    def __init__(self, model: ImageBind, *, seconds: float | None = SECONDS, device: str | torch.device = "cpu",
                 source: str | None = None, chunk: int = 3):
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.seconds = seconds
        self.source = source
        self.chunk = chunk

    @classmethod
    def from_pretrained(cls, source: str | os.PathLike, **kwargs) -> ImageBindScorer:
        return cls(load_imagebind(source), source=str(source), **kwargs)

    def span(self, seconds: float) -> float:
        """The seconds of a clip of ``seconds`` that IB-score reads."""
        return seconds if self.seconds is None else min(seconds, self.seconds)

    def frame_count(self, seconds: float) -> int:
        """Frames av-benchmark's picture reader gives for ``seconds`` read: int(0.5 x seconds)."""
        return int(FPS * self.span(seconds) + 1e-6)

    @staticmethod
    def frame_start(start: float) -> float:
        """Where to read the frames of a picture from ``start`` seconds (``decode_frames(path,
        0.5, start=...)``): each 2 s slot's frame is the one shown just before slot + 1 s."""
        return start + FRAME_LAG

    @torch.no_grad()
    def video_embedding(self, frames: np.ndarray) -> torch.Tensor:
        """Reference frames [F, H, W, 3] uint8 at 0.5 fps -> the mean of the clips' unit
        embeddings [embed] (on the CPU)."""
        clips = video_clips(frames, self.model.config).to(self.device)
        out = torch.cat([self.model.vision(clips[i:i + self.chunk]) for i in range(0, len(clips), self.chunk)])
        return out.mean(0).cpu()

    @torch.no_grad()
    def audio_embedding(self, wav: np.ndarray, sample_rate: int) -> torch.Tensor:
        """Sound [T] (mono, any rate) -> the mean of its three clips' embeddings [embed] (on the
        CPU): resampled to 16 kHz, the first ``seconds``."""
        x = torch.as_tensor(np.asarray(wav, np.float32))
        if x.ndim != 1:
            raise MaskvatError(f"ImageBind needs mono audio [T], got shape {tuple(x.shape)}")
        x = sinc_resample(x, int(sample_rate), SAMPLE_RATE)
        if self.seconds is not None:
            x = x[: int(round(self.seconds * SAMPLE_RATE))]
        return self.model.audio(audio_clips(x, self.model.config).to(self.device)).mean(0).cpu()

    def score(self, video: torch.Tensor, wav: np.ndarray, sample_rate: int) -> float:
        """The reference's ``video_embedding`` and a sound [T] -> IB-score (cosine similarity)."""
        return ib_score(video, self.audio_embedding(wav, sample_rate))


def ib_score(video: torch.Tensor, audio: torch.Tensor) -> float:
    """Cosine similarity of a picture's and a sound's embeddings (``torch.cosine_similarity``,
    as ``av_bench/evaluate.py``)."""
    return float(torch.cosine_similarity(video.double(), audio.double(), dim=-1))
