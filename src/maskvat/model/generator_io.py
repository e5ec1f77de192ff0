"""The fields every generator family's config shares: codec, window, feature streams and encoders."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from maskvat.errors import MaskvatError


@dataclass(frozen=True)
class GeneratorIO:
    """What every generator family reads and writes, whatever its network (MaskVAT's
    ``ModelConfig``, ``maskvat.model.vaura.VAURAConfig``, ``maskvat.model.vtaldm.VTALDMConfig``):
    the codec's codegram (K levels of C codes; its latent H wide), the window, and the visual and
    audio streams with the encoders that made them. The pipeline's encoders, the cache checks and
    the SCAV checks read these fields of any family."""

    n_levels: int = 9  # K
    codebook_size: int = 1024  # C
    codec_hidden: int = 256  # width of the codec's quantised representation (H)
    max_frames: int = 345  # L: codegram frames in one window (4 s at 86.13 Hz)
    window_seconds: float = 4.0
    use_semantic: bool = True
    use_sync: bool = True
    semantic_dim: int = 128  # lab-semantic: 128 per frame (lab-thumbs: 768; CLIP ViT-B/32: 512)
    semantic_fps: float = 8.0
    sync_dim: int = 64
    sync_fps: float = 25.0
    audio_dim: int = 64  # the audio-semantic (BEATs-role) features for the auxiliary losses
    audio_fps: float = 25.0
    cond_dropout: float = 0.1
    codec: str = "lab"  # codec folder or hub id the codes came from
    semantic_encoder: str = "lab-semantic"
    sync_encoder: str = "lab-sync"
    audio_encoder: str = "lab-logmel"

    def __post_init__(self):
        if not (self.use_semantic or self.use_sync):
            raise MaskvatError("a model needs at least one visual stream (use_semantic or use_sync)")

    @property
    def mask_id(self) -> int:
        """The code value that marks a position still to sample in a codegram (one past the last code)."""
        return self.codebook_size

    def to_dict(self) -> dict:
        return asdict(self)
