"""Named encoders: each name has a loader and default weights' source.

    encoder = load_encoder("clip-vit-b32")                      # hub id on a user's machine
    encoder = load_encoder("s3d-kinetics400", "s3d-d76dad2f.pth")  # torchvision's published weights
    encoder = load_encoder("s3d-sparsesync", "22-09-21T21-00-52.pt")  # the paper's sync encoder
    encoder = load_encoder("beats", "BEATs_iter3_plus_AS2M.pt")     # the paper's audio encoder
    feats = encoder.encode_frames(frames)                       # [B, N_out, encoder.config.dim]

On the command line, ``NAME=SOURCE`` names an encoder with its weights (``parse_encoder_args``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from maskvat.encoders.beats import BEATsAudioEncoder
from maskvat.encoders.clip import CLIPFrameEncoder
from maskvat.encoders.lab import (
    LogMelAudioEncoder,
    SyncFeatureEncoder,
    ThumbnailEncoder,
)
from maskvat.encoders.s3d import S3DVideoEncoder
from maskvat.encoders.semantic import SemanticAudioEncoder, SemanticFrameEncoder
from maskvat.encoders.sparsesync import SparseSyncVideoEncoder
from maskvat.errors import MaskvatError
from maskvat.weights import resolve


@dataclass(frozen=True)
class EncoderEntry:
    role: str  # "semantic" (CLIP role), "sync" (S3D role), "audio" (BEATs role), "judge"
    load: Callable  # (source) -> encoder
    default_source: str | None  # hub id or None (the user must name the weights)
    description: str
    weights: str = "the path of a state dict or saved folder"  # what to pass when there is no default


def _clip(source):
    return CLIPFrameEncoder.from_pretrained(source, name="clip-vit-b32")


def _s3d(source):
    return S3DVideoEncoder.from_pretrained(source)


def _sparsesync(source):
    return SparseSyncVideoEncoder.from_pretrained(source)


def _beats(source):
    return BEATsAudioEncoder.from_pretrained(source)


def _lab_thumbs(source):
    return ThumbnailEncoder()


def _lab_sync(source):
    return SyncFeatureEncoder.from_pretrained(resolve(source, "sync_judge"))


def _lab_semantic(source):
    return SemanticFrameEncoder.from_pretrained(source)


def _lab_audio(source):
    return SemanticAudioEncoder.from_pretrained(source)


def _lab_logmel(source):
    return LogMelAudioEncoder()


ENCODERS: dict[str, EncoderEntry] = {
    "clip-vit-b32": EncoderEntry("semantic", _clip, "openai/clip-vit-base-patch32",
                                 "CLIP ViT-B/32 image embeddings per frame, 8 fps, 512-d"),
    "s3d-kinetics400": EncoderEntry("sync", _s3d, None,
                                    "S3D (torchvision Kinetics-400 keys) pooled features, 25 fps in, 3.125/s out, 1024-d",
                                    "torchvision's Kinetics-400 S3D state dict (s3d-d76dad2f.pth) or a saved folder"),
    "s3d-sparsesync": EncoderEntry("sync", _sparsesync, None,
                                   "the paper's S3D: SparseSync's offset-tuned S3D + its 512-d bridge, pooled over "
                                   "space, 25 fps in, 3.125/s out, 512-d",
                                   "a SparseSync checkpoint .pt (its 'model' holds vfeat_extractor.* and v_bridge.*)"),
    "beats": EncoderEntry("audio", _beats, None,
                          "BEATs (microsoft/unilm) at 16 kHz, 44.1 kHz in, 6.25 time steps/s (8 frequency patches "
                          "averaged), 768-d",
                          "a BEATs checkpoint {'cfg', 'model'} such as BEATs_iter3_plus_AS2M.pt"),
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
        raise MaskvatError(f"encoder {name!r} needs weights: pass {entry.weights} (on the command line: "
                           f"{name}=PATH)")
    return entry.load(source)


ROLES = ("semantic", "sync", "audio")


def parse_encoder_args(items: list[str], option: str = "--encoders", *, need_name: bool = False,
                       need_source: bool = False) -> dict[str, tuple[str | None, str | None]]:
    """Command-line encoder choices -> {role: (name, source)}, at most one per role.

    Each item is ``NAME``, ``NAME=SOURCE`` or ``ROLE=SOURCE``: NAME an entry of ``ENCODERS`` (the
    role is its entry's), ROLE one of semantic, sync, audio (name None: whichever encoder the
    model names for it), SOURCE a hub id, folder or file of weights (None: the entry's default).
    ``need_name`` refuses ROLE=SOURCE, ``need_source`` a bare NAME. MaskvatError names the item.
    """
    out: dict[str, tuple[str | None, str | None]] = {}
    for item in items:
        key, eq, source = item.partition("=")
        if eq and not source:
            raise MaskvatError(f"{option} {item!r}: nothing after '=' (write {key}=PATH)")
        if key in ENCODERS:
            role, name = ENCODERS[key].role, key
        elif key in ROLES:
            if not eq or need_name:
                raise MaskvatError(f"{option} {item!r}: name the {key} encoder, as NAME=SOURCE "
                                   f"(names: {', '.join(n for n, e in ENCODERS.items() if e.role == key)})")
            role, name = key, None
        else:
            raise MaskvatError(f"{option} {item!r}: unknown encoder {key!r} "
                               f"(choose from {', '.join(sorted(ENCODERS))}, or a role: {', '.join(ROLES)})")
        if need_source and not eq:
            raise MaskvatError(f"{option} {item!r}: give its weights as {key}=PATH")
        if role not in ROLES:
            raise MaskvatError(f"{option} {item!r}: {key} has the {role} role, not one of {', '.join(ROLES)}")
        if role in out:
            raise MaskvatError(f"{option}: two {role} encoders ({item!r} and an earlier one)")
        out[role] = (name, source or None)
    return out
