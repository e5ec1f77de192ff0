"""Named encoders: each name has a loader and default weights' source.

    encoder = load_encoder("clip-vit-b32")                      # hub id on a user's machine
    encoder = load_encoder("s3d-kinetics400", "s3d-d76dad2f.pth")  # torchvision's published weights
    feats = encoder.encode_frames(frames)                       # [B, N_out, encoder.config.dim]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from maskvat.errors import MaskvatError
from maskvat.weights import resolve


@dataclass(frozen=True)
class EncoderEntry:
    role: str  # "semantic" (CLIP role), "sync" (S3D role), "audio" (BEATs role), "judge"
    load: Callable  # (source) -> encoder
    default_source: str | None  # hub id or None (the user must name the weights)
    description: str


def _clip(source):
    from maskvat.encoders.clip import CLIPFrameEncoder

    return CLIPFrameEncoder.from_pretrained(source, name="clip-vit-b32")


def _s3d(source):
    from maskvat.encoders.s3d import S3DVideoEncoder

    return S3DVideoEncoder.from_pretrained(source)


def _lab_thumbs(source):
    from maskvat.encoders.lab import ThumbnailEncoder

    return ThumbnailEncoder()


def _lab_sync(source):
    from maskvat.encoders.lab import SyncFeatureEncoder

    return SyncFeatureEncoder.from_pretrained(resolve(source, "sync_judge"))


def _lab_semantic(source):
    from maskvat.encoders.semantic import SemanticFrameEncoder

    return SemanticFrameEncoder.from_pretrained(source)


def _lab_audio(source):
    from maskvat.encoders.semantic import SemanticAudioEncoder

    return SemanticAudioEncoder.from_pretrained(source)


def _lab_logmel(source):
    from maskvat.encoders.lab import LogMelAudioEncoder

    return LogMelAudioEncoder()


ENCODERS: dict[str, EncoderEntry] = {
    "clip-vit-b32": EncoderEntry("semantic", _clip, "openai/clip-vit-base-patch32",
                                 "CLIP ViT-B/32 image embeddings per frame, 8 fps, 512-d"),
    "s3d-kinetics400": EncoderEntry("sync", _s3d, None,
                                    "S3D (torchvision Kinetics-400 keys) pooled features, 25 fps in, 3.125/s out, 1024-d"),
    "lab-thumbs": EncoderEntry("semantic", _lab_thumbs, "none",
                               "lab stand-in for CLIP: 16x16 RGB thumbnails per frame, 8 fps, 768-d (no weights)"),
    "lab-sync": EncoderEntry("sync", _lab_sync, "shipped",
                             "video tower of the lab sync judge (shipped), 25 fps in and out, 64-d"),
    "lab-semantic": EncoderEntry("semantic", _lab_semantic, "shipped",
                                 "frame tower of the lab semantic pair (shipped; trained contrastively against "
                                 "audio), 8 fps, 128-d"),
    "lab-audio": EncoderEntry("audio", _lab_audio, "shipped",
                              "audio tower of the lab semantic pair (shipped), 25 frames/s, 128-d; the "
                              "evaluation's BEATs and VGGish/Wav2CLIP stand-in"),
    "lab-logmel": EncoderEntry("audio", _lab_logmel, "none",
                               "lab stand-in for BEATs: 64-band log-mel averaged to 25 frames/s (no weights)"),
}


def load_encoder(name: str, source: str | None = None):
    """The encoder ``name`` with weights from ``source`` (default: the entry's own)."""
    if name not in ENCODERS:
        raise MaskvatError(f"unknown encoder {name!r} (choose from {', '.join(sorted(ENCODERS))})")
    entry = ENCODERS[name]
    source = source or entry.default_source
    if source is None:
        raise MaskvatError(f"encoder {name!r} needs weights: pass the path of a state dict or saved folder")
    return entry.load(source)
