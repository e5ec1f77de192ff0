"""Typed model configurations and the registry of named sizes.

A ``ModelConfig`` is saved beside every checkpoint (``config.json``) and names the codec
and the feature encoders the model was trained with, so that ``MaskVAT.from_pretrained``
can rebuild the whole pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from maskvat.config_checks import from_checked_dict
from maskvat.errors import MaskvatError
from maskvat.model.generator_io import GeneratorIO

VARIANTS = ("adaln", "seq2seq", "hybrid")


@dataclass(frozen=True)
class ModelConfig(GeneratorIO):
    """Architecture of one MaskVAT generator (the codec and feature fields: ``GeneratorIO``).

    variant: "adaln" (AdaLN blocks, conditioning per time step), "seq2seq" (visual encoder +
    cross-attention decoder) or "hybrid" (seq2seq encoder + AdaLN driven by the sync stream).
    use_semantic / use_sync pick the visual streams (AdaLN-A = semantic only).
    """

    variant: str = "adaln"
    d_model: int = 192
    n_layers: int = 4
    n_heads: int = 4
    mlp_ratio: float = 4.0
    enc_layers: int = 2  # visual transformer encoder (seq2seq / hybrid)
    dropout: float = 0.0

    def __post_init__(self):
        if self.variant not in VARIANTS:
            raise MaskvatError(f"unknown model variant {self.variant!r} (choose from {', '.join(VARIANTS)})")
        super().__post_init__()
        if self.variant == "hybrid" and not self.use_sync:
            raise MaskvatError("the hybrid variant drives its AdaLN blocks with the sync stream: use_sync must be true")
        if self.d_model % self.n_heads:
            raise MaskvatError(f"d_model {self.d_model} is not divisible by n_heads {self.n_heads}")

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        return from_checked_dict(cls, d, "model config key")


_LAB = ModelConfig()
# The paper's encoders: CLIP ViT-B/32 (512-d at 8 fps), SparseSync's S3D with its 512-d bridge
# (25 fps in, 3.125/s out: paper 3.2.1) and BEATs (768-d): 6.25 time steps/s, each the mean of
# its 8 frequency patches (16 fbank frames of 10 ms per step; "N_beats, the length of BEATs
# time-patch sequence", paper 3.2.2; see maskvat.encoders.beats for why not 50/s).
_PAPER = ModelConfig(d_model=1024, n_layers=24, n_heads=16, enc_layers=6, codec_hidden=1024, max_frames=862,
                     window_seconds=10.0, semantic_dim=512, sync_dim=512, sync_fps=3.125, audio_dim=768,
                     audio_fps=6.25, codec="descript/dac_44khz", semantic_encoder="clip-vit-b32",
                     sync_encoder="s3d-sparsesync", audio_encoder="beats")

# Tiny sizes for tests and for trying the API (``Pipeline.debug``): random weights over the tiny
# codec, windows of 40 codegram frames (0.46 s), the lab's encoders. Their sound is noise.
_DEBUG = replace(_LAB, d_model=32, n_layers=1, n_heads=4, enc_layers=1, codec="tiny", codec_hidden=64,
                 max_frames=40, window_seconds=40 * 512 / 44100)

MODEL_CONFIGS: dict[str, ModelConfig] = {
    "debug-adaln-a": replace(_DEBUG, variant="adaln", use_sync=False),
    "debug-adaln-b": replace(_DEBUG, variant="adaln"),
    "debug-seq2seq": replace(_DEBUG, variant="seq2seq"),
    "debug-hybrid": replace(_DEBUG, variant="hybrid"),
    "lab-adaln-a": replace(_LAB, variant="adaln", use_sync=False),
    "lab-adaln-b": replace(_LAB, variant="adaln"),
    "lab-seq2seq": replace(_LAB, variant="seq2seq"),
    "lab-hybrid": replace(_LAB, variant="hybrid"),
    "paper-adaln-a": replace(_PAPER, variant="adaln", use_sync=False),
    "paper-adaln-b": replace(_PAPER, variant="adaln"),
    "paper-seq2seq": replace(_PAPER, variant="seq2seq"),
    "paper-hybrid": replace(_PAPER, variant="hybrid"),
}


def model_config(name: str, **overrides) -> ModelConfig:
    """A named configuration, with fields overridden: a MaskVAT ``ModelConfig``, for the names
    of ``maskvat.model.vaura.VAURA_CONFIGS`` ("lab-vaura", ...) a ``VAURAConfig``, for those of
    ``maskvat.model.vtaldm.VTALDM_CONFIGS`` ("lab-vtaldm", ...) a ``VTALDMConfig``."""
    from maskvat.model.vaura import VAURA_CONFIGS
    from maskvat.model.vtaldm import VTALDM_CONFIGS

    for family in (VAURA_CONFIGS, VTALDM_CONFIGS):
        if name in family:
            return replace(family[name], **overrides)
    if name not in MODEL_CONFIGS:
        names = ", ".join([*MODEL_CONFIGS, *VAURA_CONFIGS, *VTALDM_CONFIGS])
        raise MaskvatError(f"unknown model config {name!r} (choose from {names})")
    return replace(MODEL_CONFIGS[name], **overrides)
