"""The audio tokenizer (DAC): waveform <-> codegram [B, K, L], and codes files."""

from maskvat.codec.codes_io import load_codes, save_codes
from maskvat.codec.presets import CODEC_PRESETS, DEFAULT_CODEC, CodecPreset
from maskvat.codec.tokenizer import AudioTokenizer

__all__ = ["AudioTokenizer", "CODEC_PRESETS", "CodecPreset", "DEFAULT_CODEC", "load_codes", "save_codes"]
