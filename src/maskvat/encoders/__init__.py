"""Visual and audio encoders: a registry of named, swappable feature extractors."""

from maskvat.encoders.base import EncoderConfig
from maskvat.encoders.registry import ENCODERS, load_encoder

__all__ = ["ENCODERS", "EncoderConfig", "load_encoder"]
